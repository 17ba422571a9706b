// CgroupTree: the cgroup v2 directory delegated to yinetd, one child group
// per service that sets memory_max, tasks_max or cpu_max.
//
// v2's rule that a group handing controllers to its children holds no
// processes itself means we first move into a leaf of our own
// (ROOT/supervisor), then enable memory, pids and cpu for ROOT's children,
// and make ROOT/service.NAME per service. Children start straight in their
// service's group (clone3 with CLONE_INTO_CGROUP, the group's fd), so a
// service's limits hold from its first instruction; cgroup.kill ends a
// whole service's tree at shutdown and timeout.
//
// Only files are touched, under a root given at construction: tests run it
// against a temporary directory that stands in for /sys/fs/cgroup.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"
#include "sys/unique_fd.h"

namespace yinetd::sandbox {

// What a service's group reports.
struct CgroupUsage {
  std::optional<uint64_t> memory_peak;  // bytes (memory.peak)
  std::optional<uint64_t> oom_kills;    // memory.events' oom_kill
};

// The cpu.max line for a percentage of one CPU: "50000 100000".
std::string CpuMaxValue(int percent);

// The value of `key` in a flat-keyed file like memory.events.
std::optional<uint64_t> FlatKeyedValue(std::string_view text, std::string_view key);

// On a service's group, opened as a directory (PrepareService's fd), so
// that neither needs its path:
// cgroup.kill, SIGKILL to every process in the group and its descendants,
// also those that left their process group. False (errno set) if it could
// not be written (no such group, or a kernel before 5.14).
bool KillGroup(int group_dir);
// memory.peak (Linux 5.19) and memory.events' oom_kill; each unset when
// its file cannot be read.
CgroupUsage ReadUsage(int group_dir);

class CgroupTree {
 public:
  // Throws SysError naming the file that could not be written.
  CgroupTree(std::string root, pid_t self);

  const std::string& Root() const { return root_; }
  std::string ServiceDir(std::string_view service) const;

  // Creates (or updates) the service's group with its limits and returns
  // it opened as a directory, for CLONE_INTO_CGROUP. Throws SysError.
  UniqueFd PrepareService(std::string_view service, const config::SandboxConfig& sandbox);
  // Removes the group of a service gone from the config, once empty.
  bool RemoveService(std::string_view service);

 private:
  std::string root_;
};

}  // namespace yinetd::sandbox
