// FakeHost: a machine with a few users, groups and executables, for tests.
#pragma once

#include <fnmatch.h>

#include <map>
#include <set>

#include "config/host.h"
#include "sandbox/probe.h"

namespace yinetd::config {

class FakeHost : public Host {
 public:
  std::map<std::string, User> users{{"root", {0, 0}}, {"nobody", {65534, 65534}}};
  std::map<std::string, gid_t> groups{{"root", 0}, {"nogroup", 65534}, {"staff", 50}};
  std::set<std::string> executables{"/bin/cat", "/bin/sh", "/usr/bin/env"};
  uid_t euid = 0;
  std::map<std::string, std::string> files;  // path → contents
  std::map<std::string, FileMode> modes;      // path → mode and owner; missing: unknown
  std::map<std::string, std::string> links;   // path → what it resolves to; missing: itself
  std::map<std::string, std::vector<gid_t>> supplementary;  // user → groups beside the primary
  // A kernel that offers every sandbox mechanism; tests take some away.
  KernelSupport kernel{3, true, true, "/sys/fs/cgroup/yinetd", ""};
  std::set<int> capabilities;                // CAP_*; empty: none
  std::map<int, uint64_t> hard_limits;       // RLIMIT_* → limit; missing: unlimited

  std::optional<User> LookupUser(const std::string& name) override {
    auto it = users.find(name);
    if (it == users.end()) return std::nullopt;
    return it->second;
  }
  std::optional<gid_t> LookupGroup(const std::string& name) override {
    auto it = groups.find(name);
    if (it == groups.end()) return std::nullopt;
    return it->second;
  }
  std::vector<gid_t> GroupsOf(const std::string& user, gid_t gid) override {
    std::vector<gid_t> all{gid};
    auto it = supplementary.find(user);
    if (it != supplementary.end()) all.insert(all.end(), it->second.begin(), it->second.end());
    return all;
  }
  std::string WhyNotExecutable(const std::string& path) override {
    return executables.count(path) ? "" : "No such file or directory";
  }
  uid_t EffectiveUid() override { return euid; }
  std::optional<FileMode> ModeOf(const std::string& path) override {
    auto it = modes.find(path);
    if (it == modes.end()) return std::nullopt;
    return it->second;
  }
  std::string RealPath(const std::string& path) override {
    auto it = links.find(path);
    return it == links.end() ? path : it->second;
  }
  std::vector<std::string> Glob(const std::string& pattern) override {
    std::vector<std::string> matches;
    for (const auto& [path, text] : files) {
      if (fnmatch(pattern.c_str(), path.c_str(), FNM_PATHNAME) == 0) matches.push_back(path);
    }
    return matches;  // std::map keeps them sorted
  }
  std::optional<std::string> ReadFile(const std::string& path, std::string& error) override {
    auto it = files.find(path);
    if (it != files.end()) return it->second;
    error = "No such file or directory";
    return std::nullopt;
  }
  const KernelSupport& Kernel() override { return kernel; }
  // libseccomp's table is data, not a question to the kernel.
  bool IsSystemCall(const std::string& name) override { return sandbox::IsSystemCall(name); }
  bool HasCapability(int capability) override { return capabilities.count(capability) > 0; }
  uint64_t HardLimit(int resource) override {
    auto it = hard_limits.find(resource);
    return it == hard_limits.end() ? UINT64_MAX : it->second;
  }
};

}  // namespace yinetd::config
