// Process controls: a service's chroot, rlimits, nice, chdir, umask and
// no_new_privs, applied in the child between fork and exec.
//
// The order is what makes them stick. While the child is still privileged:
// rlimits (a hard limit can only be raised with privilege, and the program
// cannot raise it again once we drop), nice (a negative value needs
// privilege), chroot then chdir("/") (chroot needs privilege; the chdir
// leaves no directory handle outside the new root). Then the caller drops
// privileges. Then, as the program's user: chdir into the configured
// directory (its permissions checked as that user), umask, and
// no_new_privs last, just before exec.
//
// Both functions run after fork: async-signal-safe calls only, no
// allocation. Every value was checked when the config was loaded.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sys/sys_error.h"

namespace yinetd::spawn {

// One resource limit, set as both soft and hard limit.
struct ResourceLimit {
  int resource = 0;    // RLIMIT_*
  uint64_t value = 0;  // RLIM_INFINITY: none
};

// The defaults change nothing but the directory, to /.
struct ProcessControls {
  std::string chroot;           // "": none
  std::string chdir = "/";      // inside the chroot, if any
  std::optional<mode_t> umask;  // unset: inherit ours
  std::optional<int> nice;      // unset: inherit ours
  std::vector<ResourceLimit> rlimits;
  bool no_new_privs = false;
};

// Each returns the step that failed (a name like "setrlimit nofile") and
// its errno, or success.

// rlimits, nice, chroot: before dropping privileges.
SysFailure ApplyPrivilegedControls(const ProcessControls& controls);

// chdir, umask, no_new_privs: after dropping privileges.
SysFailure ApplyUnprivilegedControls(const ProcessControls& controls);

}  // namespace yinetd::spawn
