#include "config/sandbox_keys.h"

#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <utility>

#include "config/loader.h"
#include "sandbox/system_call_sets.h"

namespace yinetd::config {
namespace {

struct FamilyName {
  std::string_view name;
  int family;
};

constexpr FamilyName kFamilies[] = {
    {"unix", AF_UNIX}, {"inet", AF_INET},       {"inet6", AF_INET6},
    {"netlink", AF_NETLINK}, {"packet", AF_PACKET}, {"vsock", AF_VSOCK},
};

// What to tell someone whose kernel lacks a mechanism.
constexpr std::string_view kNeedLandlock =
    "needs Landlock (Linux 5.13 or later with landlock in the lsm= boot list), which this kernel does not offer";
constexpr std::string_view kNeedSeccomp = "needs seccomp filters, which this kernel does not offer";
constexpr std::string_view kNeedNamespaces =
    "needs namespaces, which yinetd may not make without CAP_SYS_ADMIN: run it as root";

class SandboxParser {
 public:
  SandboxParser(const std::string& file, Host& host, SandboxConfig& sandbox, std::vector<Problem>& problems)
      : file_(file), host_(host), sandbox_(sandbox), problems_(problems) {}

  void Parse(const yaml::Node& node);

 private:
  void ParseKey(const std::string& key, const yaml::Node& value);
  void Report(const yaml::Node& node, std::string message);
  void Require(const yaml::Node& node, const std::string& key, bool offered, std::string_view why);
  std::optional<bool> Bool(const yaml::Node& node, const std::string& key);
  std::optional<std::string> Scalar(const yaml::Node& node, const std::string& key);
  std::vector<std::pair<std::string, yaml::Node>> List(const yaml::Node& node, const std::string& key);
  std::vector<std::string> Paths(const yaml::Node& node, const std::string& key);
  void ParseSystemCalls(const yaml::Node& node);
  void AddSystemCalls(const yaml::Node& node, const std::string& name, std::vector<std::string>& calls);
  void ParseAddressFamilies(const yaml::Node& node);
  void ParseNamespaces(const yaml::Node& node);
  void ParseMemoryMax(const yaml::Node& node);
  void ParseTasksMax(const yaml::Node& node);
  void ParseCpuMax(const yaml::Node& node);

  const std::string& file_;
  Host& host_;
  SandboxConfig& sandbox_;
  std::vector<Problem>& problems_;
};

void SandboxParser::Report(const yaml::Node& node, std::string message) {
  yaml::Position mark = node.Where();
  Location where = mark.is_null() ? Location{file_, 0, 0} : Location{file_, mark.line + 1, mark.column + 1};
  problems_.push_back(Problem{std::move(where), std::move(message)});
}

void SandboxParser::Require(const yaml::Node& node, const std::string& key, bool offered, std::string_view why) {
  if (!offered) Report(node, "sandbox." + key + " " + std::string(why));
}

std::optional<std::string> SandboxParser::Scalar(const yaml::Node& node, const std::string& key) {
  if (node.IsScalar()) return node.Scalar();
  Report(node, "sandbox." + key + " must be a single value");
  return std::nullopt;
}

std::optional<bool> SandboxParser::Bool(const yaml::Node& node, const std::string& key) {
  auto text = Scalar(node, key);
  if (!text) return std::nullopt;
  if (*text == "true") return true;
  if (*text == "false") return false;
  Report(node, "sandbox." + key + " must be true or false, not '" + *text + "'");
  return std::nullopt;
}

// A list of scalars (a single value counts as a list of one).
std::vector<std::pair<std::string, yaml::Node>> SandboxParser::List(const yaml::Node& node, const std::string& key) {
  std::vector<std::pair<std::string, yaml::Node>> items;
  if (node.IsScalar()) {
    items.emplace_back(node.Scalar(), node);
    return items;
  }
  if (!node.IsSequence()) {
    Report(node, "sandbox." + key + " must be a list like [a, b]");
    return items;
  }
  for (const auto& item : node) {
    if (item.IsScalar()) {
      items.emplace_back(item.Scalar(), item);
    } else {
      Report(item, "each item of sandbox." + key + " must be a single value");
    }
  }
  return items;
}

std::vector<std::string> SandboxParser::Paths(const yaml::Node& node, const std::string& key) {
  std::vector<std::string> paths;
  for (const auto& [text, item] : List(node, key)) {
    if (text.empty() || text[0] != '/') {
      Report(item, "sandbox." + key + " takes absolute paths, not '" + text + "'");
      continue;
    }
    std::string path = std::filesystem::path(text).lexically_normal().string();
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    if (path == "/") {
      Report(item, "sandbox." + key + " cannot name / itself: name the directories inside it");
      continue;
    }
    paths.push_back(path);
  }
  return paths;
}

void SandboxParser::Parse(const yaml::Node& node) {
  if (!node.IsMap()) {
    Report(node, "sandbox must be a map of keys like {private_tmp: true}");
    return;
  }
  for (const auto& entry : node) ParseKey(entry.first.Scalar(), entry.second);
  for (const std::string& path : sandbox_.writable) {
    if (std::find(sandbox_.hidden.begin(), sandbox_.hidden.end(), path) != sandbox_.hidden.end()) {
      Report(node, "sandbox: " + path + " is both writable and hidden: keep it in one list");
    }
  }
}

void SandboxParser::ParseKey(const std::string& key, const yaml::Node& value) {
  const KernelSupport& kernel = host_.Kernel();
  if (key == "private_network" || key == "private_tmp" || key == "read_only") {
    auto flag = Bool(value, key);
    if (!flag) return;
    if (key == "private_network") sandbox_.private_network = *flag;
    if (key == "private_tmp") sandbox_.private_tmp = *flag;
    if (key == "read_only") sandbox_.read_only = *flag;
    if (*flag) {
      bool landlock = key == "read_only";
      Require(value, key, landlock ? kernel.landlock_abi > 0 : kernel.namespaces,
              landlock ? kNeedLandlock : kNeedNamespaces);
    }
  } else if (key == "writable") {
    sandbox_.writable = Paths(value, key);
    Require(value, key, kernel.landlock_abi > 0, kNeedLandlock);
  } else if (key == "hidden") {
    sandbox_.hidden = Paths(value, key);
    Require(value, key, kernel.namespaces, kNeedNamespaces);
  } else if (key == "system_calls") {
    ParseSystemCalls(value);
  } else if (key == "address_families") {
    ParseAddressFamilies(value);
  } else if (key == "namespaces") {
    ParseNamespaces(value);
  } else if (key == "memory_max") {
    ParseMemoryMax(value);
  } else if (key == "tasks_max") {
    ParseTasksMax(value);
  } else if (key == "cpu_max") {
    ParseCpuMax(value);
  } else {
    std::string message = "unknown key '" + key + "' under sandbox";
    std::string nearest = NearestWord(key, SandboxKeyNames());
    if (!nearest.empty()) message += ": did you mean '" + nearest + "'?";
    Report(value, message);
  }
}

void SandboxParser::ParseSystemCalls(const yaml::Node& node) {
  std::vector<std::string> calls;
  for (const auto& [name, item] : List(node, "system_calls")) AddSystemCalls(item, name, calls);
  std::sort(calls.begin(), calls.end());
  calls.erase(std::unique(calls.begin(), calls.end()), calls.end());
  sandbox_.system_calls = std::move(calls);
  Require(node, "system_calls", host_.Kernel().seccomp, kNeedSeccomp);
}

// `name` is a set ("service"; "@service" inside a list) or one call.
void SandboxParser::AddSystemCalls(const yaml::Node& node, const std::string& name,
                                   std::vector<std::string>& calls) {
  std::string_view set_name = name;
  if (!set_name.empty() && set_name[0] == '@') set_name.remove_prefix(1);
  if (const auto* set = sandbox::SystemCallSet(set_name)) {
    // A set may name calls this architecture lacks: skip those.
    for (std::string_view call : *set) {
      if (host_.IsSystemCall(std::string(call))) calls.emplace_back(call);
    }
    return;
  }
  if (!host_.IsSystemCall(name)) {
    Report(node, "sandbox.system_calls: '" + name + "' is neither a system call on this machine nor a set (service)");
    return;
  }
  calls.push_back(name);
}

void SandboxParser::ParseAddressFamilies(const yaml::Node& node) {
  std::vector<int> families;
  for (const auto& [name, item] : List(node, "address_families")) {
    // A named copy: clang 14 cannot capture a structured binding.
    const std::string& wanted = name;
    auto known = std::find_if(std::begin(kFamilies), std::end(kFamilies),
                              [&](const FamilyName& family) { return family.name == wanted; });
    if (known == std::end(kFamilies)) {
      Report(item, "sandbox.address_families: unknown family '" + name +
                       "': use unix, inet, inet6, netlink, packet or vsock");
      continue;
    }
    families.push_back(known->family);
  }
  sandbox_.address_families = std::move(families);
  Require(node, "address_families", host_.Kernel().seccomp, kNeedSeccomp);
}

void SandboxParser::ParseNamespaces(const yaml::Node& node) {
  for (const auto& [name, item] : List(node, "namespaces")) {
    if (name == "pid") {
      sandbox_.pid_namespace = true;
    } else if (name == "ipc") {
      sandbox_.ipc_namespace = true;
    } else if (name == "uts") {
      sandbox_.uts_namespace = true;
    } else {
      Report(item, "sandbox.namespaces: unknown namespace '" + name +
                       "': use pid, ipc or uts (private_network and private_tmp make the others)");
    }
  }
  Require(node, "namespaces", host_.Kernel().namespaces, kNeedNamespaces);
}

void SandboxParser::ParseMemoryMax(const yaml::Node& node) {
  auto text = Scalar(node, "memory_max");
  if (!text) return;
  auto bytes = ParseLimitValue(*text);
  if (!bytes || *bytes < 1024 * 1024 || *text == "unlimited") {
    Report(node, "sandbox.memory_max must be a size of at least 1M, like 256M or 2G, not '" + *text + "'");
    return;
  }
  sandbox_.memory_max = *bytes;
  Require(node, "memory_max", !host_.Kernel().cgroup_root.empty(), "needs " + host_.Kernel().cgroup_why_not);
}

void SandboxParser::ParseTasksMax(const yaml::Node& node) {
  auto text = Scalar(node, "tasks_max");
  if (!text) return;
  int tasks = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), tasks);
  if (ec != std::errc() || end != text->data() + text->size() || tasks < 1 || tasks > 4'194'304) {
    Report(node, "sandbox.tasks_max must be a number of processes from 1 to 4194304, not '" + *text + "'");
    return;
  }
  sandbox_.tasks_max = tasks;
  Require(node, "tasks_max", !host_.Kernel().cgroup_root.empty(), "needs " + host_.Kernel().cgroup_why_not);
}

void SandboxParser::ParseCpuMax(const yaml::Node& node) {
  auto text = Scalar(node, "cpu_max");
  if (!text) return;
  int percent = 0;
  std::string_view digits = *text;
  bool has_sign = !digits.empty() && digits.back() == '%';
  if (has_sign) digits.remove_suffix(1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), percent);
  if (!has_sign || ec != std::errc() || end != digits.data() + digits.size() || percent < 1 || percent > 100'000) {
    Report(node, "sandbox.cpu_max must be a percentage of one CPU, like 50% or 200%, not '" + *text + "'");
    return;
  }
  sandbox_.cpu_max_percent = percent;
  Require(node, "cpu_max", !host_.Kernel().cgroup_root.empty(), "needs " + host_.Kernel().cgroup_why_not);
}

}  // namespace

const std::vector<std::string_view>& SandboxKeyNames() {
  static const std::vector<std::string_view> names = {
      "private_network", "private_tmp", "read_only", "writable",  "hidden",  "system_calls",
      "address_families", "namespaces", "memory_max", "tasks_max", "cpu_max"};
  return names;
}

void ParseSandbox(const yaml::Node& node, const std::string& file, Host& host, SandboxConfig& sandbox,
                  std::vector<Problem>& problems) {
  SandboxParser(file, host, sandbox, problems).Parse(node);
}

std::optional<DynamicUserRange> ParseDynamicUserRange(std::string_view text) {
  size_t dash = text.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  uint64_t first = 0, last = 0;
  std::string_view a = text.substr(0, dash), b = text.substr(dash + 1);
  auto [a_end, a_ec] = std::from_chars(a.data(), a.data() + a.size(), first);
  auto [b_end, b_ec] = std::from_chars(b.data(), b.data() + b.size(), last);
  if (a.empty() || b.empty() || a_ec != std::errc() || b_ec != std::errc() || a_end != a.data() + a.size() ||
      b_end != b.data() + b.size()) {
    return std::nullopt;
  }
  if (first == 0 || first > last || last >= (1ULL << 31)) return std::nullopt;
  return DynamicUserRange{static_cast<uid_t>(first), static_cast<uid_t>(last)};
}

}  // namespace yinetd::config
