#include "sys/sys_error.h"

#include <string.h>

#include <atomic>

namespace yinetd {

std::string ErrnoText(int err) {
  char buf[256];
  // GNU strerror_r may return a static string instead of filling buf.
  return strerror_r(err, buf, sizeof buf);
}

SysError::SysError(std::string_view context, int err)
    : std::runtime_error(std::string(context) + ": " + ErrnoText(err)), err_(err), context_(context) {}

namespace {
// Atomic: a UniqueFd may close on any thread (the TLS reload, the
// watchdog), while the reporter is installed once at start-up.
std::atomic<CloseFailureReporter> close_failure_reporter{nullptr};
}  // namespace

CloseFailureReporter SetCloseFailureReporter(CloseFailureReporter reporter) {
  return close_failure_reporter.exchange(reporter);
}

void ReportCloseFailure(int fd, int err) {
  if (CloseFailureReporter reporter = close_failure_reporter.load()) reporter(fd, err);
}

}  // namespace yinetd
