// Facilities: what the supervisor keeps for its services' sandboxes.
//
// What the kernel offers (probed once, when a service first needs a
// sandbox, so a config without one never probes), the delegated cgroup
// tree (adopted when a service first sets a cgroup limit) and the pool of
// dynamic users with who holds which uid. All of it is used on the loop
// thread: Prepare runs at load and reload (and makes a network namespace
// on a thread of its own); the rest is bookkeeping without system calls.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>

#include "config/config.h"
#include "sandbox/cgroup.h"
#include "sandbox/dynamic_users.h"
#include "sandbox/sandbox.h"
#include "spawn/credentials.h"

namespace yinetd::sandbox {

class Facilities {
 public:
  // The service's sandbox made ready, or nullptr when it has none. Throws
  // SysError naming the step that failed.
  std::unique_ptr<Prepared> Prepare(const config::ServiceConfig& service);

  // After a load or reload: the range `user: dynamic` draws from. The uids
  // running connections hold stay held in the new range.
  void SetDynamicUsers(const std::optional<config::DynamicUserRange>& range);
  // Credentials for a new connection of a `user: dynamic` service, or
  // nullopt when every uid of the range is held.
  std::optional<spawn::Credentials> AcquireDynamicUser();
  // The connection's child `pid` started (or failed to) as `uid`.
  void Holds(pid_t pid, uid_t uid) { holders_[pid] = uid; }
  void Release(uid_t uid);
  // The child `pid` was reaped: its uid, if any, is free again.
  void Ended(pid_t pid);
  size_t DynamicUsersHeld() const { return holders_.size(); }

 private:
  const config::KernelSupport& Kernel();

  std::optional<config::KernelSupport> kernel_;
  std::unique_ptr<CgroupTree> cgroups_;
  std::unique_ptr<DynamicUsers> dynamic_users_;
  std::map<pid_t, uid_t> holders_;
};

}  // namespace yinetd::sandbox
