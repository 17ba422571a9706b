// Turning errno into words, in one place.
//
// Failures are reported as "<what was being done>: <errno text>", for
// example "bind 127.0.0.1:7007: Address already in use". Save errno on the
// line after the failing call and hand it here.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace yinetd {

// strerror text for `err`, thread-safe.
std::string ErrnoText(int err);

// A failed system call: `context` says what was done to what.
class SysError : public std::runtime_error {
 public:
  SysError(std::string_view context, int err);
  int Errno() const { return err_; }
  // The context without the errno text, e.g. "bind 127.0.0.1:7007".
  const std::string& Call() const { return context_; }

 private:
  int err_;
  std::string context_;
};

// A failed call and its errno, returned where throwing SysError would be
// wrong: in a child between fork and exec (no allocation), and for failures
// that are routine under load (clone, pipe2 with no descriptors left).
// `call` is a string literal ("exec", "setrlimit nofile"), nullptr on
// success.
struct SysFailure {
  const char* call = nullptr;
  int err = 0;
  bool Ok() const { return call == nullptr; }
};

// Called by UniqueFd when close() fails: reports instead of throwing,
// through the reporter installed last. src/sys sits below the log, so it
// cannot log itself; log::Setup installs one that does. Before that, or
// with none, a failed close is not reported.
using CloseFailureReporter = void (*)(int fd, int err);
// Returns the reporter it replaces.
CloseFailureReporter SetCloseFailureReporter(CloseFailureReporter reporter);
void ReportCloseFailure(int fd, int err);

// Wraps a call that may fail with EINTR and retries it.
template <typename Call>
auto RetryOnEintr(Call call) {
  for (;;) {
    auto result = call();
    if (result != -1 || errno != EINTR) return result;
  }
}

}  // namespace yinetd
