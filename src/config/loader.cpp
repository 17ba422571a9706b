#include "config/loader.h"

#include <yaml-cpp/yaml.h>

#include <sys/resource.h>

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <tuple>

#include "builtin/builtin.h"
#include "config/program_access.h"
#include "config/sandbox_keys.h"
#include "config/yaml_tree.h"
#include "sys/sys_error.h"

namespace yinetd::config {
namespace {

// A value node and the file it came from.
struct Field {
  yaml::Node node;
  const std::string* file;
};

// A service's keys after `defaults:` were merged in; sorted by key name.
using Fields = std::map<std::string, Field>;

std::string Describe(const yaml::Node& node) {
  switch (node.Type()) {
    case yaml::NodeType::kNull: return "nothing";
    case yaml::NodeType::kScalar: return "'" + node.Scalar() + "'";
    case yaml::NodeType::kSequence: return "a list";
    case yaml::NodeType::kMap: return "a map";
    default: return "an undefined value";
  }
}

bool IsValidServiceName(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '.' || c == '-';
  });
}

bool IsValidEnvName(const std::string& name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(),
                     [](unsigned char c) { return std::isalnum(c) || c == '_'; });
}

// The first line indented with a tab, if any: YAML forbids tabs there, and
// yaml-cpp's own words for it ("illegal block entry") do not say so.
std::optional<Problem> TabIndentation(const std::string& text, const std::string& file_name) {
  int line = 1;
  for (size_t start = 0; start < text.size(); ++line) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    size_t indent_end = text.find_first_not_of(" \t", start);
    size_t tab = text.find('\t', start);
    if (tab < end && tab < indent_end) {
      return Problem{Location{file_name, line, static_cast<int>(tab - start) + 1},
                     "this line is indented with a tab: YAML indents with spaces only; replace the tab with spaces"};
    }
    start = end + 1;
  }
  return std::nullopt;
}

std::string DirectoryOf(const std::string& file) {
  size_t slash = file.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return file.substr(0, slash);
}

// The values a duration key accepts. Bounded so that every deadline
// (now + value, in the steady clock's nanoseconds) and every poll timeout
// (milliseconds in an int, at most about 24 days) stays far from wrapping.
struct DurationRange {
  double min_seconds;
  double max_seconds;
  std::string_view max_words;  // the maximum for people, "" if plain seconds say it
  std::string_view hint;       // what to do instead, "" for nothing
};

constexpr DurationRange kTimeoutRange{0.001, 7 * 24 * 3600, "7 days", "leave it out for no limit"};
constexpr DurationRange kKillGraceRange{0, 3600, "1 hour", ""};
constexpr DurationRange kShutdownGraceRange{0, 3600, "1 hour", ""};
// A header awaited holds a descriptor: the wait is short.
constexpr DurationRange kProxyTimeoutRange{0.001, 60, "", ""};
constexpr DurationRange kHandshakeTimeoutRange{0.001, 3600, "1 hour", ""};

// A number as short as it can be written: 0.001, 604800.
std::string ShortNumber(double value) {
  std::ostringstream text;
  text << value;
  return text.str();
}

class Loader;
using KeyParser = void (Loader::*)(const Field&, ServiceConfig&);

struct ServiceKey {
  std::string_view name;
  KeyParser parse;
  bool allowed_in_defaults;
};

const std::vector<std::string_view> kTopLevelKeys = {"log", "defaults", "services", "shutdown_grace",
                                                     "max_children", "include", "watch",
                                                     "dynamic_users", "control"};
const std::vector<std::string_view> kLogKeys = {"level", "target"};

class Loader {
 public:
  Loader(Host& host, std::string main_file) : host_(host), main_file_(std::move(main_file)) {}

  LoadResult Load(const yaml::Node& root);

  // Key parsers, one per row of ServiceKeys().
  void ParseName(const Field& field, ServiceConfig& service);
  void ParseListen(const Field& field, ServiceConfig& service);
  void ParseProgram(const Field& field, ServiceConfig& service);
  void ParseArgs(const Field& field, ServiceConfig& service);
  void ParseEnv(const Field& field, ServiceConfig& service);
  void ParseUser(const Field&, ServiceConfig&) {}   // resolved with `group` in ResolveCredentials
  void ParseGroup(const Field&, ServiceConfig&) {}
  void ParseStderr(const Field& field, ServiceConfig& service);
  void ParseBuiltin(const Field& field, ServiceConfig& service);
  void ParseChroot(const Field& field, ServiceConfig& service);
  void ParseChdir(const Field& field, ServiceConfig& service);
  void ParseUmask(const Field& field, ServiceConfig& service);
  void ParseNice(const Field& field, ServiceConfig& service);
  void ParseRlimits(const Field& field, ServiceConfig& service);
  void ParseNoNewPrivs(const Field& field, ServiceConfig& service);
  void ParseArgv0(const Field& field, ServiceConfig& service);
  void ParseClearEnv(const Field& field, ServiceConfig& service);
  void ParseProtocol(const Field& field, ServiceConfig& service);
  void ParseMode(const Field& field, ServiceConfig& service);
  void ParseBacklog(const Field& field, ServiceConfig& service);
  void ParseIpv6Only(const Field& field, ServiceConfig& service);
  void ParseKeepalive(const Field& field, ServiceConfig& service);
  void ParseNodelay(const Field& field, ServiceConfig& service);
  void ParseReuseport(const Field& field, ServiceConfig& service);
  void ParseFreebind(const Field& field, ServiceConfig& service);
  void ParseBindInterface(const Field& field, ServiceConfig& service);
  void ParseSocketMode(const Field& field, ServiceConfig& service);
  void ParseSocketOwner(const Field& field, ServiceConfig& service);
  void ParseSocketGroup(const Field& field, ServiceConfig& service);
  void ParseMaxConnections(const Field& field, ServiceConfig& service);
  void ParseMaxPerSource(const Field& field, ServiceConfig& service);
  void ParseMaxRate(const Field& field, ServiceConfig& service);
  void ParseMaxRatePerSource(const Field& field, ServiceConfig& service);
  void ParseSourcePrefixV4(const Field& field, ServiceConfig& service);
  void ParseSourcePrefixV6(const Field& field, ServiceConfig& service);
  void ParseOverflow(const Field& field, ServiceConfig& service);
  void ParseAllow(const Field& field, ServiceConfig& service);
  void ParseDeny(const Field& field, ServiceConfig& service);
  void ParseRefuseMessage(const Field& field, ServiceConfig& service);
  void ParseTimeout(const Field& field, ServiceConfig& service);
  void ParseKillGrace(const Field& field, ServiceConfig& service);
  void ParseSandboxKey(const Field& field, ServiceConfig& service) {
    ParseSandbox(field.node, *field.file, host_, service.sandbox, problems_);
  }
  void ParseProxyProtocol(const Field& field, ServiceConfig& service);
  void ParseProxyFrom(const Field& field, ServiceConfig& service);
  void ParseProxyTimeout(const Field& field, ServiceConfig& service);
  void ParseProxyLocal(const Field& field, ServiceConfig& service);
  void ParseTls(const Field& field, ServiceConfig& service);

 private:
  static const std::vector<ServiceKey>& ServiceKeys();
  static const ServiceKey* FindServiceKey(std::string_view name);

  void Report(const yaml::Node& node, const std::string& file, std::string message);
  void Report(const Field& field, std::string message) { Report(field.node, *field.file, std::move(message)); }
  void ReportUnknownKey(const yaml::Node& key, const std::string& file, std::string_view where,
                        const std::vector<std::string_view>& known);
  Location LocationOf(const yaml::Node& node, const std::string& file) const;

  std::optional<std::string> Scalar(const Field& field, std::string_view key);
  std::optional<std::chrono::milliseconds> Duration(const Field& field, std::string_view key,
                                                    const DurationRange& range);
  std::optional<bool> Bool(const Field& field, std::string_view key);
  std::optional<std::string> AbsolutePath(const Field& field, std::string_view key);
  std::optional<mode_t> Octal(const Field& field, std::string_view key, std::string_view example);
  std::optional<long> Integer(const Field& field, std::string_view key, long min, long max);
  std::optional<double> Rate(const Field& field, std::string_view key);
  std::vector<net::Cidr> CidrList(const Field& field, std::string_view key);

  void ParseTopLevel(const yaml::Node& root, Config& config);
  void ParseIncludes(const Field& field, const Fields& defaults, Config& config);
  void ParseIncludedFile(const std::string& path, const Fields& defaults, Config& config);
  const std::string& KeepName(std::string file) { return files_.emplace_back(std::move(file)); }
  void ParseLog(const Field& field, Config& config);
  void ParseLogTarget(const Field& field, Config& config);
  void ParseControl(const Field& field, Config& config);
  Fields ParseDefaults(const Field& field);
  void ParseServices(const Field& field, const Fields& defaults, Config& config);
  std::optional<ServiceConfig> ParseService(const yaml::Node& entry, const std::string& file,
                                            const Fields& defaults);
  Fields CollectFields(const yaml::Node& entry, const std::string& file, const Fields& defaults);
  void ResolveCredentials(const Fields& fields, ServiceConfig& service);
  void ResolveDynamicUser(const Fields& fields, ServiceConfig& service);
  void CheckRequired(const Fields& fields, const yaml::Node& entry, const std::string& file);
  void CheckProgram(const Fields& fields, const ServiceConfig& service);
  void CheckMode(const Fields& fields, const yaml::Node& entry, ServiceConfig& service);
  void CheckProxy(const Fields& fields, const yaml::Node& entry, const ServiceConfig& service);
  void CheckDuplicates(const Config& config);
  void CheckDynamicUsers(const Config& config);
  std::string ProgramHint(const std::string& path, const std::string& file);
  // tls: the block's keys; the files are checked by tls::BuildContext.
  std::optional<std::string> TlsPath(const Field& field, std::string_view key, Location& where);
  std::vector<std::string> TlsList(const Field& field, std::string_view key);
  void ParseTlsKey(const std::string& name, const Field& field, TlsConfig& tls);
  void ParseTlsVersion(const Field& field, TlsConfig& tls);
  void ParseTlsClientCert(const Field& field, TlsConfig& tls);
  void ParseTlsSni(const Field& field, TlsConfig& tls);
  void CheckTls(const Fields& fields, const yaml::Node& entry, ServiceConfig& service);

  Host& host_;
  std::string main_file_;
  std::deque<std::string> files_;  // included file names; Field points into it
  std::vector<Problem> problems_;
  std::vector<Problem> warnings_;
};

const std::vector<ServiceKey>& Loader::ServiceKeys() {
  static const std::vector<ServiceKey> keys = {
      {"name", &Loader::ParseName, false},
      {"listen", &Loader::ParseListen, false},
      {"program", &Loader::ParseProgram, false},
      {"args", &Loader::ParseArgs, false},
      {"env", &Loader::ParseEnv, true},
      {"user", &Loader::ParseUser, true},
      {"group", &Loader::ParseGroup, true},
      {"stderr", &Loader::ParseStderr, true},
      {"builtin", &Loader::ParseBuiltin, false},
      {"chroot", &Loader::ParseChroot, true},
      {"chdir", &Loader::ParseChdir, true},
      {"umask", &Loader::ParseUmask, true},
      {"nice", &Loader::ParseNice, true},
      {"rlimits", &Loader::ParseRlimits, true},
      {"no_new_privs", &Loader::ParseNoNewPrivs, true},
      {"argv0", &Loader::ParseArgv0, false},
      {"clear_env", &Loader::ParseClearEnv, true},
      {"protocol", &Loader::ParseProtocol, false},
      {"mode", &Loader::ParseMode, false},
      {"backlog", &Loader::ParseBacklog, true},
      {"ipv6_only", &Loader::ParseIpv6Only, true},
      {"keepalive", &Loader::ParseKeepalive, true},
      {"nodelay", &Loader::ParseNodelay, true},
      {"reuseport", &Loader::ParseReuseport, true},
      {"freebind", &Loader::ParseFreebind, true},
      {"bind_interface", &Loader::ParseBindInterface, true},
      {"socket_mode", &Loader::ParseSocketMode, true},
      {"socket_owner", &Loader::ParseSocketOwner, true},
      {"socket_group", &Loader::ParseSocketGroup, true},
      {"max_connections", &Loader::ParseMaxConnections, true},
      {"max_per_source", &Loader::ParseMaxPerSource, true},
      {"max_rate", &Loader::ParseMaxRate, true},
      {"max_rate_per_source", &Loader::ParseMaxRatePerSource, true},
      {"source_prefix_v4", &Loader::ParseSourcePrefixV4, true},
      {"source_prefix_v6", &Loader::ParseSourcePrefixV6, true},
      {"overflow", &Loader::ParseOverflow, true},
      {"allow", &Loader::ParseAllow, true},
      {"deny", &Loader::ParseDeny, true},
      {"refuse_message", &Loader::ParseRefuseMessage, true},
      {"timeout", &Loader::ParseTimeout, true},
      {"kill_grace", &Loader::ParseKillGrace, true},
      {"sandbox", &Loader::ParseSandboxKey, true},
      {"proxy_protocol", &Loader::ParseProxyProtocol, true},
      {"proxy_from", &Loader::ParseProxyFrom, true},
      {"proxy_timeout", &Loader::ParseProxyTimeout, true},
      {"proxy_local", &Loader::ParseProxyLocal, true},
      {"tls", &Loader::ParseTls, true},
  };
  return keys;
}

const ServiceKey* Loader::FindServiceKey(std::string_view name) {
  for (const ServiceKey& key : ServiceKeys()) {
    if (key.name == name) return &key;
  }
  return nullptr;
}

Location Loader::LocationOf(const yaml::Node& node, const std::string& file) const {
  yaml::Position mark = node.Where();
  if (mark.is_null()) return Location{file, 0, 0};
  return Location{file, mark.line + 1, mark.column + 1};
}

void Loader::Report(const yaml::Node& node, const std::string& file, std::string message) {
  problems_.push_back(Problem{LocationOf(node, file), std::move(message)});
}

// Words from xinetd, inetd and tcpserver (and the usual synonyms), and the
// yinetd key that does their job.
struct ForeignWord {
  std::string_view word;
  std::string_view key;
};
constexpr ForeignWord kForeignWords[] = {
    {"server", "program"},        {"command", "program"},          {"exec", "program"},
    {"server_args", "args"},      {"arguments", "args"},           {"only_from", "allow"},
    {"no_access", "deny"},        {"instances", "max_connections"}, {"concurrency", "max_connections"},
    {"per_source", "max_per_source"}, {"cps", "max_rate"},         {"socket_type", "protocol"},
    {"wait", "mode"},             {"port", "listen"},              {"bind", "listen"},
    {"interface", "listen"},      {"address", "listen"},           {"host", "listen"},
    {"passenv", "env"},           {"environment", "env"},          {"banner_fail", "refuse_message"},
    {"uid", "user"},              {"gid", "group"},                {"rlimit_as", "rlimits"},
    {"rlimit_cpu", "rlimits"},    {"rlimit_files", "rlimits"},     {"rlimit_core", "rlimits"},
};

void Loader::ReportUnknownKey(const yaml::Node& key, const std::string& file,
                              std::string_view where, const std::vector<std::string_view>& known) {
  std::string message = "unknown key '" + key.Scalar() + "' " + std::string(where);
  for (const ForeignWord& foreign : kForeignWords) {
    if (foreign.word != key.Scalar()) continue;
    if (std::find(known.begin(), known.end(), foreign.key) == known.end()) break;
    Report(key, file, message + ": yinetd calls it '" + std::string(foreign.key) + "'");
    return;
  }
  if (key.Scalar() == "disable" || key.Scalar() == "disabled") {
    Report(key, file, message + ": to turn a service off, remove it or comment it out");
    return;
  }
  std::string nearest = NearestWord(key.Scalar(), known);
  if (!nearest.empty()) message += ": did you mean '" + nearest + "'?";
  Report(key, file, message);
}

std::optional<std::string> Loader::Scalar(const Field& field, std::string_view key) {
  if (field.node.IsScalar()) return field.node.Scalar();
  Report(field, std::string(key) + " must be a single value, not " + Describe(field.node));
  return std::nullopt;
}

std::optional<std::chrono::milliseconds> Loader::Duration(const Field& field, std::string_view key,
                                                          const DurationRange& range) {
  auto text = Scalar(field, key);
  if (!text) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  double value = std::strtod(text->c_str(), &end);
  if (text->empty() || *end != '\0' || errno != 0 || !std::isfinite(value) || value < range.min_seconds ||
      value > range.max_seconds) {
    std::string message = std::string(key) + " must be a number of seconds from " +
                          ShortNumber(range.min_seconds) + " to " + ShortNumber(range.max_seconds);
    if (!range.max_words.empty()) message += " (" + std::string(range.max_words) + ")";
    message += ", like 10 or 0.5, not " + net::Quoted(*text);
    if (!range.hint.empty()) message += "; " + std::string(range.hint);
    Report(field, message);
    return std::nullopt;
  }
  // In range, value * 1000 is at most about 6e8: exact enough, and no wrap.
  return std::chrono::milliseconds(std::llround(value * 1000));
}

std::optional<bool> Loader::Bool(const Field& field, std::string_view key) {
  auto text = Scalar(field, key);
  if (!text) return std::nullopt;
  if (*text == "true") return true;
  if (*text == "false") return false;
  Report(field, std::string(key) + " must be true or false, not '" + *text + "'");
  return std::nullopt;
}

std::optional<std::string> Loader::AbsolutePath(const Field& field, std::string_view key) {
  auto text = Scalar(field, key);
  if (!text) return std::nullopt;
  if (text->empty() || (*text)[0] != '/') {
    Report(field, std::string(key) + " must be an absolute path, not '" + *text + "'");
    return std::nullopt;
  }
  std::string path = std::filesystem::path(*text).lexically_normal().string();
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

std::optional<long> Loader::Integer(const Field& field, std::string_view key, long min, long max) {
  auto text = Scalar(field, key);
  if (!text) return std::nullopt;
  long value = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || end != text->data() + text->size() || value < min || value > max) {
    Report(field, std::string(key) + " must be a whole number from " + std::to_string(min) + " to " +
                      std::to_string(max) + ", not '" + *text + "'");
    return std::nullopt;
  }
  return value;
}

std::optional<double> Loader::Rate(const Field& field, std::string_view key) {
  auto text = Scalar(field, key);
  if (!text) return std::nullopt;
  char* end = nullptr;
  double value = std::strtod(text->c_str(), &end);
  if (text->empty() || *end != '\0' || !std::isfinite(value) || value <= 0 || value > 1e6) {
    Report(field, std::string(key) + " must be a number of connections a second above 0, like 5 or 0.5, not '" +
                      *text + "'");
    return std::nullopt;
  }
  return value;
}

std::vector<net::Cidr> Loader::CidrList(const Field& field, std::string_view key) {
  std::vector<yaml::Node> items;
  if (field.node.IsSequence()) {
    for (const auto& item : field.node) items.push_back(item);
  } else {
    items.push_back(field.node);
  }
  std::vector<net::Cidr> list;
  for (const auto& item : items) {
    auto text = Scalar(Field{item, field.file}, key);
    if (!text) continue;
    auto cidr = net::ParseCidr(*text);
    if (auto* error = std::get_if<std::string>(&cidr)) {
      Report(item, *field.file, std::string(key) + ": " + *error);
    } else {
      list.push_back(std::get<net::Cidr>(cidr));
    }
  }
  return list;
}

LoadResult Loader::Load(const yaml::Node& root) {
  Config config;
  config.file = main_file_;
  config.files.push_back(main_file_);
  if (!root.IsMap()) {
    Report(root, main_file_, "the file must be a map with a 'services:' list, not " + Describe(root));
  } else {
    ParseTopLevel(root, config);
    CheckDuplicates(config);
    CheckDynamicUsers(config);
  }
  if (problems_.empty() && config.services.empty()) {
    Report(root, main_file_, "no services are configured: add a 'services:' list");
  }
  LoadResult result;
  result.problems = std::move(problems_);
  std::stable_sort(result.problems.begin(), result.problems.end(), [](const Problem& a, const Problem& b) {
    return std::tie(a.where.file, a.where.line, a.where.column) <
           std::tie(b.where.file, b.where.line, b.where.column);
  });
  if (result.problems.empty()) {
    result.config = std::move(config);
    result.warnings = std::move(warnings_);
  }
  return result;
}

void Loader::ParseTopLevel(const yaml::Node& root, Config& config) {
  Fields defaults;
  if (root["defaults"]) defaults = ParseDefaults(Field{root["defaults"], &main_file_});
  for (const auto& entry : root) {
    std::string key = entry.first.Scalar();
    Field value{entry.second, &main_file_};
    if (key == "log") {
      ParseLog(value, config);
    } else if (key == "services") {
      ParseServices(value, defaults, config);
    } else if (key == "shutdown_grace") {
      if (auto grace = Duration(value, key, kShutdownGraceRange)) config.shutdown_grace = *grace;
    } else if (key == "watch") {
      if (auto flag = Bool(value, key)) config.watch = *flag;
    } else if (key == "control") {
      ParseControl(value, config);
    } else if (key == "max_children") {
      if (auto n = Integer(value, key, 1, 1'000'000)) config.max_children = static_cast<int>(*n);
    } else if (key == "dynamic_users") {
      auto text = Scalar(value, key);
      if (!text) continue;
      config.dynamic_users = ParseDynamicUserRange(*text);
      if (!config.dynamic_users) {
        Report(value, "dynamic_users must be a range of unused uids like 61000-61999, not '" + *text + "'");
      }
    } else if (key != "defaults" && key != "include") {
      ReportUnknownKey(entry.first, main_file_, "at the top level", kTopLevelKeys);
    }
  }
  // Included services come after the main file's, file by file in order.
  if (root["include"]) ParseIncludes(Field{root["include"], &main_file_}, defaults, config);
  if (!root["services"] && !root["include"]) {
    Report(root, main_file_, "missing 'services:': add a list of services");
  }
}

void Loader::ParseIncludes(const Field& field, const Fields& defaults, Config& config) {
  std::vector<yaml::Node> patterns;
  if (field.node.IsSequence()) {
    for (const auto& item : field.node) patterns.push_back(item);
  } else {
    patterns.push_back(field.node);
  }
  for (const auto& item : patterns) {
    Field pattern_field{item, field.file};
    auto pattern = Scalar(pattern_field, "include");
    if (!pattern) continue;
    std::string full = pattern->empty() || (*pattern)[0] != '/' ? DirectoryOf(main_file_) + "/" + *pattern : *pattern;
    std::vector<std::string> matches = host_.Glob(full);
    std::string dir = DirectoryOf(full);
    if (dir.find_first_of("*?[") == std::string::npos &&
        std::find(config.include_dirs.begin(), config.include_dirs.end(), dir) == config.include_dirs.end()) {
      config.include_dirs.push_back(dir);
    }
    bool wildcard = pattern->find_first_of("*?[") != std::string::npos;
    if (matches.empty() && !wildcard) {
      Report(pattern_field, "include " + full + ": no such file; fix the path or use a glob like conf.d/*.yaml");
    }
    for (const std::string& path : matches) {
      if (std::find(config.files.begin(), config.files.end(), path) != config.files.end()) continue;
      ParseIncludedFile(path, defaults, config);
    }
  }
}

void Loader::ParseIncludedFile(const std::string& path, const Fields& defaults, Config& config) {
  const std::string& file = KeepName(path);
  config.files.push_back(file);
  std::string error;
  std::optional<std::string> text = host_.ReadFile(file, error);
  if (!text) {
    problems_.push_back({Location{file, 0, 0}, "cannot read the included file: " + error});
    return;
  }
  yaml::Node root;
  try {
    root = yaml::Load(*text);
  } catch (const YAML::Exception& e) {
    if (auto tab = TabIndentation(*text, file)) {
      problems_.push_back(*tab);
    } else {
      problems_.push_back({Location{file, e.mark.line + 1, e.mark.column + 1}, "YAML syntax error: " + e.msg});
    }
    return;
  }
  if (root.IsNull()) return;  // an empty file adds nothing
  if (!root.IsMap()) {
    Report(root, file, "an included file must be a map with a 'services:' list, not " + Describe(root));
    return;
  }
  for (const auto& entry : root) {
    const std::string& key = entry.first.Scalar();
    if (key == "services") {
      ParseServices(Field{entry.second, &file}, defaults, config);
    } else {
      Report(entry.first, file, "only 'services:' may appear in an included file; '" + key + "' belongs in " + main_file_);
    }
  }
}

void Loader::ParseLog(const Field& field, Config& config) {
  if (!field.node.IsMap()) {
    Report(field, "log must be a map like 'log: {level: info}', not " + Describe(field.node));
    return;
  }
  for (const auto& entry : field.node) {
    Field value{entry.second, field.file};
    if (entry.first.Scalar() == "target") {
      ParseLogTarget(value, config);
      continue;
    }
    if (entry.first.Scalar() != "level") {
      ReportUnknownKey(entry.first, *field.file, "under log", kLogKeys);
      continue;
    }
    auto text = Scalar(value, "log.level");
    if (!text) continue;
    config.log_level = log::ParseLevel(*text);
    if (!config.log_level) {
      Report(value, "log.level must be one of trace, debug, info, warn, error; not '" + *text + "'");
    }
  }
}

void Loader::ParseLogTarget(const Field& field, Config& config) {
  auto text = Scalar(field, "log.target");
  if (!text) return;
  if (*text == "stderr") {
    config.log_output = log::Output::kStderr;
  } else if (*text == "syslog") {
    config.log_output = log::Output::kSyslog;
  } else {
    Report(field, "log.target must be stderr or syslog; not '" + *text + "'");
  }
}

void Loader::ParseControl(const Field& field, Config& config) {
  auto text = Scalar(field, "control");
  if (!text) return;
  if (*text == "false") {
    config.control_socket.clear();
  } else if (*text == "true") {
    config.control_socket = kDefaultControlSocket;
  } else if (auto path = AbsolutePath(field, "control")) {
    config.control_socket = *path;
  }
}

Fields Loader::ParseDefaults(const Field& field) {
  Fields defaults;
  if (!field.node.IsMap()) {
    Report(field, "defaults must be a map of service keys, not " + Describe(field.node));
    return defaults;
  }
  std::vector<std::string_view> allowed;
  for (const ServiceKey& key : ServiceKeys()) {
    if (key.allowed_in_defaults) allowed.push_back(key.name);
  }
  for (const auto& entry : field.node) {
    const std::string& name = entry.first.Scalar();
    const ServiceKey* key = FindServiceKey(name);
    if (key == nullptr) {
      ReportUnknownKey(entry.first, *field.file, "under defaults", allowed);
    } else if (!key->allowed_in_defaults) {
      Report(entry.first, *field.file, "'" + name + "' belongs to each service and cannot be set under defaults");
    } else {
      defaults.emplace(name, Field{entry.second, field.file});
    }
  }
  return defaults;
}

void Loader::ParseServices(const Field& field, const Fields& defaults, Config& config) {
  if (!field.node.IsSequence()) {
    Report(field, "services must be a list (each entry starting with '- name:'), not " +
                      Describe(field.node));
    return;
  }
  for (const auto& entry : field.node) {
    if (auto service = ParseService(entry, *field.file, defaults)) {
      config.services.push_back(std::move(*service));
    }
  }
}

Fields Loader::CollectFields(const yaml::Node& entry, const std::string& file,
                             const Fields& defaults) {
  Fields fields = defaults;
  std::vector<std::string_view> known;
  for (const ServiceKey& key : ServiceKeys()) known.push_back(key.name);
  for (const auto& item : entry) {
    const std::string& name = item.first.Scalar();
    if (FindServiceKey(name) == nullptr) {
      ReportUnknownKey(item.first, file, "in a service", known);
    } else {
      fields.erase(name);
      fields.emplace(name, Field{item.second, &file});
    }
  }
  return fields;
}

std::optional<ServiceConfig> Loader::ParseService(const yaml::Node& entry, const std::string& file,
                                                  const Fields& defaults) {
  if (!entry.IsMap()) {
    Report(entry, file, "a service must be a map with name, listen and program, not " + Describe(entry));
    return std::nullopt;
  }
  ServiceConfig service;
  service.where = LocationOf(entry, file);
  Fields fields = CollectFields(entry, file, defaults);
  CheckRequired(fields, entry, file);
  // env is the one key that merges: the defaults' variables, then the
  // service's, a service's value replacing a default of the same name.
  // rlimits merge the same way, limit by limit.
  auto default_env = defaults.find("env");
  if (default_env != defaults.end() && entry["env"]) ParseEnv(default_env->second, service);
  auto default_rlimits = defaults.find("rlimits");
  if (default_rlimits != defaults.end() && entry["rlimits"]) ParseRlimits(default_rlimits->second, service);
  for (const auto& [name, field] : fields) (this->*FindServiceKey(name)->parse)(field, service);
  ResolveCredentials(fields, service);
  CheckProgram(fields, service);
  CheckMode(fields, entry, service);
  CheckProxy(fields, entry, service);
  CheckTls(fields, entry, service);
  // Returned even with problems, so that duplicates are still found; the
  // whole config is refused anyway.
  return service;
}

void Loader::CheckRequired(const Fields& fields, const yaml::Node& entry, const std::string& file) {
  for (std::string_view key : {"name", "listen"}) {
    if (fields.count(std::string(key)) == 0) {
      Report(entry, file, "service is missing '" + std::string(key) + "'");
    }
  }
  bool program = fields.count("program") != 0, builtin = fields.count("builtin") != 0;
  if (!program && !builtin) {
    Report(entry, file, "service is missing 'program' (or 'builtin' for a built-in service)");
  } else if (program && builtin) {
    Report(fields.at("builtin").node, file,
           "a service has either 'program' or 'builtin', not both: remove one");
  }
}

// Checked after every key is read: with a chroot, the program is a path
// inside it.
void Loader::CheckProgram(const Fields& fields, const ServiceConfig& service) {
  if (service.program.empty()) return;
  const Field& field = fields.at("program");
  const std::string& root = service.process.chroot;
  if (!root.empty() && field.node.Scalar()[0] != '/') {
    Report(field, "with chroot, program must be an absolute path inside " + root + ", not '" +
                      field.node.Scalar() + "'");
    return;
  }
  std::string path = root.empty() || root == "/" ? service.program : root + service.program;
  std::string why = host_.WhyNotExecutable(path);
  if (!why.empty()) {
    Report(field, "program " + path + " cannot be run: " + why + "; check the path and its permissions");
    return;
  }
  if (!service.credentials) return;
  std::string blocked = ProgramBlocked(service.program, root, *service.credentials, host_);
  if (!blocked.empty()) {
    warnings_.push_back({LocationOf(field.node, *field.file),
                         "service '" + service.name + "': user '" + service.credentials->user + "' " + blocked +
                             ", so every start of program " + path +
                             " will fail; grant that user search (directories) and execute permission on the "
                             "way, or move the program"});
  }
}

void Loader::ParseName(const Field& field, ServiceConfig& service) {
  auto name = Scalar(field, "name");
  if (!name) return;
  if (!IsValidServiceName(*name)) {
    Report(field, "service name '" + *name + "' may only use letters, digits, '_', '.' and '-'");
    return;
  }
  service.name = *name;
}

void Loader::ParseListen(const Field& field, ServiceConfig& service) {
  std::vector<yaml::Node> items;
  if (field.node.IsSequence()) {
    for (const auto& item : field.node) items.push_back(item);
    if (items.empty()) Report(field, "listen is an empty list: give at least one address");
  } else {
    items.push_back(field.node);
  }
  for (const auto& item : items) {
    auto text = Scalar(Field{item, field.file}, "listen");
    if (!text) continue;
    auto parsed = net::ParseAddress(*text);
    if (auto* error = std::get_if<std::string>(&parsed)) {
      Report(item, *field.file, "listen '" + *text + "': " + *error);
    } else {
      service.listen.push_back(std::get<net::Address>(parsed));
    }
  }
}

// What to write instead of a relative `program`: a full path only where a
// program of that name exists, never a made-up one.
std::string Loader::ProgramHint(const std::string& path, const std::string& file) {
  if (!path.empty() && path.find('/') == std::string::npos) {
    for (const char* dir : {"/usr/local/sbin/", "/usr/local/bin/", "/usr/sbin/", "/usr/bin/", "/sbin/", "/bin/"}) {
      if (host_.WhyNotExecutable(dir + path).empty()) return std::string("write the full path, like ") + dir + path;
    }
  }
  std::string beside = std::filesystem::path(DirectoryOf(file) + "/" + path).lexically_normal().string();
  if (!path.empty() && host_.WhyNotExecutable(beside).empty()) {
    return "write ./" + path + " for " + beside + ", relative to this file";
  }
  return "write the program's full path (starting with /), or ./PATH for a path relative to this file";
}

void Loader::ParseProgram(const Field& field, ServiceConfig& service) {
  auto program = Scalar(field, "program");
  if (!program) return;
  std::string path = *program;
  if (path.rfind("./", 0) == 0 || path.rfind("../", 0) == 0) {
    // Relative to the file that names it.
    path = std::filesystem::path(DirectoryOf(*field.file) + "/" + path).lexically_normal().string();
  } else if (path.empty() || path[0] != '/') {
    Report(field, "program '" + path + "' is not an absolute path: " + ProgramHint(path, *field.file));
    return;
  }
  service.program = path;  // checked, inside any chroot, by CheckProgram
}

void Loader::ParseArgs(const Field& field, ServiceConfig& service) {
  if (!field.node.IsSequence()) {
    Report(field, "args must be a list, like args: [\"-u\", \"x\"], not " + Describe(field.node));
    return;
  }
  for (const auto& item : field.node) {
    if (auto arg = Scalar(Field{item, field.file}, "each of args")) service.args.push_back(*arg);
  }
}

void Loader::ParseEnv(const Field& field, ServiceConfig& service) {
  if (!field.node.IsMap()) {
    Report(field, "env must be a map of NAME: value, not " + Describe(field.node));
    return;
  }
  for (const auto& item : field.node) {
    const std::string& name = item.first.Scalar();
    if (!IsValidEnvName(name)) {
      Report(item.first, *field.file, "environment name '" + name + "' must be letters, digits and '_', not starting with a digit");
      continue;
    }
    auto value = Scalar(Field{item.second, field.file}, "env." + name);
    if (!value) continue;
    auto same = std::find_if(service.env.begin(), service.env.end(),
                             [&](const auto& entry) { return entry.first == name; });
    if (same != service.env.end()) {
      same->second = *value;
    } else {
      service.env.emplace_back(name, *value);
    }
  }
}

void Loader::ParseStderr(const Field& field, ServiceConfig& service) {
  if (field.node.IsNull()) {
    service.stderr_mode = StderrMode::kNull;
    return;
  }
  auto mode = Scalar(field, "stderr");
  if (!mode) return;
  if (*mode == "log") {
    service.stderr_mode = StderrMode::kLog;
  } else if (*mode == "socket") {
    service.stderr_mode = StderrMode::kSocket;
  } else if (*mode == "null") {
    service.stderr_mode = StderrMode::kNull;
  } else {
    Report(field, "stderr must be log, socket or null; not '" + *mode + "'");
  }
}

void Loader::ParseBuiltin(const Field& field, ServiceConfig& service) {
  auto name = Scalar(field, "builtin");
  if (!name) return;
  if (builtin::Find(*name) == nullptr) {
    std::string known;
    for (std::string_view each : builtin::Names()) known += (known.empty() ? "" : ", ") + std::string(each);
    Report(field, "unknown builtin '" + *name + "': the builtins are " + known);
    return;
  }
  service.builtin = *name;
}

void Loader::ParseChroot(const Field& field, ServiceConfig& service) {
  if (auto path = AbsolutePath(field, "chroot")) service.process.chroot = *path;
}

void Loader::ParseChdir(const Field& field, ServiceConfig& service) {
  if (auto path = AbsolutePath(field, "chdir")) service.process.chdir = *path;
}

std::optional<mode_t> Loader::Octal(const Field& field, std::string_view key, std::string_view example) {
  auto text = Scalar(field, key);
  if (!text) return std::nullopt;
  std::string_view digits = *text;
  if (digits.substr(0, 2) == "0o") digits.remove_prefix(2);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value, 8);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || value > 0777) {
    Report(field, std::string(key) + " must be octal, like " + std::string(example) + ", not '" + *text + "'");
    return std::nullopt;
  }
  return static_cast<mode_t>(value);
}

void Loader::ParseUmask(const Field& field, ServiceConfig& service) {
  if (auto value = Octal(field, "umask", "022 or 0077")) service.process.umask = *value;
}

void Loader::ParseNice(const Field& field, ServiceConfig& service) {
  auto text = Scalar(field, "nice");
  if (!text) return;
  int value = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (text->empty() || ec != std::errc() || end != text->data() + text->size() || value < -20 ||
      value > 19) {
    Report(field, "nice must be a whole number from -20 (most favoured) to 19, not '" + *text + "'");
    return;
  }
  service.process.nice = value;
}

namespace {

struct LimitName {
  std::string_view name;
  int resource;
};

constexpr LimitName kLimitNames[] = {
    {"nofile", RLIMIT_NOFILE}, {"nproc", RLIMIT_NPROC}, {"as", RLIMIT_AS},
    {"cpu", RLIMIT_CPU},       {"core", RLIMIT_CORE},   {"fsize", RLIMIT_FSIZE},
};

}  // namespace

void Loader::ParseRlimits(const Field& field, ServiceConfig& service) {
  if (!field.node.IsMap()) {
    Report(field, "rlimits must be a map like {nofile: 1024, core: 0}, not " + Describe(field.node));
    return;
  }
  std::vector<std::string_view> names;
  for (const LimitName& limit : kLimitNames) names.push_back(limit.name);
  for (const auto& item : field.node) {
    const std::string& name = item.first.Scalar();
    auto known = std::find_if(std::begin(kLimitNames), std::end(kLimitNames),
                              [&](const LimitName& limit) { return limit.name == name; });
    if (known == std::end(kLimitNames)) {
      ReportUnknownKey(item.first, *field.file, "under rlimits (nofile, nproc, as, cpu, core, fsize)", names);
      continue;
    }
    auto text = Scalar(Field{item.second, field.file}, "rlimits." + name);
    if (!text) continue;
    auto value = ParseLimitValue(*text);
    if (!value) {
      Report(item.second, *field.file, "rlimits." + name +
             " must be a number (optionally with K, M, G or T) or unlimited, not '" + *text + "'");
      continue;
    }
    auto& limits = service.process.rlimits;
    limits.erase(std::remove_if(limits.begin(), limits.end(),
                                [&](const ResourceLimit& limit) { return limit.name == name; }),
                 limits.end());
    limits.push_back(ResourceLimit{name, known->resource, *value});
  }
}

void Loader::ParseNoNewPrivs(const Field& field, ServiceConfig& service) {
  if (auto value = Bool(field, "no_new_privs")) service.process.no_new_privs = *value;
}

void Loader::ParseArgv0(const Field& field, ServiceConfig& service) {
  if (auto value = Scalar(field, "argv0")) service.process.argv0 = *value;
}

void Loader::ParseClearEnv(const Field& field, ServiceConfig& service) {
  if (auto value = Bool(field, "clear_env")) service.process.clear_env = *value;
}

void Loader::ParseProtocol(const Field& field, ServiceConfig& service) {
  auto text = Scalar(field, "protocol");
  if (!text) return;
  if (*text == "tcp") {
    service.protocol = Protocol::kTcp;
  } else if (*text == "udp") {
    service.protocol = Protocol::kUdp;
  } else {
    Report(field, "protocol must be tcp or udp, not '" + *text + "'");
  }
}

void Loader::ParseMode(const Field& field, ServiceConfig& service) {
  auto text = Scalar(field, "mode");
  if (!text) return;
  if (*text == "nowait") {
    service.mode = Mode::kNowait;
  } else if (*text == "wait") {
    service.mode = Mode::kWait;
  } else {
    Report(field, "mode must be nowait or wait, not '" + *text + "'");
  }
}

// The combinations inetd's semantics allow; checked once every key is read.
void Loader::CheckMode(const Fields& fields, const yaml::Node& entry, ServiceConfig& service) {
  auto mode = fields.find("mode");
  const Field& where = mode != fields.end() ? mode->second : fields.begin()->second;
  if (service.protocol == Protocol::kUdp) {
    const builtin::Builtin* builtin = builtin::Find(service.builtin);
    if (builtin != nullptr && builtin->serve_datagram == nullptr) {
      Report(fields.at("protocol"), "builtin " + service.builtin + " is served over a stream (TCP or unix), "
                                    "not UDP: remove 'protocol: udp'");
    }
    if (mode != fields.end() && service.mode == Mode::kNowait) {
      Report(where, "protocol udp needs mode wait: datagrams have no connection to hand to one "
                    "program each; remove 'mode' or write 'mode: wait'");
    }
    service.mode = Mode::kWait;
    for (const net::Address& address : service.listen) {
      if (!address.IsInet()) {
        Report(fields.at("protocol"), "protocol udp needs IP addresses, not " + address.ToString());
      }
    }
  }
  if (service.mode != Mode::kWait) return;
  if (service.protocol == Protocol::kTcp && !service.builtin.empty()) {
    Report(where, "builtin " + service.builtin + " over TCP runs in mode nowait: remove 'mode: wait'");
  }
  if (service.stderr_mode == StderrMode::kSocket) {
    Report(fields.at("stderr"), "stderr: socket needs a connection, and in mode wait the program gets "
                                "the listening socket: use log or null");
  }
  // yinetd never sees a wait service's clients, so it cannot filter or count
  // them. Written in the service, that is an error rather than a silent
  // no-op; inherited from defaults, it is meant for the other services.
  for (const char* key : {"allow", "deny", "max_connections", "max_per_source", "max_rate",
                          "max_rate_per_source", "overflow", "refuse_message"}) {
    if (entry[key]) {
      Report(fields.at(key), std::string(key) + " does not apply in mode wait: the program meets its "
                             "clients itself, yinetd never sees them");
    }
  }
}

void Loader::ParseBacklog(const Field& field, ServiceConfig& service) {
  auto text = Scalar(field, "backlog");
  if (!text) return;
  int value = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (text->empty() || ec != std::errc() || end != text->data() + text->size() || value < 1) {
    Report(field, "backlog must be a whole number of at least 1, not '" + *text + "'");
    return;
  }
  service.socket.backlog = value;
}

void Loader::ParseIpv6Only(const Field& field, ServiceConfig& service) {
  if (auto value = Bool(field, "ipv6_only")) service.socket.ipv6_only = *value;
}

void Loader::ParseKeepalive(const Field& field, ServiceConfig& service) {
  if (auto value = Bool(field, "keepalive")) service.socket.keepalive = *value;
}

void Loader::ParseNodelay(const Field& field, ServiceConfig& service) {
  if (auto value = Bool(field, "nodelay")) service.socket.nodelay = *value;
}

void Loader::ParseReuseport(const Field& field, ServiceConfig& service) {
  if (auto value = Bool(field, "reuseport")) service.socket.reuseport = *value;
}

void Loader::ParseFreebind(const Field& field, ServiceConfig& service) {
  if (auto value = Bool(field, "freebind")) service.socket.freebind = *value;
}

void Loader::ParseBindInterface(const Field& field, ServiceConfig& service) {
  auto name = Scalar(field, "bind_interface");
  if (!name) return;
  // IFNAMSIZ is 16, the terminating NUL included.
  if (name->empty() || name->size() > 15 || name->find('/') != std::string::npos) {
    Report(field, "bind_interface must be an interface name like eth0 (at most 15 characters), not '" +
                      *name + "'");
    return;
  }
  service.socket.bind_interface = *name;
}

void Loader::ParseSocketMode(const Field& field, ServiceConfig& service) {
  if (auto value = Octal(field, "socket_mode", "0660")) service.socket.unix_mode = *value;
}

void Loader::ParseSocketOwner(const Field& field, ServiceConfig& service) {
  auto name = Scalar(field, "socket_owner");
  if (!name) return;
  auto user = host_.LookupUser(*name);
  if (!user) {
    Report(field, "unknown user '" + *name + "' for socket_owner: create it or name an existing user");
    return;
  }
  service.socket.unix_owner = user->uid;
  service.socket.unix_owner_name = *name;
}

void Loader::ParseSocketGroup(const Field& field, ServiceConfig& service) {
  auto name = Scalar(field, "socket_group");
  if (!name) return;
  auto gid = host_.LookupGroup(*name);
  if (!gid) {
    Report(field, "unknown group '" + *name + "' for socket_group: create it or name an existing group");
    return;
  }
  service.socket.unix_group = *gid;
  service.socket.unix_group_name = *name;
}

void Loader::ParseMaxConnections(const Field& field, ServiceConfig& service) {
  if (auto n = Integer(field, "max_connections", 1, 1'000'000)) service.limits.max_connections = static_cast<int>(*n);
}

void Loader::ParseMaxPerSource(const Field& field, ServiceConfig& service) {
  if (auto n = Integer(field, "max_per_source", 1, 1'000'000)) service.limits.max_per_source = static_cast<int>(*n);
}

void Loader::ParseMaxRate(const Field& field, ServiceConfig& service) {
  if (auto rate = Rate(field, "max_rate")) service.limits.max_rate = *rate;
}

void Loader::ParseMaxRatePerSource(const Field& field, ServiceConfig& service) {
  if (auto rate = Rate(field, "max_rate_per_source")) service.limits.max_rate_per_source = *rate;
}

void Loader::ParseSourcePrefixV4(const Field& field, ServiceConfig& service) {
  if (auto n = Integer(field, "source_prefix_v4", 0, 32)) service.limits.source_prefix_v4 = static_cast<int>(*n);
}

void Loader::ParseSourcePrefixV6(const Field& field, ServiceConfig& service) {
  if (auto n = Integer(field, "source_prefix_v6", 0, 128)) service.limits.source_prefix_v6 = static_cast<int>(*n);
}

void Loader::ParseOverflow(const Field& field, ServiceConfig& service) {
  auto mode = Scalar(field, "overflow");
  if (!mode) return;
  if (*mode == "refuse") {
    service.limits.overflow = Overflow::kRefuse;
  } else if (*mode == "queue") {
    service.limits.overflow = Overflow::kQueue;
  } else {
    Report(field, "overflow must be refuse or queue; not '" + *mode + "'");
  }
}

void Loader::ParseAllow(const Field& field, ServiceConfig& service) {
  service.access.allow = CidrList(field, "allow");
}

void Loader::ParseDeny(const Field& field, ServiceConfig& service) {
  service.access.deny = CidrList(field, "deny");
}

void Loader::ParseRefuseMessage(const Field& field, ServiceConfig& service) {
  if (auto text = Scalar(field, "refuse_message")) service.refuse_message = *text;
}

void Loader::ParseTimeout(const Field& field, ServiceConfig& service) {
  if (auto timeout = Duration(field, "timeout", kTimeoutRange)) service.timeout = *timeout;
}

void Loader::ParseKillGrace(const Field& field, ServiceConfig& service) {
  if (auto grace = Duration(field, "kill_grace", kKillGraceRange)) service.kill_grace = *grace;
}

void Loader::ParseProxyProtocol(const Field& field, ServiceConfig& service) {
  auto text = Scalar(field, "proxy_protocol");
  if (!text) return;
  if (*text == "v1") {
    service.proxy.protocol = ProxyProtocol::kV1;
  } else if (*text == "v2") {
    service.proxy.protocol = ProxyProtocol::kV2;
  } else if (*text == "any") {
    service.proxy.protocol = ProxyProtocol::kAny;
  } else {
    Report(field, "proxy_protocol must be v1, v2 or any (leave it out for none), not '" + *text + "'");
  }
}

void Loader::ParseProxyFrom(const Field& field, ServiceConfig& service) {
  service.proxy.from = CidrList(field, "proxy_from");
}

void Loader::ParseProxyTimeout(const Field& field, ServiceConfig& service) {
  if (auto timeout = Duration(field, "proxy_timeout", kProxyTimeoutRange)) service.proxy.timeout = *timeout;
}

void Loader::ParseProxyLocal(const Field& field, ServiceConfig& service) {
  auto text = Scalar(field, "proxy_local");
  if (!text) return;
  if (*text == "serve") {
    service.proxy.local = ProxyLocal::kServe;
  } else if (*text == "close") {
    service.proxy.local = ProxyLocal::kClose;
  } else {
    Report(field, "proxy_local must be serve or close, not '" + *text + "'");
  }
}

// The header is read by yinetd from a connection it accepted; checked once
// every key (and mode) is known.
void Loader::CheckProxy(const Fields& fields, const yaml::Node& entry, const ServiceConfig& service) {
  if (!service.proxy.Enabled()) {
    if (fields.count("proxy_protocol") != 0) return;  // a bad value, reported
    // Written in the service itself, a proxy_* key without proxy_protocol
    // would silently do nothing; from defaults it is meant for others.
    for (const char* key : {"proxy_from", "proxy_timeout", "proxy_local"}) {
      if (entry[key]) Report(fields.at(key), std::string(key) + " needs proxy_protocol: v1, v2 or any");
    }
    return;
  }
  const Field& where = fields.at("proxy_protocol");
  if (service.protocol == Protocol::kUdp) {
    Report(where, "proxy_protocol applies to TCP services, not protocol udp: remove one of them");
  } else if (service.mode == Mode::kWait) {
    Report(where, "proxy_protocol needs mode nowait: in mode wait the program accepts its clients "
                  "itself and yinetd never reads their header");
  }
  if (fields.count("proxy_from") == 0) {
    Report(where, "proxy_protocol needs proxy_from: the load balancers' addresses (CIDRs) that may "
                  "send a header, like proxy_from: [10.0.0.0/24]");
  }
  for (const net::Address& address : service.listen) {
    if (!address.IsInet()) {
      Report(where, "proxy_protocol needs IP listen addresses, not " + address.ToString());
    }
  }
}

const std::vector<std::string_view> kTlsKeys = {"cert", "key", "client_ca", "client_cert", "allow_client",
                                                "min_version", "alpn", "handshake_timeout", "sni"};
const std::vector<std::string_view> kSniKeys = {"names", "cert", "key"};

void Loader::ParseTls(const Field& field, ServiceConfig& service) {
  if (!field.node.IsMap()) {
    Report(field, "tls must be a map with at least cert and key, not " + Describe(field.node));
    return;
  }
  TlsConfig tls;
  tls.where = LocationOf(field.node, *field.file);
  for (const auto& item : field.node) {
    const std::string& name = item.first.Scalar();
    if (std::find(kTlsKeys.begin(), kTlsKeys.end(), name) == kTlsKeys.end()) {
      ReportUnknownKey(item.first, *field.file, "under tls", kTlsKeys);
      continue;
    }
    ParseTlsKey(name, Field{item.second, field.file}, tls);
  }
  for (const char* key : {"cert", "key"}) {
    if (!field.node[key]) Report(field, std::string("tls is missing '") + key + "': the PEM file of the server's " +
                                            (key == std::string("cert") ? "certificate chain" : "private key"));
  }
  if (tls.client_cert != ClientCert::kNone && tls.client_ca.empty()) {
    Report(field.node["client_cert"], *field.file,
           "client_cert " + field.node["client_cert"].Scalar() + " needs client_ca: the PEM file of the CAs that sign client certificates");
  }
  if (!tls.allow_client.empty() && tls.client_cert == ClientCert::kNone) {
    Report(field.node["allow_client"], *field.file,
           "allow_client needs client certificates: add 'client_cert: require' (or optional) and client_ca");
  }
  service.tls = std::move(tls);
}

void Loader::ParseTlsKey(const std::string& name, const Field& field, TlsConfig& tls) {
  if (name == "cert") {
    if (auto path = TlsPath(field, "tls.cert", tls.cert_where)) tls.cert = *path;
  } else if (name == "key") {
    if (auto path = TlsPath(field, "tls.key", tls.key_where)) tls.key = *path;
  } else if (name == "client_ca") {
    if (auto path = TlsPath(field, "tls.client_ca", tls.client_ca_where)) tls.client_ca = *path;
  } else if (name == "client_cert") {
    ParseTlsClientCert(field, tls);
  } else if (name == "allow_client") {
    tls.allow_client = TlsList(field, "tls.allow_client");
    for (const std::string& pattern : tls.allow_client) {
      if (pattern.rfind("CN=", 0) != 0 && pattern.rfind("DNS:", 0) != 0 && pattern.rfind("URI:", 0) != 0) {
        Report(field, "tls.allow_client pattern '" + pattern + "' must start with CN=, DNS: or URI:");
      }
    }
  } else if (name == "min_version") {
    ParseTlsVersion(field, tls);
  } else if (name == "alpn") {
    tls.alpn = TlsList(field, "tls.alpn");
    for (const std::string& protocol : tls.alpn) {
      if (protocol.empty() || protocol.size() > 255) Report(field, "tls.alpn names are 1 to 255 bytes long");
    }
  } else if (name == "handshake_timeout") {
    if (auto timeout = Duration(field, "tls.handshake_timeout", kHandshakeTimeoutRange)) tls.handshake_timeout = *timeout;
  } else if (name == "sni") {
    ParseTlsSni(field, tls);
  }
}

std::optional<std::string> Loader::TlsPath(const Field& field, std::string_view key, Location& where) {
  auto text = Scalar(field, key);
  if (!text) return std::nullopt;
  where = LocationOf(field.node, *field.file);
  if (text->empty()) {
    Report(field, std::string(key) + " must name a file");
    return std::nullopt;
  }
  // Relative to the file that names it, as a program's "./" path is.
  std::string path = (*text)[0] == '/' ? *text : DirectoryOf(*field.file) + "/" + *text;
  return std::filesystem::path(path).lexically_normal().string();
}

std::vector<std::string> Loader::TlsList(const Field& field, std::string_view key) {
  std::vector<std::string> list;
  if (!field.node.IsSequence()) {
    if (auto text = Scalar(field, key)) list.push_back(*text);
    return list;
  }
  for (const auto& item : field.node) {
    if (auto text = Scalar(Field{item, field.file}, key)) list.push_back(*text);
  }
  return list;
}

void Loader::ParseTlsVersion(const Field& field, TlsConfig& tls) {
  auto text = Scalar(field, "tls.min_version");
  if (!text) return;
  if (*text == "1.2" || *text == "1.3") {
    tls.min_version = *text;
  } else {
    Report(field, "tls.min_version must be \"1.2\" or \"1.3\" (quoted, so YAML keeps it text), not '" + *text + "'");
  }
}

void Loader::ParseTlsClientCert(const Field& field, TlsConfig& tls) {
  auto text = Scalar(field, "tls.client_cert");
  if (!text) return;
  if (*text == "none") {
    tls.client_cert = ClientCert::kNone;
  } else if (*text == "optional") {
    tls.client_cert = ClientCert::kOptional;
  } else if (*text == "require") {
    tls.client_cert = ClientCert::kRequire;
  } else {
    Report(field, "tls.client_cert must be none, optional or require, not '" + *text + "'");
  }
}

void Loader::ParseTlsSni(const Field& field, TlsConfig& tls) {
  if (!field.node.IsSequence()) {
    Report(field, "tls.sni must be a list of entries with names, cert and key, not " + Describe(field.node));
    return;
  }
  for (const auto& entry : field.node) {
    if (!entry.IsMap()) {
      Report(entry, *field.file, "a tls.sni entry must be a map with names, cert and key, not " + Describe(entry));
      continue;
    }
    TlsSni sni;
    sni.where = LocationOf(entry, *field.file);
    for (const auto& item : entry) {
      const std::string& name = item.first.Scalar();
      Field value{item.second, field.file};
      if (name == "names") {
        sni.names = TlsList(value, "tls.sni.names");
      } else if (name == "cert") {
        if (auto path = TlsPath(value, "tls.sni.cert", sni.cert_where)) sni.cert = *path;
      } else if (name == "key") {
        if (auto path = TlsPath(value, "tls.sni.key", sni.key_where)) sni.key = *path;
      } else {
        ReportUnknownKey(item.first, *field.file, "in a tls.sni entry", kSniKeys);
      }
    }
    if (sni.names.empty()) Report(entry, *field.file, "a tls.sni entry needs names: the server names it answers, like [\"*.example.org\"]");
    if (!entry["cert"] || !entry["key"]) Report(entry, *field.file, "a tls.sni entry needs both cert and key");
    tls.sni.push_back(std::move(sni));
  }
}

// TLS needs a connection of its own: checked once every key is read.
void Loader::CheckTls(const Fields& fields, const yaml::Node& entry, ServiceConfig& service) {
  if (!service.tls) return;
  const Field& field = fields.at("tls");
  bool wraps = service.protocol == Protocol::kTcp && service.mode == Mode::kNowait;
  // Inherited from defaults, tls is meant for the services it can wrap.
  if (!entry["tls"] && !wraps) {
    service.tls.reset();
    return;
  }
  if (service.protocol == Protocol::kUdp) {
    Report(field, "tls needs a stream: it does not work with protocol udp (DTLS is not supported); remove tls or the protocol");
  } else if (service.mode == Mode::kWait) {
    Report(field, "tls needs mode nowait: in mode wait the program gets the listening socket and yinetd never "
                  "sees a connection to wrap; remove 'mode: wait' or tls");
  }
}

void Loader::ResolveCredentials(const Fields& fields, ServiceConfig& service) {
  auto user_field = fields.find("user");
  auto group_field = fields.find("group");
  if (user_field == fields.end() && group_field == fields.end()) return;
  Credentials credentials;
  credentials.uid = host_.EffectiveUid();
  if (user_field != fields.end()) {
    auto name = Scalar(user_field->second, "user");
    if (!name) return;
    if (*name == "dynamic") {
      ResolveDynamicUser(fields, service);
      return;
    }
    auto user = host_.LookupUser(*name);
    if (!user) {
      Report(user_field->second, "unknown user '" + *name + "': create it or name an existing user");
      return;
    }
    credentials.user = *name;
    credentials.uid = user->uid;
    credentials.gid = user->gid;
    credentials.set_uid = true;
  }
  if (group_field != fields.end()) {
    auto name = Scalar(group_field->second, "group");
    if (!name) return;
    auto gid = host_.LookupGroup(*name);
    if (!gid) {
      Report(group_field->second, "unknown group '" + *name + "': create it or name an existing group");
      return;
    }
    credentials.gid = *gid;
    credentials.group = *name;
  }
  credentials.groups = credentials.set_uid ? host_.GroupsOf(credentials.user, credentials.gid)
                                           : std::vector<gid_t>{credentials.gid};
  uid_t euid = host_.EffectiveUid();
  if (euid != 0 && (credentials.uid != euid || group_field != fields.end())) {
    const Field& where = user_field != fields.end() ? user_field->second : group_field->second;
    Report(where, "switching user or group needs root, and yinetd runs as uid " +
                      std::to_string(euid) + ": run it as root or remove user/group");
    return;
  }
  service.credentials = std::move(credentials);
}

// `user: dynamic`: the uid comes from the pool per connection. Each
// connection gets its own pid namespace too, so that when it ends none of
// its processes can linger under a uid the next connection will get.
void Loader::ResolveDynamicUser(const Fields& fields, ServiceConfig& service) {
  const Field& user = fields.at("user");
  auto group = fields.find("group");
  if (group != fields.end()) {
    Report(group->second, "user: dynamic gives each connection its own group too: remove group");
    return;
  }
  if (host_.EffectiveUid() != 0) {
    Report(user, "user: dynamic needs root, and yinetd runs as uid " + std::to_string(host_.EffectiveUid()));
    return;
  }
  if (!host_.Kernel().namespaces) {
    Report(user, "user: dynamic needs a pid namespace per connection, which yinetd may not make without "
                 "CAP_SYS_ADMIN");
    return;
  }
  service.dynamic_user = true;
}

void Loader::CheckDynamicUsers(const Config& config) {
  if (config.dynamic_users) return;
  for (const ServiceConfig& service : config.services) {
    if (!service.dynamic_user) continue;
    problems_.push_back({service.where, "service '" + service.name +
                                            "' has user: dynamic: add a top-level range of unused uids, "
                                            "like 'dynamic_users: 61000-61999'"});
  }
}

// Whether the address (a bare port with `ipv6_only` counts as IPv6 only)
// takes connections to `family`.
bool Covers(const net::Address& address, bool ipv6_only, net::Address::Family family) {
  using Family = net::Address::Family;
  if (address.family != Family::kAny) return address.family == family || family == Family::kAny;
  return !ipv6_only || family != Family::kIPv4;
}

bool IsWildcard(const net::Address& address) {
  return address.family == net::Address::Family::kAny || address.host == "0.0.0.0" || address.host == "::";
}

// Whether the two addresses cannot both be bound. The same address never
// can. A wildcard (a bare port, 0.0.0.0, [::]) and a specific address of a
// family it takes can only with SO_REUSEPORT on both, as the kernel refuses
// the second bind otherwise; with it, the specific address's service gets
// that address's clients and the wildcard's the rest.
bool Overlaps(const net::Address& a, const ServiceConfig& a_service, const net::Address& b,
              const ServiceConfig& b_service) {
  if (a == b) return true;
  if (!a.IsInet() || !b.IsInet() || a.port != b.port) return false;
  if (!IsWildcard(a) && !IsWildcard(b)) return false;
  if (a_service.socket.reuseport && b_service.socket.reuseport) return false;
  using Family = net::Address::Family;
  if (a.family != Family::kAny && b.family != Family::kAny) return a.family == b.family;
  return Covers(a, a_service.socket.ipv6_only, b.family) && Covers(b, b_service.socket.ipv6_only, a.family);
}

// Addresses that can overlap share a key: a protocol and, for a socket
// file, its path, else its port (a wildcard overlaps only on its port).
// Checking each address against its key's addresses alone keeps the check
// linear in services: against all of them it was quadratic, a tenth of a
// 1000-service start-up.
std::tuple<Protocol, uint16_t, std::string> OverlapKey(const net::Address& address, Protocol protocol) {
  if (!address.IsInet()) return {protocol, 0, address.path};
  return {protocol, address.port, ""};
}

void Loader::CheckDuplicates(const Config& config) {
  std::map<std::string, const ServiceConfig*> names;
  using Listened = std::vector<std::pair<net::Address, const ServiceConfig*>>;
  std::map<std::tuple<Protocol, uint16_t, std::string>, Listened> addresses_by_key;
  for (const ServiceConfig& service : config.services) {
    auto [it, inserted] = names.emplace(service.name, &service);
    if (!inserted && !service.name.empty()) {
      problems_.push_back({service.where, "duplicate service name '" + service.name +
                                              "': it is already used at " + it->second->where.ToString()});
    }
    for (const net::Address& address : service.listen) {
      Listened& addresses = addresses_by_key[OverlapKey(address, service.protocol)];
      for (const auto& [other, owner] : addresses) {
        if (!Overlaps(address, service, other, *owner)) continue;
        std::string message = "listen address " + address.ToString() + " is already used by service '" +
                              owner->name + "' at " + owner->where.ToString();
        if (!(address == other)) {
          message += " (as " + other.ToString() + "); to give one address its own service, set "
                     "reuseport: true on both";
        }
        problems_.push_back({service.where, message});
      }
      addresses.emplace_back(address, &service);
    }
  }
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + cost});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

// "1024", "64M", "unlimited": a number with an optional binary suffix.
std::optional<uint64_t> ParseLimitValue(std::string_view text) {
  if (text == "unlimited") return static_cast<uint64_t>(RLIM_INFINITY);
  uint64_t multiplier = 1;
  if (!text.empty()) {
    switch (text.back()) {
      case 'K': multiplier = 1ULL << 10; break;
      case 'M': multiplier = 1ULL << 20; break;
      case 'G': multiplier = 1ULL << 30; break;
      case 'T': multiplier = 1ULL << 40; break;
    }
    if (multiplier != 1) text.remove_suffix(1);
  }
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (value > (static_cast<uint64_t>(RLIM_INFINITY) - 1) / multiplier) return std::nullopt;
  return value * multiplier;
}

std::string NearestWord(std::string_view word, const std::vector<std::string_view>& candidates) {
  std::string_view best;
  size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;
  for (std::string_view candidate : candidates) {
    size_t distance = EditDistance(word, candidate);
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return std::string(best);
}

LoadResult LoadConfigText(const std::string& text, const std::string& file_name, Host& host) {
  Loader loader(host, file_name);
  try {
    return loader.Load(yaml::Load(text));
  } catch (const YAML::Exception& e) {
    if (auto tab = TabIndentation(text, file_name)) return LoadResult{std::nullopt, {*tab}};
    Location where{file_name, e.mark.line + 1, e.mark.column + 1};
    if (e.mark.is_null()) where = Location{file_name, 0, 0};
    return LoadResult{std::nullopt, {Problem{where, "YAML syntax error: " + e.msg}}};
  }
}

LoadResult LoadConfigFile(const std::string& path, Host& host) {
  std::string error;
  std::optional<std::string> text = host.ReadFile(path, error);
  if (!text) {
    return LoadResult{std::nullopt, {Problem{Location{path, 0, 0}, "cannot read the config file: " + error}}};
  }
  return LoadConfigText(*text, path, host);
}

}  // namespace yinetd::config
