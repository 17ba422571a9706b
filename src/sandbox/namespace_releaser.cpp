#include "sandbox/namespace_releaser.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "sys/sys_error.h"

namespace yinetd::sandbox {
namespace {

// The thread: closes each fd number that arrives, until the write end is
// closed. A raw close: a namespace's fd fails to close only when it is not
// ours (EBADF, a bug), and the log is not for threads.
void CloseArrivals(UniqueFd queue) {
  int fds[64];
  for (;;) {
    ssize_t n = RetryOnEintr([&] { return read(queue.Get(), fds, sizeof fds); });
    if (n <= 0) return;
    for (ssize_t i = 0; i < n / static_cast<ssize_t>(sizeof(int)); ++i) close(fds[i]);
  }
}

}  // namespace

NamespaceReleaser::NamespaceReleaser() {
  int ends[2];
  if (pipe2(ends, O_CLOEXEC) != 0) throw SysError("pipe2", errno);
  UniqueFd read_end(ends[0]);
  queue_.Reset(ends[1]);
  // Only our end is non-blocking: the thread waits on its read.
  if (fcntl(queue_.Get(), F_SETFL, O_NONBLOCK) != 0) throw SysError("fcntl O_NONBLOCK", errno);
  thread_ = std::thread(CloseArrivals, std::move(read_end));
}

NamespaceReleaser::~NamespaceReleaser() {
  queue_.Reset();
  thread_.join();
}

void NamespaceReleaser::Release(UniqueFd ns) {
  int fd = ns.Get();
  // Four bytes into a pipe go in whole or not at all.
  if (write(queue_.Get(), &fd, sizeof fd) == static_cast<ssize_t>(sizeof fd)) ns.Release();
}

}  // namespace yinetd::sandbox
