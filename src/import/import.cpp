#include "import/import.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <set>
#include <sstream>

namespace yinetd::import {
namespace {

// ---- Output ---------------------------------------------------------------

// Text safe inside a comment: one line, printable ASCII.
std::string Plain(std::string_view text) {
  std::string plain;
  for (unsigned char c : text) plain += c == '\t' ? ' ' : (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  return plain;
}

// Printable ASCII, and tabs between words.
bool IsPlain(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](unsigned char c) { return c == '\t' || (c >= 0x20 && c < 0x7f); });
}

// A YAML double-quoted scalar; values are checked IsPlain (or, for a
// banner's text, IsPlainText) first.
std::string Quote(std::string_view text) {
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '\n') {
      quoted += "\\n";
      continue;
    }
    if (c == '\r') {
      quoted += "\\r";
      continue;
    }
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "\"";
}

// Lines of plain text: IsPlain, and line ends.
bool IsPlainText(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](unsigned char c) {
    return c == '\n' || c == '\r' || c == '\t' || (c >= 0x20 && c < 0x7f);
  });
}

std::string QuoteList(const std::vector<std::string>& items) {
  std::string list = "[";
  for (size_t i = 0; i < items.size(); ++i) list += (i > 0 ? ", " : "") + Quote(items[i]);
  return list + "]";
}

// One service as it will be written.
struct Draft {
  std::string name;
  std::string origin;                // "FILE:LINE"
  std::vector<std::string> keys;     // "key: value"
  std::vector<std::string> notes;    // comments: what was not carried, and why
  std::string disabled;              // why it is written commented out; "" if not
  std::string unservable;            // why it cannot be served at all; "" if it can

  void Key(std::string_view key, std::string_view value) { keys.push_back(std::string(key) + ": " + std::string(value)); }
  void Note(std::string_view note) { notes.push_back(Plain(note)); }
};

void Render(const Draft& draft, std::string& out) {
  out += "  # " + Plain(draft.origin) + "\n";
  if (!draft.unservable.empty()) {
    out += "  # " + Plain(draft.name) + ": not imported: " + Plain(draft.unservable) + "\n";
    return;
  }
  std::string prefix = draft.disabled.empty() ? "  " : "  # ";
  if (!draft.disabled.empty()) out += "  # disabled (" + Plain(draft.disabled) + "); remove the '# ' to serve it\n";
  out += prefix + "- name: " + Quote(draft.name) + "\n";
  for (const std::string& key : draft.keys) out += prefix + "  " + key + "\n";
  for (const std::string& note : draft.notes) out += "    # " + note + "\n";
}

std::string RenderAll(const std::vector<Draft>& drafts, std::string_view from) {
  std::string out = "# yinetd config imported from " + Plain(from) + " by yinetd import.\n"
                    "# Check it with yinetd --check -c FILE; comments mark what was not carried over.\n"
                    "services:\n";
  bool any = false;
  for (const Draft& draft : drafts) {
    Render(draft, out);
    any = any || (draft.disabled.empty() && draft.unservable.empty());
  }
  // A config with no service is refused; say so rather than write `[]`.
  if (!any) out += "  # nothing to serve: every service above is disabled or could not be imported\n";
  return out;
}

// Unique, valid service names: tcp and udp entries of one inetd service
// share a name there.
class Names {
 public:
  std::string Claim(std::string_view wanted, std::string_view protocol) {
    std::string name;
    for (char c : wanted) name += (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-') ? c : '_';
    if (name.empty()) name = "service";
    if (used_.insert(name).second) return name;
    std::string with_protocol = name + "-" + std::string(protocol);
    if (used_.insert(with_protocol).second) return with_protocol;
    for (int i = 2;; ++i) {
      std::string numbered = with_protocol + "-" + std::to_string(i);
      if (used_.insert(numbered).second) return numbered;
    }
  }

 private:
  std::set<std::string> used_;
};

std::vector<std::string> Words(std::string_view text) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\t') ++i;
    if (i > start) words.emplace_back(text.substr(start, i - start));
  }
  return words;
}

std::optional<long> Number(std::string_view text) {
  long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string Basename(std::string_view path) {
  size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

bool IsBuiltin(std::string_view name) {
  return name == "echo" || name == "discard" || name == "chargen" || name == "daytime" || name == "time";
}

// The listen address for `port`, optionally bound to `host`.
std::string ListenOn(const std::string& host, uint16_t port) {
  if (host.empty() || host == "*") return std::to_string(port);
  if (host.find(':') != std::string::npos) return Quote("[" + host + "]:" + std::to_string(port));
  return Quote(host + ":" + std::to_string(port));
}

// Sets protocol and mode; notes what mode cannot be kept.
void Protocol(Draft& draft, bool udp, bool wait) {
  draft.Key("protocol", udp ? "udp" : "tcp");
  if (udp) {
    draft.Key("mode", "wait");
    if (!wait) draft.Note("wait = no over UDP: yinetd serves datagrams in mode wait only (one program at a time)");
  } else if (wait) {
    draft.Key("mode", "wait");
  }
}

// ---- inetd.conf -----------------------------------------------------------

void FromInetdLine(const std::vector<std::string>& fields, Draft& draft, Names& names, const PortLookup& ports) {
  // service socket-type protocol wait[.max] user[.group] program args...
  std::string service = fields[0], host;
  if (size_t colon = service.rfind(':'); colon != std::string::npos) {
    host = service.substr(0, colon);  // OpenBSD/FreeBSD: address:service
    service = service.substr(colon + 1);
  }
  const std::string& socket_type = fields[1];
  std::string protocol = fields[2];
  draft.name = names.Claim(service, protocol);
  if (protocol.rfind("rpc/", 0) == 0) {
    draft.unservable = "RPC services need portmap registration, which yinetd does not do";
    return;
  }
  bool v6 = protocol.size() > 3 && protocol.back() == '6';
  bool v4 = protocol.size() > 3 && protocol.back() == '4';
  std::string base = protocol.substr(0, 3);
  if ((base != "tcp" && base != "udp") || (protocol.size() > 3 && !v4 && !v6 && protocol.substr(3) != "46")) {
    draft.unservable = "protocol " + protocol + ": yinetd serves tcp and udp";
    return;
  }
  bool udp = base == "udp";
  if ((socket_type == "stream") == udp || (socket_type != "stream" && socket_type != "dgram")) {
    draft.unservable = "socket type " + socket_type + " with " + protocol + ": yinetd serves stream/tcp and dgram/udp";
    return;
  }
  if (fields[5] == "internal" && !IsBuiltin(service)) {
    draft.unservable = "internal service '" + service + "': yinetd's builtins are echo, discard, chargen, daytime, time";
    return;
  }
  std::optional<uint16_t> port;
  if (auto number = Number(service); number && *number > 0 && *number < 65536) port = static_cast<uint16_t>(*number);
  if (!port) port = ports(service, base);
  if (!port) {
    draft.unservable = "no port for service '" + service + "' in /etc/services: add it, or write listen: PORT";
    return;
  }
  if (v6 && host.empty()) host = "::";
  if (v4 && host.empty()) host = "0.0.0.0";
  draft.Key("listen", ListenOn(host, *port));
  std::vector<std::string> wait_parts;
  std::string wait = fields[3];
  std::string max;
  if (size_t cut = wait.find_first_of("./"); cut != std::string::npos) {
    max = wait.substr(cut + 1);
    wait = wait.substr(0, cut);
  }
  const std::string& program = fields[5];
  std::vector<std::string> args(fields.begin() + 6, fields.end());
  if (program == "internal") {
    draft.Key("builtin", service);
    if (udp) draft.Key("protocol", "udp");
    if (!max.empty()) draft.Note("wait/nowait." + max + ": builtins need no rate limit here; add max_rate if wanted");
    return;
  }
  if (program.empty() || program[0] != '/') {
    draft.unservable = "program '" + program + "' is not an absolute path";
    return;
  }
  draft.Key("program", Quote(program));
  // inetd's first argument is argv[0].
  if (!args.empty()) {
    if (args[0] != Basename(program)) draft.Key("argv0", Quote(args[0]));
    args.erase(args.begin());
  }
  if (!args.empty()) draft.Key("args", QuoteList(args));
  Protocol(draft, udp, wait == "wait");
  if (wait != "wait" && wait != "nowait") draft.Note("wait field '" + fields[3] + "' is neither wait nor nowait: nowait assumed");
  if (!max.empty()) {
    if (auto per_minute = Number(max); per_minute && *per_minute > 0 && !udp && wait != "wait") {
      // netkit inetd: at most N starts a minute; yinetd refuses only the excess.
      draft.Key("max_rate", std::to_string(static_cast<double>(*per_minute) / 60.0));
      draft.Note("nowait." + max + " (starts a minute) became max_rate in starts a second");
    } else {
      draft.Note("." + max + " after wait/nowait: not carried (yinetd counts wait-mode programs itself)");
    }
  }
  std::string user = fields[4], group;
  if (size_t cut = user.find_first_of(".:"); cut != std::string::npos) {
    group = user.substr(cut + 1);
    user = user.substr(0, cut);
  }
  if (!user.empty()) draft.Key("user", Quote(user));
  if (!group.empty()) draft.Key("group", Quote(group));
  if (Basename(program) == "tcpd") {
    draft.Note("tcpd: hosts.allow/hosts.deny are not read by yinetd; write allow/deny here instead");
  }
}

// ---- xinetd ---------------------------------------------------------------

struct Attribute {
  std::string op;  // "=", "+=", "-="
  std::vector<std::string> values;
};

struct Section {
  std::string kind;  // "service" or "defaults"
  std::string name;
  std::string origin;
  std::vector<std::pair<std::string, Attribute>> attributes;
};

std::vector<Section> ParseSections(const SourceFile& file, std::vector<std::string>& errors) {
  std::vector<Section> sections;
  std::istringstream in(file.text);
  std::string line;
  int number = 0;
  Section* open = nullptr;
  bool expect_brace = false;
  while (std::getline(in, line)) {
    ++number;
    if (size_t hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    std::vector<std::string> words = Words(line);
    if (words.empty()) continue;
    std::string where = file.name + ":" + std::to_string(number);
    if (expect_brace) {
      expect_brace = false;
      if (words[0] == "{") continue;
      errors.push_back(where + ": expected '{'");
      open = nullptr;
    }
    if (open == nullptr) {
      if (words[0] == "service" && words.size() >= 2) {
        sections.push_back(Section{"service", words[1], where, {}});
      } else if (words[0] == "defaults") {
        sections.push_back(Section{"defaults", "", where, {}});
      } else if (words[0] == "includedir" || words[0] == "include") {
        continue;  // followed by the caller
      } else {
        errors.push_back(where + ": expected 'service NAME', 'defaults' or 'includedir'");
        continue;
      }
      open = &sections.back();
      bool brace_here = words.back() == "{";
      expect_brace = !brace_here;
      continue;
    }
    if (words[0] == "}") {
      open = nullptr;
      continue;
    }
    // name op values...: the operator may touch its neighbours ("port=80").
    std::string joined = line;
    size_t op_at = joined.find('=');
    if (op_at == std::string::npos) {
      errors.push_back(where + ": expected 'attribute = value'");
      continue;
    }
    size_t name_end = op_at;
    std::string op = "=";
    if (op_at > 0 && (joined[op_at - 1] == '+' || joined[op_at - 1] == '-')) {
      op = std::string(1, joined[op_at - 1]) + "=";
      name_end = op_at - 1;
    }
    std::vector<std::string> name = Words(std::string_view(joined).substr(0, name_end));
    if (name.size() != 1) {
      errors.push_back(where + ": expected one attribute name before '='");
      continue;
    }
    open->attributes.push_back({name[0], Attribute{op, Words(std::string_view(joined).substr(op_at + 1))}});
  }
  if (open != nullptr) errors.push_back(file.name + ": a section is not closed with '}'");
  return sections;
}

using Attributes = std::map<std::string, std::vector<std::string>>;

// `+=` adds to what defaults gave, `-=` takes away, `=` replaces.
void Merge(Attributes& into, const std::vector<std::pair<std::string, Attribute>>& attributes) {
  for (const auto& [name, attribute] : attributes) {
    std::vector<std::string>& values = into[name];
    if (attribute.op == "=") {
      values = attribute.values;
    } else if (attribute.op == "+=") {
      values.insert(values.end(), attribute.values.begin(), attribute.values.end());
    } else {
      for (const std::string& gone : attribute.values) values.erase(std::remove(values.begin(), values.end(), gone), values.end());
    }
  }
}

std::string Joined(const std::vector<std::string>& values) {
  std::string text;
  for (const std::string& value : values) text += (text.empty() ? "" : " ") + value;
  return text;
}

// xinetd.conf(5): the rightmost components of a numeric IPv4 address that
// are 0 are wildcards, so 128.138.12.0 is 128.138.12.0/24.
std::string WildcardNetwork(const std::string& address) {
  if (std::count(address.begin(), address.end(), '.') != 3) return address;
  std::string_view rest = address;
  int zeros = 0;
  while (zeros < 3 && rest.size() >= 2 && rest.substr(rest.size() - 2) == ".0") {
    rest.remove_suffix(2);
    ++zeros;
  }
  return zeros == 0 ? address : address + "/" + std::to_string(32 - 8 * zeros);
}

// xinetd's address forms → CIDRs: "10.0.0.0/8", "192.168.1." (a prefix),
// "128.138.12.0" (trailing zeros are wildcards), "0.0.0.0" (everyone); a
// host name cannot be a CIDR.
std::optional<std::string> Cidr(const std::string& item) {
  if (item == "0.0.0.0" || item == "0.0.0.0/0") return "0.0.0.0/0";
  if (item == "::/0") return item;
  if (item.find('/') != std::string::npos) return item;
  if (item.find(':') != std::string::npos) return item;
  if (!item.empty() && item.back() == '.') {
    int dots = static_cast<int>(std::count(item.begin(), item.end(), '.'));
    std::string network = item;
    for (int i = dots; i < 4; ++i) network += i + 1 < 4 ? "0." : "0";
    return network + "/" + std::to_string(8 * dots);
  }
  if (std::all_of(item.begin(), item.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) || c == '.'; })) {
    return WildcardNetwork(item);
  }
  return std::nullopt;
}

// xinetd's factorized form, 192.168.1.{7,9}: one address per number. Only
// whole addresses (four components) are expanded; anything else is kept as
// it is, and so is not carried.
std::vector<std::string> Unfactorized(const std::vector<std::string>& values) {
  std::vector<std::string> expanded;
  for (const std::string& value : values) {
    size_t open = value.find('{');
    bool whole = open != std::string::npos && value.back() == '}' && open > 0 && value[open - 1] == '.' &&
                 std::count(value.begin(), value.begin() + static_cast<long>(open), '.') == 3;
    if (!whole) {
      expanded.push_back(value);
      continue;
    }
    std::istringstream numbers(value.substr(open + 1, value.size() - open - 2));
    size_t before = expanded.size();
    for (std::string number; std::getline(numbers, number, ',');) expanded.push_back(value.substr(0, open) + number);
    if (expanded.size() == before) expanded.push_back(value);  // "{}": not carried, and noted
  }
  return expanded;
}

void AccessKey(Draft& draft, const char* key, const char* attribute, const std::vector<std::string>& values) {
  std::vector<std::string> cidrs, hosts;
  for (const std::string& value : Unfactorized(values)) {
    if (auto cidr = Cidr(value)) {
      cidrs.push_back(*cidr);
      if (*cidr == "0.0.0.0/0") cidrs.push_back("::/0");
    } else {
      hosts.push_back(value);
    }
  }
  if (!cidrs.empty()) draft.Key(key, QuoteList(cidrs));
  if (!hosts.empty()) {
    draft.Note(std::string(attribute) + ": host names " + Joined(hosts) + " not carried: " + key + " takes addresses and CIDRs");
  }
  if (values.empty() && std::string(key) == "allow") {
    draft.Key("allow", "[\"127.0.0.1/32\"]");
    draft.Note("only_from with no value lets nobody in; allow 127.0.0.1 stands in: edit it");
  }
}

const std::map<std::string, std::string>& RlimitNames() {
  static const std::map<std::string, std::string> names = {
      {"rlimit_as", "as"}, {"rlimit_cpu", "cpu"}, {"rlimit_files", "nofile"}, {"rlimit_core", "core"}};
  return names;
}

std::optional<std::string> LimitValue(const std::string& value) {
  if (value == "UNLIMITED" || value == "unlimited") return "unlimited";
  std::string digits = value;
  char suffix = 0;
  if (!digits.empty() && (digits.back() == 'K' || digits.back() == 'M' || digits.back() == 'k' || digits.back() == 'm')) {
    suffix = static_cast<char>(std::toupper(static_cast<unsigned char>(digits.back())));
    digits.pop_back();
  }
  if (!Number(digits) || *Number(digits) < 0) return std::nullopt;
  return suffix ? digits + suffix : digits;
}

// Attributes that need no key in yinetd, and why.
const std::map<std::string, std::string>& Dropped() {
  static const std::map<std::string, std::string> dropped = {
      {"log_type", "yinetd logs every accept, exit and refusal itself (log: in the main file)"},
      {"log_on_success", "yinetd's accept and exit lines carry the peer, pid, status and duration"},
      {"log_on_failure", "yinetd's refuse lines carry the peer and reason"},
      {"type", ""},
      {"id", ""},
      {"disable", ""},
      {"flags", ""},
      {"groups", "the user's groups are always set (initgroups)"},
      {"mdns", "yinetd does not announce services"},
      {"access_times", "yinetd has no time-of-day access rule"},
      {"max_load", "yinetd has no load-average limit"},
      {"deny_time", "yinetd has no ban time; max_rate_per_source refuses the excess"},
      {"redirect", "yinetd does not forward connections; run a program that does"},
      {"banner", "yinetd writes no banner; refuse_message is written to refused clients"},
      {"banner_success", "yinetd writes no banner on success"},
      {"libwrap", "yinetd does not read hosts.allow/hosts.deny: use allow/deny"},
      {"rpc_version", "RPC is not served"},
      {"rpc_number", "RPC is not served"},
      {"protocol", ""},
      {"socket_type", ""},
      {"wait", ""},
      {"user", ""},
      {"group", ""},
      {"server", ""},
      {"server_args", ""},
      {"port", ""},
      {"bind", ""},
      {"interface", ""},
      {"only_from", ""},
      {"no_access", ""},
      {"instances", ""},
      {"per_source", ""},
      {"cps", ""},
      {"env", ""},
      {"passenv", ""},
      {"banner_fail", ""},
      {"nice", ""},
      {"umask", ""},
  };
  return dropped;
}

std::string First(const Attributes& attributes, const std::string& name) {
  auto it = attributes.find(name);
  return it == attributes.end() || it->second.empty() ? "" : it->second[0];
}

bool Has(const Attributes& attributes, const std::string& name) { return attributes.count(name) != 0; }

// xinetd writes the banner_fail file to a client it denies (by address or
// by a limit); yinetd writes refuse_message to every refused client, so the
// file's text, read now, becomes refuse_message. It is sent in one
// non-blocking send to a fresh socket, hence the bound on its size.
void BannerFail(Draft& draft, const std::string& path, const TextLookup& banners) {
  constexpr size_t kMaxBanner = 1024;
  std::string attribute = "banner_fail = " + path + ": ";
  std::string why = "no file reader";
  std::optional<std::string> text = banners ? banners(path, why) : std::nullopt;
  std::string copy = "; refuse_message takes the text itself: copy it there";
  if (!text) {
    draft.Note(attribute + "not carried: the file could not be read here (" + why + ")" + copy);
  } else if (text->empty()) {
    draft.Note(attribute + "not carried: the file is empty");
  } else if (!IsPlainText(*text)) {
    draft.Note(attribute + "not carried: the file is not plain ASCII text" + copy);
  } else if (text->size() > kMaxBanner) {
    draft.Note(attribute + "not carried: the file has over " + std::to_string(kMaxBanner) +
               " bytes, more than yinetd sends to a refused client");
  } else {
    draft.Key("refuse_message", Quote(*text));
    draft.Note(attribute + "its text as read at import is refuse_message, written to every refused client "
               "(denied, or over a limit or rate); edit refuse_message when the file changes");
  }
}

void FromXinetdService(const Section& section, const Attributes& attributes, const std::set<std::string>& disabled,
                       Draft& draft, Names& names, const PortLookup& ports, const TextLookup& banners) {
  std::vector<std::string> flags = attributes.count("flags") ? attributes.at("flags") : std::vector<std::string>{};
  auto flag = [&](const char* name) { return std::find(flags.begin(), flags.end(), name) != flags.end(); };
  std::string socket_type = First(attributes, "socket_type");
  std::string protocol = First(attributes, "protocol");
  std::vector<std::string> types = attributes.count("type") ? attributes.at("type") : std::vector<std::string>{};
  auto typed = [&](const char* name) { return std::find(types.begin(), types.end(), name) != types.end(); };
  bool udp = protocol == "udp" || (protocol.empty() && socket_type == "dgram");
  std::string id = First(attributes, "id");
  draft.name = names.Claim(id.empty() ? section.name : id, udp ? "udp" : "tcp");
  if (typed("RPC")) {
    draft.unservable = "RPC services need portmap registration, which yinetd does not do";
    return;
  }
  if (!protocol.empty() && protocol != "tcp" && protocol != "udp") {
    draft.unservable = "protocol " + protocol + ": yinetd serves tcp and udp";
    return;
  }
  if (socket_type != "stream" && socket_type != "dgram") {
    draft.unservable = "socket_type " + (socket_type.empty() ? std::string("missing") : socket_type) +
                       ": yinetd serves stream (tcp) and dgram (udp)";
    return;
  }
  if ((socket_type == "dgram") != udp) {
    draft.unservable = "socket_type " + socket_type + " with protocol " + protocol + " does not fit";
    return;
  }
  std::optional<uint16_t> port;
  if (auto number = Number(First(attributes, "port")); number && *number > 0 && *number < 65536) {
    port = static_cast<uint16_t>(*number);
  }
  if (!port && !typed("UNLISTED")) port = ports(section.name, udp ? "udp" : "tcp");
  if (!port) {
    draft.unservable = "no port: give 'port' (or add '" + section.name + "' to /etc/services)";
    return;
  }
  std::string host = First(attributes, "bind");
  if (host.empty()) host = First(attributes, "interface");
  if (host.empty() && flag("IPv4")) host = "0.0.0.0";
  if (host.empty() && flag("IPv6")) host = "::";
  draft.Key("listen", ListenOn(host, *port));
  if (typed("INTERNAL")) {
    if (!IsBuiltin(section.name)) {
      draft.unservable = "internal service '" + section.name + "': yinetd's builtins are echo, discard, chargen, daytime, time";
      return;
    }
    draft.Key("builtin", section.name);
    if (udp) draft.Key("protocol", "udp");
  } else {
    std::string server = First(attributes, "server");
    if (server.empty() || server[0] != '/') {
      draft.unservable = "server '" + server + "' is not an absolute path";
      return;
    }
    draft.Key("program", Quote(server));
    std::vector<std::string> args = attributes.count("server_args") ? attributes.at("server_args") : std::vector<std::string>{};
    if (flag("NAMEINARGS") && !args.empty()) {
      // The first of server_args is argv[0] (tcpd-style).
      draft.Key("argv0", Quote(args[0]));
      args.erase(args.begin());
    }
    if (!args.empty()) draft.Key("args", QuoteList(args));
    Protocol(draft, udp, First(attributes, "wait") == "yes");
  }
  if (Has(attributes, "user")) draft.Key("user", Quote(First(attributes, "user")));
  if (Has(attributes, "group")) draft.Key("group", Quote(First(attributes, "group")));
  bool wait = udp || First(attributes, "wait") == "yes";
  auto admission = [&](const char* attribute, auto&& carry) {
    if (!Has(attributes, attribute)) return;
    if (wait) {
      draft.Note(std::string(attribute) + " = " + Joined(attributes.at(attribute)) +
                 ": not carried: in mode wait the program meets its clients itself");
      return;
    }
    carry();
  };
  admission("only_from", [&] { AccessKey(draft, "allow", "only_from", attributes.at("only_from")); });
  admission("no_access", [&] { AccessKey(draft, "deny", "no_access", attributes.at("no_access")); });
  admission("instances", [&] {
    std::string value = First(attributes, "instances");
    if (auto n = Number(value); n && *n > 0) draft.Key("max_connections", std::to_string(*n));
    else if (value != "UNLIMITED") draft.Note("instances = " + value + ": not a number");
  });
  admission("per_source", [&] {
    std::string value = First(attributes, "per_source");
    if (auto n = Number(value); n && *n > 0) draft.Key("max_per_source", std::to_string(*n));
    else if (value != "UNLIMITED") draft.Note("per_source = " + value + ": not a number");
  });
  admission("cps", [&] {
    std::string rate = First(attributes, "cps");
    if (auto n = Number(rate); n && *n > 0) {
      draft.Key("max_rate", std::to_string(*n));
      draft.Note("cps = " + Joined(attributes.at("cps")) +
                 ": xinetd stops the service for the given seconds; yinetd's max_rate refuses only the excess");
    } else {
      draft.Note("cps = " + Joined(attributes.at("cps")) + ": not a rate");
    }
  });
  admission("banner_fail", [&] { BannerFail(draft, First(attributes, "banner_fail"), banners); });
  std::vector<std::string> env;
  if (Has(attributes, "env")) {
    for (const std::string& item : attributes.at("env")) {
      size_t equals = item.find('=');
      std::string name = item.substr(0, equals);
      bool valid = equals != std::string::npos && !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0])) &&
                   std::all_of(name.begin(), name.end(), [](unsigned char c) { return std::isalnum(c) || c == '_'; });
      if (valid) env.push_back(Quote(name) + ": " + Quote(item.substr(equals + 1)));
      else draft.Note("env item '" + item + "' is not NAME=value");
    }
  }
  if (!env.empty()) {
    std::string map = "{";
    for (size_t i = 0; i < env.size(); ++i) map += (i > 0 ? ", " : "") + env[i];
    draft.Key("env", map + "}");
  }
  if (Has(attributes, "passenv")) {
    draft.Note("passenv = " + Joined(attributes.at("passenv")) +
               ": yinetd passes its whole environment (unless clear_env: true); name values in env to be sure");
  }
  if (Has(attributes, "nice")) {
    if (auto n = Number(First(attributes, "nice")); n && *n >= -20 && *n <= 19) draft.Key("nice", std::to_string(*n));
    else draft.Note("nice = " + First(attributes, "nice") + ": not from -20 to 19");
  }
  if (Has(attributes, "umask")) draft.Key("umask", Quote(First(attributes, "umask")));
  std::vector<std::string> limits;
  for (const auto& [name, values] : attributes) {
    if (name.rfind("rlimit_", 0) != 0) continue;
    auto known = RlimitNames().find(name);
    std::optional<std::string> value = values.empty() ? std::nullopt : LimitValue(values[0]);
    if (known == RlimitNames().end()) {
      draft.Note(name + ": not carried: yinetd's rlimits are nofile, nproc, as, cpu, core, fsize");
    } else if (!value) {
      draft.Note(name + " = " + Joined(values) + ": not a limit yinetd reads");
    } else {
      limits.push_back(known->second + ": " + *value);
    }
  }
  if (!limits.empty()) {
    std::string map = "{";
    for (size_t i = 0; i < limits.size(); ++i) map += (i > 0 ? ", " : "") + limits[i];
    draft.Key("rlimits", map + "}");
  }
  if (flag("KEEPALIVE")) draft.Key("keepalive", "true");
  if (flag("NODELAY")) draft.Key("nodelay", "true");
  for (const std::string& other : flags) {
    if (other != "KEEPALIVE" && other != "NODELAY" && other != "NAMEINARGS" && other != "IPv4" && other != "IPv6") {
      draft.Note("flags " + other + ": not carried (" +
                 (other == "REUSE" ? std::string("yinetd always sets SO_REUSEADDR") : std::string("no yinetd equivalent")) + ")");
    }
  }
  for (const auto& [name, values] : attributes) {
    if (name.rfind("rlimit_", 0) == 0) continue;
    auto dropped = Dropped().find(name);
    if (dropped == Dropped().end()) {
      draft.Note(name + " = " + Joined(values) + ": not carried: an attribute yinetd does not know");
    } else if (!dropped->second.empty()) {
      draft.Note(name + ": not carried: " + dropped->second);
    }
  }
  if (First(attributes, "disable") == "yes") draft.disabled = "disable = yes";
  if (disabled.count(section.name) || (!id.empty() && disabled.count(id))) draft.disabled = "in defaults' disabled list";
}

bool IsPlainSection(const Section& section) {
  if (!IsPlain(section.name)) return false;
  for (const auto& [name, attribute] : section.attributes) {
    if (!IsPlain(name)) return false;
    for (const std::string& value : attribute.values) {
      if (!IsPlain(value)) return false;
    }
  }
  return true;
}

}  // namespace

bool LooksLikeXinetd(std::string_view text) {
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> words = Words(line);
    if (words.empty() || words[0][0] == '#') continue;
    return words[0] == "service" || words[0] == "defaults" || words[0] == "includedir" || words[0] == "{";
  }
  return false;
}

std::vector<std::string> IncludeDirs(std::string_view text) {
  std::vector<std::string> dirs;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> words = Words(line);
    if (words.size() == 2 && words[0] == "includedir") dirs.push_back(words[1]);
  }
  return dirs;
}

bool XinetdReadsFile(std::string_view name) {
  return !name.empty() && name.find('.') == std::string_view::npos && name.back() != '~';
}

std::string FromInetd(const SourceFile& file, const PortLookup& ports) {
  std::vector<Draft> drafts;
  Names names;
  std::istringstream in(file.text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::vector<std::string> fields = Words(line);
    if (fields.empty() || fields[0][0] == '#') continue;
    Draft draft;
    draft.origin = file.name + ":" + std::to_string(number) + ": " + line;
    if (!IsPlain(line)) {
      draft.name = "line" + std::to_string(number);
      draft.unservable = "the line is not plain text";
    } else if (fields.size() < 6) {
      draft.name = names.Claim(fields[0], "tcp");
      draft.unservable = "an inetd.conf line has at least 6 fields: service, socket type, protocol, wait, user, program";
    } else {
      FromInetdLine(fields, draft, names, ports);
    }
    drafts.push_back(std::move(draft));
  }
  return RenderAll(drafts, file.name);
}

std::string FromXinetd(const std::vector<SourceFile>& files, const PortLookup& ports, const TextLookup& banners) {
  std::vector<Draft> drafts;
  std::vector<std::string> errors;
  Names names;
  Attributes defaults;
  std::set<std::string> disabled;
  std::string from;
  for (const SourceFile& file : files) {
    from += (from.empty() ? "" : ", ") + file.name;
    for (const Section& section : ParseSections(file, errors)) {
      if (section.kind == "defaults") {
        Merge(defaults, section.attributes);
        for (const auto& [name, attribute] : section.attributes) {
          if (name == "disabled") disabled.insert(attribute.values.begin(), attribute.values.end());
        }
        continue;
      }
      Draft draft;
      draft.origin = section.origin + ": service " + section.name;
      if (!IsPlainSection(section)) {
        draft.name = names.Claim(section.name, "tcp");
        draft.unservable = "the section is not plain text";
      } else {
        Attributes attributes;
        for (const auto& [name, values] : defaults) {
          if (name != "disabled" && name != "enabled") attributes[name] = values;
        }
        Merge(attributes, section.attributes);
        FromXinetdService(section, attributes, disabled, draft, names, ports, banners);
      }
      drafts.push_back(std::move(draft));
    }
  }
  std::string out = RenderAll(drafts, from);
  for (const std::string& error : errors) out += "# skipped: " + Plain(error) + "\n";
  return out;
}

}  // namespace yinetd::import
