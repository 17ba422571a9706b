#include "sys/unique_fd.h"

#include <doctest/doctest.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "sys/sys_error.h"

namespace yinetd {
namespace {

bool IsOpen(int fd) { return fcntl(fd, F_GETFD) != -1; }

TEST_CASE("a UniqueFd closes what it owns, once") {
  int raw = open("/dev/null", O_RDONLY | O_CLOEXEC);
  REQUIRE(raw >= 0);
  {
    UniqueFd fd(raw);
    CHECK(fd.Valid());
    CHECK(fd.Get() == raw);
  }
  CHECK_FALSE(IsOpen(raw));
}

TEST_CASE("moving transfers ownership; Release gives it up") {
  UniqueFd a(open("/dev/null", O_RDONLY | O_CLOEXEC));
  int raw = a.Get();
  UniqueFd b(std::move(a));
  CHECK_FALSE(a.Valid());
  CHECK(b.Get() == raw);
  UniqueFd c;
  c = std::move(b);
  CHECK(c.Get() == raw);
  int released = c.Release();
  CHECK_FALSE(c.Valid());
  CHECK(IsOpen(released));
  close(released);
}

// What the reporter installed by the test below was told.
int reported_fd = -1, reported_err = 0;

TEST_CASE("a close that fails goes to the installed reporter, and to none before one is installed") {
  int raw = open("/dev/null", O_RDONLY | O_CLOEXEC);
  REQUIRE(raw >= 0);
  REQUIRE(close(raw) == 0);
  CloseFailureReporter before = SetCloseFailureReporter(nullptr);
  UniqueFd{raw}.Reset();  // EBADF, reported to nobody: nothing happens
  SetCloseFailureReporter([](int fd, int err) {
    reported_fd = fd;
    reported_err = err;
  });
  UniqueFd{raw}.Reset();  // the already closed descriptor again
  CHECK(reported_fd == raw);
  CHECK(reported_err == EBADF);
  SetCloseFailureReporter(before);
}

TEST_CASE("Reset closes the old descriptor and takes the new") {
  UniqueFd fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
  int old = fd.Get();
  int next = open("/dev/zero", O_RDONLY | O_CLOEXEC);
  fd.Reset(next);
  CHECK_FALSE(IsOpen(old));
  CHECK(fd.Get() == next);
}

TEST_CASE("SysError names the call and the errno text") {
  SysError e("bind 127.0.0.1:7007", EADDRINUSE);
  CHECK(std::string(e.what()) == "bind 127.0.0.1:7007: Address already in use");
  CHECK(e.Errno() == EADDRINUSE);
  CHECK(ErrnoText(ENOENT) == "No such file or directory");
}

TEST_CASE("RetryOnEintr retries only EINTR") {
  int calls = 0;
  int result = RetryOnEintr([&] {
    ++calls;
    if (calls < 3) {
      errno = EINTR;
      return -1;
    }
    return 7;
  });
  CHECK(result == 7);
  CHECK(calls == 3);
  calls = 0;
  CHECK(RetryOnEintr([&] { ++calls; errno = EAGAIN; return -1; }) == -1);
  CHECK(calls == 1);
}

}  // namespace
}  // namespace yinetd
