// Namespaces made ahead, on a thread of ours, for the connections that
// get namespaces of their own which are costly to make: a copy of the
// service's mount namespace (private_tmp, a pid namespace's /proc) and a
// System V IPC namespace (namespaces: [ipc]).
//
// Why: a cloned child runs in our memory, and we sleep until it has
// exec'd (spawn/spawner.h). Whatever it makes before exec, every
// connection of every service waits behind: the copy of the mount
// namespace and the fresh tmpfs on /tmp and /var/tmp, and an IPC
// namespace (its own mqueue file system, made in clone). Made ahead, each
// costs the child one setns. The copy is made exactly as the child made
// it (mount_namespace.h): the service's namespace entered, then unshared,
// so its mounts are slaves of the host's as before.
//
// Each spare serves one connection only and is dropped after it: the
// spawner holds its namespaces until the child is reaped, then hands them
// to the NamespaceReleaser, which also takes their teardown off the child's
// exit. When none is ready (a burst), the child makes its own, as it did
// before there were spares: a spare is never needed for correctness.
//
// Ownership in flight: requests and spares travel as SCM_RIGHTS over unix
// sockets, so the kernel owns every descriptor between the two threads.
// When a service goes (a reload), its queue is closed and whatever was
// made for it is closed with it; nothing leaks, and nothing made for one
// generation of a service reaches the next.
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

// What a service's spares hold.
struct SpareKinds {
  bool mounts = false;      // a copy of the service's mount namespace ...
  unsigned tmp_mask = 0;    // ... with a fresh tmpfs on these (kPrivateTmpDirs)
  bool ipc = false;         // an IPC namespace, made after the copy
};

// A child's namespaces made ahead; -1 where none was (the child makes its
// own). Borrowed: the spawner owns them (Spare).
struct OwnNamespaces {
  int mounts = -1;
  int ipc = -1;
};

// One spare, owned.
struct Spare {
  UniqueFd mounts, ipc;
  bool Ready() const { return mounts.Valid() || ipc.Valid(); }
  OwnNamespaces Borrow() const { return {mounts.Get(), ipc.Get()}; }
};

// The spares made for one service (a socket pair of its own), and how
// many were asked for and not yet taken. One per Prepared (sandbox.h).
class SpareQueue {
 public:
  // Throws SysError (socketpair).
  explicit SpareQueue(SpareKinds kinds);
  const SpareKinds& Kinds() const { return kinds_; }

 private:
  friend class SpareMaker;
  SpareKinds kinds_;
  UniqueFd ours_;    // where the spares arrive; non-blocking
  UniqueFd theirs_;  // sent with each request: where the maker answers
  int outstanding_ = 0;
};

class SpareMaker {
 public:
  // How many spares each service has made ahead, or being made: a burst
  // larger than this makes its own for the rest.
  static constexpr int kAhead = 2;

  // Throws SysError (socketpair) or std::system_error (the thread). The
  // thread keeps the signal mask of its maker: the spawner makes it with
  // every signal blocked (Spawn), so that signals stay the loop's.
  SpareMaker();
  // Ends the thread; requests not yet served are dropped with their fds.
  ~SpareMaker();
  SpareMaker(const SpareMaker&) = delete;
  SpareMaker& operator=(const SpareMaker&) = delete;

  // A spare made for `queue`'s service from `service_mounts` (its mount
  // namespace, when its spares copy it), or none when none is ready yet;
  // asks for more either way, up to kAhead. Never blocks.
  Spare Take(SpareQueue& queue, int service_mounts);

 private:
  UniqueFd requests_;  // our end; non-blocking
  std::thread thread_;
};

}  // namespace yinetd::sandbox
