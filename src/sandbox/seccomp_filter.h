// SeccompFilter: a service's system_calls and address_families, compiled
// once into a classic BPF program kept in memory: on x86_64 our own
// (compact_filter.h) unless libseccomp's is shorter, on any other
// architecture libseccomp's.
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

// The two programs CompileSeccompFilter chooses from, for the test that
// proves they decide alike. CompileCompactFilter's is for x86_64 only
// (it kills a call from any other architecture).
std::vector<sock_filter> CompileCompactFilter(const config::SandboxConfig& sandbox);
std::vector<sock_filter> CompileWithLibseccomp(const config::SandboxConfig& sandbox);

}  // namespace yinetd::sandbox
