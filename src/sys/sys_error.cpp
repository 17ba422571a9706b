#include "sys/sys_error.h"

#include <string.h>

#include "log/events.h"

namespace yinetd {

std::string ErrnoText(int err) {
  char buf[256];
  // GNU strerror_r may return a static string instead of filling buf.
  return strerror_r(err, buf, sizeof buf);
}

SysError::SysError(std::string_view context, int err)
    : std::runtime_error(std::string(context) + ": " + ErrnoText(err)), err_(err), context_(context) {}

void ReportCloseFailure(int fd, int err) {
  log::SyscallFailed("", "close", "fd=" + std::to_string(fd), err);
}

}  // namespace yinetd
