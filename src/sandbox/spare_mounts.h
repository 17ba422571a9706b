// Mount namespaces made ahead, on a thread of ours, for the connections
// that need mounts of their own (private_tmp, a pid namespace's /proc).
//
// Why: such a child copied its service's namespace (unshare) and mounted a
// fresh /tmp and /var/tmp between clone and exec, while the supervisor,
// which shares its memory until the exec, waited (spawn/spawner.h). Every
// connection of every service waited behind those mounts. A namespace
// made ahead, a copy of the service's with the fresh tmpfs mounts in
// place, leaves the child one setns. The copy is made exactly as the
// child made it (mount_namespace.h): the service's namespace entered, then
// unshared, so its mounts are slaves of the host's as before.
//
// Each namespace serves one connection only and is dropped after it (the
// spawner holds it until the child is reaped, then hands it to the
// NamespaceReleaser). When none is ready (a burst), the child makes its
// own copy, as it did before there were spares: a spare is never needed
// for correctness.
//
// Ownership in flight: requests and spares travel as SCM_RIGHTS over unix
// sockets, so the kernel owns every descriptor between the two threads.
// When a service goes (a reload), its queue is closed and whatever was
// made for it is closed with it; nothing leaks and nothing reaches the
// next generation of the service.
#pragma once

#include <thread>

#include "sys/sys_error.h"
#include "sys/unique_fd.h"

namespace yinetd::sandbox {

// The directories a private_tmp gets a fresh tmpfs on, as bits of a mask:
// a plain number is what the maker's thread can be sent without
// allocating.
inline constexpr const char* kPrivateTmpDirs[] = {"/tmp", "/var/tmp"};

// Async-signal-safe: an empty tmpfs (mode 1777) on each directory of
// `mask`. The maker's, and a child's that made its own copy.
SysFailure MountPrivateTmp(unsigned mask);

// The namespaces made for one service (a socket pair of its own), and how
// many were asked for and not yet taken. One per Prepared (sandbox.h).
class SpareQueue {
 public:
  // Throws SysError (socketpair).
  SpareQueue();

 private:
  friend class SpareMaker;
  UniqueFd ours_;    // where the spares arrive; non-blocking
  UniqueFd theirs_;  // sent with each request: where the maker answers
  int outstanding_ = 0;
};

class SpareMaker {
 public:
  // How many namespaces each service has made ahead, or being made: a
  // burst larger than this makes its own for the rest.
  static constexpr int kAhead = 2;

  // Throws SysError (socketpair) or std::system_error (the thread).
  SpareMaker();
  // Ends the thread; requests not yet served are dropped with their fds.
  ~SpareMaker();
  SpareMaker(const SpareMaker&) = delete;
  SpareMaker& operator=(const SpareMaker&) = delete;

  // A namespace made ahead from `service_ns` with a fresh tmpfs on each
  // directory of `tmp_mask`, or an invalid fd when none is ready yet; asks
  // for more either way, up to kAhead. Never blocks.
  UniqueFd Take(SpareQueue& queue, int service_ns, unsigned tmp_mask);

 private:
  UniqueFd requests_;  // our end; non-blocking
  std::thread thread_;
};

}  // namespace yinetd::sandbox
