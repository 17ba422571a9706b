#include "sys/unique_fd.h"

#include <doctest/doctest.h>
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
