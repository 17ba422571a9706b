#include "sandbox/facilities.h"

#include <unistd.h>

#include "sandbox/probe.h"

namespace yinetd::sandbox {

const config::KernelSupport& Facilities::Kernel() {
  if (!kernel_) kernel_ = ProbeKernel();
  return *kernel_;
}

std::unique_ptr<Prepared> Facilities::Prepare(const config::ServiceConfig& service) {
  if (!service.sandbox.Any() && !service.dynamic_user) return nullptr;
  const config::KernelSupport& kernel = Kernel();
  // The loader refused cgroup keys without a tree, so one exists here.
  if (service.sandbox.NeedsCgroup() && !cgroups_ && !kernel.cgroup_root.empty()) {
    cgroups_ = std::make_unique<CgroupTree>(kernel.cgroup_root, getpid());
  }
  return sandbox::Prepare(service.name, service.sandbox, service.dynamic_user, kernel, cgroups_.get());
}

void Facilities::SetDynamicUsers(const std::optional<config::DynamicUserRange>& range) {
  if (!range) {
    dynamic_users_.reset();
    return;
  }
  if (dynamic_users_ && dynamic_users_->Range() == *range) return;
  dynamic_users_ = std::make_unique<DynamicUsers>(*range);
  for (const auto& [pid, uid] : holders_) dynamic_users_->Hold(uid);
}

std::optional<spawn::Credentials> Facilities::AcquireDynamicUser() {
  if (!dynamic_users_) return std::nullopt;
  std::optional<uid_t> uid = dynamic_users_->Acquire();
  if (!uid) return std::nullopt;
  spawn::Credentials credentials;
  credentials.uid = *uid;
  credentials.gid = *uid;
  credentials.set_uid = true;
  credentials.groups = {*uid};
  return credentials;
}

void Facilities::Release(uid_t uid) {
  if (dynamic_users_) dynamic_users_->Release(uid);
}

void Facilities::Ended(pid_t pid) {
  auto holder = holders_.find(pid);
  if (holder == holders_.end()) return;
  Release(holder->second);
  holders_.erase(holder);
}

}  // namespace yinetd::sandbox
