// Probe: what the running kernel offers a sandbox, asked once at load.
//
// The loader never calls these itself: it asks config::Host, whose real
// implementation lands here, so that `--check` reports a key this kernel
// cannot honour and the loader's tests answer with a fake.
#pragma once

#include <string>
#include <string_view>

#include "config/host.h"

namespace yinetd::sandbox {

config::KernelSupport ProbeKernel();

// The Landlock ABI version the kernel reports; 0 without Landlock.
int LandlockAbi();

// Where cgroup v2 is mounted, read from /proc/self/mountinfo's text; "" if
// it is not. Pure, for tests.
std::string CgroupV2Mount(std::string_view mountinfo);

// Our own cgroup v2 path ("/system.slice/yinetd.service") from
// /proc/self/cgroup's text; "" if we are in none. Pure, for tests.
std::string CgroupV2Path(std::string_view proc_self_cgroup);

// Whether `name` is a system call on this architecture (libseccomp).
bool IsSystemCall(const std::string& name);

}  // namespace yinetd::sandbox
