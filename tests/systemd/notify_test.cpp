#include "systemd/notify.h"

#include <doctest/doctest.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "sys/unique_fd.h"

namespace yinetd::systemd {
namespace {

// Sets NOTIFY_SOCKET to a datagram socket of its own for its lifetime.
class FakeNotifySocket {
 public:
  FakeNotifySocket() {
    char tmpl[] = "/tmp/yinetd-notify-unit-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    dir_ = tmpl;
    std::string path = dir_ + "/notify";
    fd_.Reset(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    REQUIRE(bind(fd_.Get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    setenv("NOTIFY_SOCKET", path.c_str(), 1);
  }
  ~FakeNotifySocket() {
    unsetenv("NOTIFY_SOCKET");
    std::filesystem::remove_all(dir_);
  }

  // The next datagram; "" if none comes within a few seconds.
  std::string Receive() {
    pollfd p{fd_.Get(), POLLIN, 0};
    if (poll(&p, 1, 5000) != 1) return "";
    char buf[4096];
    ssize_t n = recv(fd_.Get(), buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, n) : "";
  }

  bool Quiet() {
    pollfd p{fd_.Get(), POLLIN, 0};
    return poll(&p, 1, 0) == 0;
  }

 private:
  std::string dir_;
  UniqueFd fd_;
};

uint64_t NowUsec() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1'000'000u + static_cast<uint64_t>(now.tv_nsec) / 1000u;
}

TEST_CASE("the status line counts services and running programs") {
  CHECK(StatusText(1, 0) == "serving 1 service, 0 running");
  CHECK(StatusText(3, 12) == "serving 3 services, 12 running");
}

TEST_CASE("the reloading message carries the monotonic time") {
  CHECK(ReloadingMessage(42) == "RELOADING=1\nMONOTONIC_USEC=42\nSTATUS=reloading");
}

TEST_CASE("a reload notifies RELOADING=1 with the current monotonic time, then READY=1") {
  FakeNotifySocket notify;
  uint64_t before = NowUsec();
  NotifyReloading();
  uint64_t after = NowUsec();
  NotifyReady("serving 2 services, 0 running");
  std::string reloading = notify.Receive();
  REQUIRE(reloading.rfind("RELOADING=1\nMONOTONIC_USEC=", 0) == 0);
  uint64_t usec = std::stoull(reloading.substr(reloading.find('=', 12) + 1));
  CHECK(usec >= before);
  CHECK(usec <= after);
  CHECK(notify.Receive() == "READY=1\nSTATUS=serving 2 services, 0 running");
}

TEST_CASE("stopping and status messages") {
  FakeNotifySocket notify;
  NotifyStatus("serving 1 service, 3 running");
  NotifyStopping("stopping, 3 running");
  CHECK(notify.Receive() == "STATUS=serving 1 service, 3 running");
  CHECK(notify.Receive() == "STOPPING=1\nSTATUS=stopping, 3 running");
  CHECK(notify.Quiet());
}

TEST_CASE("without NOTIFY_SOCKET notifying does nothing and does not fail") {
  unsetenv("NOTIFY_SOCKET");
  NotifyReady("x");
  NotifyReloading();
  NotifyStopping("y");
  CHECK(getenv("NOTIFY_SOCKET") == nullptr);
}

}  // namespace
}  // namespace yinetd::systemd
