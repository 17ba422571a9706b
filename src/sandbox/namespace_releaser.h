// Drops the last reference to a connection's own mount namespace on a
// thread of its own, after the connection's child was reaped.
//
// The last process to leave a mount namespace tears it down in its exit,
// and the kernel waits there for an RCU grace period (namespace_unlock's
// synchronize_rcu_expedited) before it closes the process's descriptors:
// the client's EOF waited for it, 0.1 ms at the median and several ms
// under load (docs/benchmarks.md). So the spawner holds each such
// namespace (an fd) while the child runs, and hands it here once the child
// is reaped; the wait then happens on this thread, and neither the client
// nor the event loop sees it.
#pragma once

#include <thread>

#include "sys/unique_fd.h"

namespace yinetd::sandbox {

class NamespaceReleaser {
 public:
  // Throws SysError (pipe2) or std::system_error (the thread).
  NamespaceReleaser();
  // Closes what is still queued, then ends the thread.
  ~NamespaceReleaser();
  NamespaceReleaser(const NamespaceReleaser&) = delete;
  NamespaceReleaser& operator=(const NamespaceReleaser&) = delete;

  // Takes `ns` and closes it on the thread; here and now when the thread's
  // queue (a pipe) is full. Never blocks the caller otherwise.
  void Release(UniqueFd ns);

 private:
  UniqueFd queue_;  // the write end; the thread owns the read end
  std::thread thread_;
};

}  // namespace yinetd::sandbox
