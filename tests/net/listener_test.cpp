#include "net/listener.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sys/sys_error.h"

namespace yinetd::net {
namespace {

Address Parse(std::string_view text) { return std::get<Address>(ParseAddress(text)); }

// Port 0 is refused in configs but lets the kernel pick a free port here.
Address AnyLoopbackPort() { return Address{Address::Family::kIPv4, "127.0.0.1", 0, ""}; }

TEST_CASE("a listener is non-blocking and close-on-exec") {
  UniqueFd fd = OpenListener(AnyLoopbackPort(), ListenOptions{});
  REQUIRE(fd);
  CHECK((fcntl(fd.Get(), F_GETFL) & O_NONBLOCK) != 0);
  CHECK((fcntl(fd.Get(), F_GETFD) & FD_CLOEXEC) != 0);
  Endpoint local = LocalEndpoint(fd.Get());
  CHECK(local.ip == "127.0.0.1");
  CHECK(local.port != 0);
}

TEST_CASE("a datagram listener is bound and not listening; wait mode is blocking") {
  ListenOptions options;
  options.type = SOCK_DGRAM;
  options.nonblocking = false;
  UniqueFd fd = OpenListener(AnyLoopbackPort(), options);
  REQUIRE(fd);
  int type = 0;
  socklen_t length = sizeof type;
  getsockopt(fd.Get(), SOL_SOCKET, SO_TYPE, &type, &length);
  CHECK(type == SOCK_DGRAM);
  CHECK((fcntl(fd.Get(), F_GETFL) & O_NONBLOCK) == 0);
  CHECK((fcntl(fd.Get(), F_GETFD) & FD_CLOEXEC) != 0);
  CHECK(LocalEndpoint(fd.Get()).port != 0);
}

TEST_CASE("binding a taken port names the address and the errno") {
  UniqueFd first = OpenListener(AnyLoopbackPort(), ListenOptions{});
  std::string taken = "127.0.0.1:" + std::to_string(LocalEndpoint(first.Get()).port);
  try {
    OpenListener(Parse(taken), ListenOptions{});
    FAIL("bind succeeded twice");
  } catch (const SysError& e) {
    CHECK(std::string(e.what()) == "bind " + taken + ": Address already in use");
    CHECK(e.Errno() == EADDRINUSE);
  }
}

TEST_CASE("a stale unix socket is replaced, a live one is an error") {
  std::string path = "/tmp/yinetd-listener-test-" + std::to_string(getpid()) + ".sock";
  Address address = Parse("unix:" + path);
  {
    UniqueFd dead = OpenListener(address, ListenOptions{});
  }  // closed, file left behind: stale
  struct stat st;
  REQUIRE(stat(path.c_str(), &st) == 0);
  UniqueFd live = OpenListener(address, ListenOptions{});
  CHECK(live);
  CHECK_THROWS_AS(OpenListener(address, ListenOptions{}), SysError);
  unlink(path.c_str());
}

TEST_CASE("a regular file in the way is not removed") {
  std::string path = "/tmp/yinetd-listener-file-" + std::to_string(getpid());
  UniqueFd file(open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
  CHECK_THROWS_AS(OpenListener(Parse("unix:" + path), ListenOptions{}), SysError);
  CHECK(access(path.c_str(), F_OK) == 0);
  unlink(path.c_str());
}

}  // namespace
}  // namespace yinetd::net
