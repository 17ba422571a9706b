#include "sandbox/sandbox.h"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "sandbox/cgroup.h"
#include "sandbox/landlock.h"
#include "sandbox/network_namespace.h"
#include "sandbox/seccomp_filter.h"
#include "sys/sys_error.h"

namespace yinetd::sandbox {
namespace {

bool IsDirectory(const std::string& path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

int NamespaceFlags(const config::SandboxConfig& sandbox, bool dynamic_user) {
  int flags = 0;
  bool pid = sandbox.pid_namespace || dynamic_user;
  if (pid) flags |= CLONE_NEWPID;
  if (sandbox.ipc_namespace) flags |= CLONE_NEWIPC;
  if (sandbox.uts_namespace) flags |= CLONE_NEWUTS;
  // No CLONE_NEWNS: a child enters its service's mount namespace with
  // setns, and copies it only for mounts of its own (EnterMounts).
  return flags;
}

// `namespaces: [pid]` gets its own /proc, which needs a mount namespace.
// A dynamic user's pid namespace is there only so that its processes end
// with the connection: the host's /proc serves (/proc/self still works),
// and a mount namespace and a procfs per connection are saved.
bool UsesMountNamespace(const config::SandboxConfig& sandbox) {
  return sandbox.NeedsMountNamespace() || sandbox.pid_namespace;
}

void Append(std::string& list, const char* name) {
  if (!list.empty()) list += ',';
  list += name;
}

bool Beneath(const std::string& path, std::string_view dir) {
  return path == dir || (path.size() > dir.size() && path.starts_with(dir) && path[dir.size()] == '/');
}

bool Beneath(const std::string& path, const std::vector<std::string>& dirs) {
  return std::any_of(dirs.begin(), dirs.end(), [&](const std::string& dir) { return Beneath(path, dir); });
}

bool BeneathPrivateTmp(const std::string& path, unsigned private_tmp) {
  for (unsigned i = 0; i < std::size(kPrivateTmpDirs); ++i) {
    if ((private_tmp & (1U << i)) != 0 && Beneath(path, kPrivateTmpDirs[i])) return true;
  }
  return false;
}

void PrepareMounts(const config::SandboxConfig& sandbox, Prepared& prepared) {
  if (sandbox.private_tmp) {
    for (unsigned i = 0; i < std::size(kPrivateTmpDirs); ++i) {
      if (IsDirectory(kPrivateTmpDirs[i])) prepared.private_tmp |= 1U << i;
    }
  }
  for (const std::string& path : sandbox.hidden) {
    struct stat info;
    if (stat(path.c_str(), &info) != 0) throw SysError("hidden " + path + " (must exist)", errno);
    // Beneath a private /tmp it is gone already, and mounting on it would
    // fail: the fresh tmpfs has no such path.
    if (BeneathPrivateTmp(path, prepared.private_tmp)) continue;
    (S_ISDIR(info.st_mode) ? prepared.hidden : prepared.hidden_files).push_back(path);
  }
  // Nor can a file be covered beneath a directory hidden by an empty tmpfs.
  std::erase_if(prepared.hidden_files, [&](const std::string& path) { return Beneath(path, prepared.hidden); });
}

// Child side from here on: raw calls, no allocation.

SysFailure Fail(const char* call) { return SysFailure{call, errno}; }

SysFailure MountProc(const Prepared& prepared) {
  if (prepared.mount_proc &&
      mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
    return Fail("mount /proc");
  }
  return {};
}

// The service's mount namespace; a copy of it when the connection needs
// mounts of its own, or when a hidden path was replaced since the template
// was made (mount_namespace.h). The copy's mounts are slaves of the
// host's, as the template's are: nothing mounted in it goes back.
SysFailure EnterMounts(const Prepared& prepared) {
  if (!prepared.mount_namespace) return {};
  if (setns(prepared.mount_namespace.Get(), CLONE_NEWNS) != 0) return Fail("setns mnt");
  bool covered = CoversInPlace(prepared.covers);
  if (covered && !NeedsOwnMounts(prepared)) return {};
  if (unshare(CLONE_NEWNS) != 0) return Fail("unshare mnt");
  if (SysFailure failure = MountPrivateTmp(prepared.private_tmp); !failure.Ok()) return failure;
  if (SysFailure failure = MountProc(prepared); !failure.Ok()) return failure;
  return covered ? SysFailure{} : CoverAll(prepared.hidden, prepared.hidden_files);
}

}  // namespace

std::unique_ptr<Prepared> Prepare(std::string_view service, const config::SandboxConfig& sandbox,
                                  bool dynamic_user, const config::KernelSupport& kernel, CgroupTree* cgroups) {
  auto prepared = std::make_unique<Prepared>();
  prepared->clone_flags = NamespaceFlags(sandbox, dynamic_user);
  prepared->mount_proc = sandbox.pid_namespace;
  PrepareMounts(sandbox, *prepared);
  if (UsesMountNamespace(sandbox)) {
    MountTemplate made = MakeMountTemplate(prepared->hidden, prepared->hidden_files);
    prepared->mount_namespace = std::move(made.ns);
    prepared->covers = std::move(made.covers);
  }
  if (sandbox.private_network) prepared->network_namespace = MakeLoopbackNamespace();
  if (prepared->clone_flags != 0 || prepared->mount_namespace || prepared->network_namespace) {
    Append(prepared->mechanisms, "namespaces");
  }
  if (sandbox.NeedsLandlock()) {
    prepared->landlock_ruleset = MakeLandlockRuleset(sandbox, kernel.landlock_abi);
    Append(prepared->mechanisms, "landlock");
  }
  prepared->seccomp_program = CompileSeccompFilter(sandbox);
  if (!prepared->seccomp_program.empty()) {
    prepared->seccomp_fprog.len = static_cast<unsigned short>(prepared->seccomp_program.size());
    prepared->seccomp_fprog.filter = prepared->seccomp_program.data();
    Append(prepared->mechanisms, "seccomp");
  }
  if (sandbox.NeedsCgroup() && cgroups != nullptr) {
    prepared->cgroup = cgroups->PrepareService(service, sandbox);
    Append(prepared->mechanisms, "cgroup");
  }
  return prepared;
}

// Mounts no other connection may see: a /proc of its pid namespace, an
// empty /tmp.
bool NeedsOwnMounts(const Prepared& prepared) {
  return prepared.mount_namespace && (prepared.mount_proc || prepared.private_tmp != 0);
}

std::string OfferedMechanisms(const config::KernelSupport& kernel) {
  std::string list;
  if (kernel.landlock_abi > 0) Append(list, "landlock");
  if (kernel.seccomp) Append(list, "seccomp");
  if (kernel.namespaces) Append(list, "namespaces");
  if (!kernel.cgroup_root.empty()) Append(list, "cgroup");
  return list.empty() ? "none" : list;
}

SysFailure EnterNamespaces(const Prepared& prepared) {
  if (prepared.network_namespace && setns(prepared.network_namespace.Get(), CLONE_NEWNET) != 0) {
    return Fail("setns net");
  }
  return EnterMounts(prepared);
}

SysFailure Confine(const Prepared& prepared) {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return Fail("no_new_privs");
  if (prepared.landlock_ruleset && syscall(SYS_landlock_restrict_self, prepared.landlock_ruleset.Get(), 0) != 0) {
    return Fail("landlock_restrict_self");
  }
  if (!prepared.seccomp_program.empty() &&
      syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prepared.seccomp_fprog) != 0) {
    return Fail("seccomp");
  }
  return {};
}

}  // namespace yinetd::sandbox
