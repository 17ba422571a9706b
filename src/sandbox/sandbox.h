// Sandbox: a service's `sandbox:` block, prepared once when the config is
// loaded (or reloaded) and applied by each child before exec.
//
// Prepared holds everything that allocates or may fail slowly: the seccomp
// program compiled to BPF, the Landlock ruleset's fd, the service's network
// namespace's fd, the cgroup's fd, the clone flags of the namespaces each
// connection gets. The child then applies it with raw system calls only
// (async-signal-safe, no allocation), in this order, each step needing
// what is still allowed before it and none undoing another:
//
//   0. clone itself: new pid, ipc and uts namespaces (CloneFlags), and
//      with a cgroup, straight into the service's group;
//   1. EnterNamespaces, still privileged: setns into the network
//      namespace and into the service's mount namespace, where the hidden
//      paths are covered already (mount_namespace.h); for mounts of the
//      connection's own, a copy of that namespace unshared here, with a
//      tmpfs on /tmp and /var/tmp and a fresh /proc for a pid namespace;
//   2. the process controls (rlimits, nice, chroot), then dropping to the
//      service's user (spawn/process_controls.h);
//   3. Confine, last before exec: no_new_privs (which Landlock and an
//      unprivileged seccomp need, and which keeps setuid programs from
//      escaping), landlock_restrict_self (it forbids mounting, so after
//      step 1), then the seccomp filter (last, so that the calls of the
//      steps before it need not be in its allow-list; execve must be).
#pragma once

#include <linux/filter.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "config/host.h"
#include "sandbox/mount_namespace.h"
#include "spawn/process_controls.h"
#include "sys/unique_fd.h"

namespace yinetd::sandbox {

class CgroupTree;

struct Prepared {
  int clone_flags = 0;            // CLONE_NEW* for each connection's child
  UniqueFd network_namespace;     // private_network; invalid: ours
  UniqueFd landlock_ruleset;      // read_only, writable; invalid: none
  std::vector<sock_filter> seccomp_program;  // empty: no filter
  sock_fprog seccomp_fprog{};     // points into seccomp_program
  UniqueFd mount_namespace;       // the service's (mount_namespace.h); invalid: ours
  bool mount_proc = false;        // a pid namespace: its own /proc
  unsigned private_tmp = 0;       // bits of kPrivateTmpDirs, the ones that exist
  std::vector<std::string> hidden;            // directories: an empty tmpfs over each
  std::vector<std::string> hidden_files;      // anything else: /dev/null, nodev, over each
  std::vector<Cover> covers;                  // the template's, checked by each child
  UniqueFd cgroup;                // the service's cgroup; invalid: none
  std::string mechanisms;         // "landlock,seccomp,namespaces,cgroup", for logs

  // The descriptors a connection's child reads in EnterNamespaces and
  // Confine (-1 where unset): whoever starts the child later (a TLS front)
  // must keep them open. The cgroup is not among them: it is entered at
  // the clone, by the process that clones.
  std::array<int, 3> ChildFds() const {
    return {network_namespace.Get(), landlock_ruleset.Get(), mount_namespace.Get()};
  }
};

// Throws SysError naming the step (and path) that failed. `cgroups` is
// nullptr unless the kernel offered a delegated tree; a service that needs
// one was refused by the loader then. `dynamic_user`: give each connection
// a pid namespace (dynamic_users.h says why).
std::unique_ptr<Prepared> Prepare(std::string_view service, const config::SandboxConfig& sandbox,
                                  bool dynamic_user, const config::KernelSupport& kernel, CgroupTree* cgroups);

// Which mechanisms the kernel offers, for event=start: "landlock,seccomp,
// namespaces,cgroup"; "none" without any.
std::string OfferedMechanisms(const config::KernelSupport& kernel);

// Whether each connection gets a mount namespace of its own, a copy of
// the service's (for private_tmp, or a pid namespace's /proc).
bool NeedsOwnMounts(const Prepared& prepared);

// Child side: async-signal-safe, no allocation. Step 1 (see above).
SysFailure EnterNamespaces(const Prepared& prepared);
// Child side: step 3, after privileges are dropped.
SysFailure Confine(const Prepared& prepared);

}  // namespace yinetd::sandbox
