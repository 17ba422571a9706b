#include "sys/unique_fd.h"

#include <unistd.h>

#include <cerrno>

#include "sys/sys_error.h"

namespace yinetd {

void UniqueFd::Reset(int fd) {
  int old = std::exchange(fd_, fd);
  if (old < 0) return;
  // Linux frees the descriptor even when close fails, so EINTR must not be
  // retried: the number may already belong to someone else.
  if (close(old) != 0 && errno != EINTR) ReportCloseFailure(old, errno);
}

}  // namespace yinetd
