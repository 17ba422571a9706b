// SeccompFilter: a service's system_calls and address_families, compiled
// once with libseccomp into a classic BPF program kept in memory.
//
// The child installs that program with the raw seccomp(2) call: libseccomp
// allocates, so it has no place between clone and exec. A denied call
// fails with EPERM (never a kill): a program that probes for a call it may
// not use goes on as it would on an older kernel.
#pragma once

#include <linux/filter.h>

#include <vector>

#include "config/config.h"

namespace yinetd::sandbox {

// Throws SysError naming the libseccomp step that failed. Empty when the
// sandbox filters nothing.
std::vector<sock_filter> CompileSeccompFilter(const config::SandboxConfig& sandbox);

}  // namespace yinetd::sandbox
