// Host: the facts about this machine that validating a config needs.
//
// The loader asks these questions through an interface so that it stays
// free of syscalls and the tests can answer them with a fake.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace yinetd::config {

// What the running kernel (and our privileges) offer a sandbox; see
// sandbox/probe.h, which finds it out.
struct KernelSupport {
  int landlock_abi = 0;       // 0: no Landlock
  bool seccomp = false;       // seccomp filters
  bool namespaces = false;    // may make mount, pid, ipc, uts, net namespaces
  std::string cgroup_root;    // a writable cgroup v2 directory delegated to us
  std::string cgroup_why_not; // when cgroup_root is "": why, and what to enable
};

// Far above any real config; a bound so that a huge or endless file cannot
// fill the supervisor's memory.
inline constexpr size_t kMaxConfigFileBytes = 16 * 1024 * 1024;

class Host {
 public:
  struct User {
    uid_t uid;
    gid_t gid;  // primary group
  };
  // Who may do what to a file: stat(2)'s answer, links followed.
  struct FileMode {
    mode_t mode;
    uid_t uid;
    gid_t gid;
  };

  virtual ~Host() = default;
  virtual std::optional<User> LookupUser(const std::string& name) = 0;
  virtual std::optional<gid_t> LookupGroup(const std::string& name) = 0;
  // Every group `user` belongs to, `gid` included (getgrouplist).
  virtual std::vector<gid_t> GroupsOf(const std::string& user, gid_t gid) = 0;
  // Empty if `path` is an executable regular file, otherwise why not.
  virtual std::string WhyNotExecutable(const std::string& path) = 0;
  // The effective uid yinetd runs as.
  virtual uid_t EffectiveUid() = 0;
  // `path`'s mode and owner (links followed), or nullopt if it cannot be
  // read.
  virtual std::optional<FileMode> ModeOf(const std::string& path) = 0;
  // `path` with every link resolved (realpath(3)), or "" if it cannot be.
  virtual std::string RealPath(const std::string& path) = 0;
  // The paths matching a glob pattern, sorted; none if nothing matches.
  virtual std::vector<std::string> Glob(const std::string& pattern) = 0;
  // A regular file's contents, at most kMaxConfigFileBytes, or nullopt with
  // `error` saying why not. Never blocks (a FIFO or device is refused).
  virtual std::optional<std::string> ReadFile(const std::string& path, std::string& error) = 0;
  // What the kernel offers `sandbox:` (probed once, then remembered).
  virtual const KernelSupport& Kernel() = 0;
  // Whether `name` is a system call on this architecture (libseccomp's table).
  virtual bool IsSystemCall(const std::string& name) = 0;
  // Whether yinetd's effective capability set holds `capability` (CAP_*
  // from <linux/capability.h>). Under systemd it is bounded by the unit's
  // CapabilityBoundingSet=, even for root.
  virtual bool HasCapability(int capability) = 0;
  // yinetd's hard limit for `resource` (RLIMIT_*); RLIM_INFINITY if none.
  virtual uint64_t HardLimit(int resource) = 0;
};

// The real machine, through libc.
class SystemHost : public Host {
 public:
  std::optional<User> LookupUser(const std::string& name) override;
  std::optional<gid_t> LookupGroup(const std::string& name) override;
  std::vector<gid_t> GroupsOf(const std::string& user, gid_t gid) override;
  std::string WhyNotExecutable(const std::string& path) override;
  uid_t EffectiveUid() override;
  std::optional<FileMode> ModeOf(const std::string& path) override;
  std::string RealPath(const std::string& path) override;
  std::vector<std::string> Glob(const std::string& pattern) override;
  std::optional<std::string> ReadFile(const std::string& path, std::string& error) override;
  const KernelSupport& Kernel() override;
  bool IsSystemCall(const std::string& name) override;
  bool HasCapability(int capability) override;
  uint64_t HardLimit(int resource) override;

 private:
  std::optional<KernelSupport> kernel_;
};

}  // namespace yinetd::config
