#include "spawn/process_controls.h"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace yinetd::spawn {
namespace {

SysFailure Failed(const char* step) { return SysFailure{step, errno}; }

// A constant step name per limit, since nothing may be formatted here.
const char* LimitStep(int resource) {
  switch (resource) {
    case RLIMIT_NOFILE: return "setrlimit nofile";
    case RLIMIT_NPROC: return "setrlimit nproc";
    case RLIMIT_AS: return "setrlimit as";
    case RLIMIT_CPU: return "setrlimit cpu";
    case RLIMIT_CORE: return "setrlimit core";
    case RLIMIT_FSIZE: return "setrlimit fsize";
    default: return "setrlimit";
  }
}

SysFailure SetLimits(const ProcessControls& controls) {
  for (const ResourceLimit& limit : controls.rlimits) {
    rlimit value{static_cast<rlim_t>(limit.value), static_cast<rlim_t>(limit.value)};
    if (setrlimit(static_cast<__rlimit_resource>(limit.resource), &value) != 0) return Failed(LimitStep(limit.resource));
  }
  return SysFailure{};
}

}  // namespace

SysFailure ApplyPrivilegedControls(const ProcessControls& controls) {
  if (SysFailure error = SetLimits(controls); !error.Ok()) return error;
  if (controls.nice && setpriority(PRIO_PROCESS, 0, *controls.nice) != 0) return Failed("setpriority");
  if (!controls.chroot.empty()) {
    if (chroot(controls.chroot.c_str()) != 0) return Failed("chroot");
    if (chdir("/") != 0) return Failed("chdir");
  }
  return SysFailure{};
}

SysFailure ApplyUnprivilegedControls(const ProcessControls& controls) {
  if (chdir(controls.chdir.c_str()) != 0) return Failed("chdir");
  if (controls.umask) umask(*controls.umask);
  if (controls.no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return Failed("prctl no_new_privs");
  return SysFailure{};
}

}  // namespace yinetd::spawn
