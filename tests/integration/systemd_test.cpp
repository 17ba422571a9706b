// End to end: yinetd under systemd's protocols (issue 6): readiness
// notification to a fake NOTIFY_SOCKET, socket activation through
// systemd-socket-activate, and priority-prefixed lines for the journal.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <sstream>

#include "integration/harness.h"

namespace yinetd::testing {
namespace {

// A unix datagram socket standing in for systemd's notification socket.
class FakeNotifySocket {
 public:
  FakeNotifySocket() {
    char tmpl[] = "/tmp/yinetd-notify-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/notify";
    fd_.Reset(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    REQUIRE(fd_);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
    REQUIRE(bind(fd_.Get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~FakeNotifySocket() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string Env() const { return "NOTIFY_SOCKET=" + path_; }

  // The next datagram, or "" after `timeout`.
  std::string Receive(Duration timeout = 10s) {
    pollfd p{fd_.Get(), POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) != 1) return "";
    char buf[4096];
    ssize_t n = recv(fd_.Get(), buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, n) : "";
  }

  // The next datagram that is more than a STATUS= update, within a bound.
  std::string ReceiveState() {
    for (int i = 0; i < 100; ++i) {
      std::string message = Receive();
      if (message.rfind("STATUS=", 0) != 0) return message;
    }
    return "";
  }

 private:
  std::string dir_;
  std::string path_;
  UniqueFd fd_;
};

bool HasLine(const std::string& message, const std::string& line) {
  std::istringstream lines(message);
  for (std::string l; std::getline(lines, l);) {
    if (l == line) return true;
  }
  return false;
}

TEST_CASE("systemd hears READY=1, then RELOADING=1 and READY=1 around a SIGHUP reload, then STOPPING=1") {
  FakeNotifySocket notify;
  uint16_t port = FreePort();
  StartOptions options;
  options.env = {notify.Env()};
  Yinetd yinetd("services:\n" + Service("echo", port, "/bin/cat"), options);
  std::string ready = notify.ReceiveState();
  CHECK(HasLine(ready, "READY=1"));
  CHECK(HasLine(ready, "STATUS=serving 1 service, 0 running"));
  // READY=1 came after binding: a client is served at once.
  CHECK(Exchange(port, "ping\n") == "ping\n");
  // The summary counts running programs: let cat be reaped first.
  REQUIRE(yinetd.WaitForLog({"event=exit", "service=echo"}));
  yinetd.Signal(SIGHUP);
  std::string reloading = notify.ReceiveState();
  CHECK(HasLine(reloading, "RELOADING=1"));
  CHECK(reloading.find("MONOTONIC_USEC=") != std::string::npos);
  std::string reloaded = notify.ReceiveState();
  CHECK(HasLine(reloaded, "READY=1"));
  CHECK(HasLine(reloaded, "STATUS=serving 1 service, 0 running"));
  yinetd.Signal(SIGTERM);
  std::string stopping = notify.ReceiveState();
  CHECK(HasLine(stopping, "STOPPING=1"));
  CHECK(stopping.find("STATUS=stopping") != std::string::npos);
  std::optional<int> status = yinetd.WaitExit();
  REQUIRE(status);
  CHECK(WEXITSTATUS(*status) == 0);
}

TEST_CASE("STATUS= follows the running programs, at most once a second") {
  FakeNotifySocket notify;
  uint16_t port = FreePort();
  StartOptions options;
  options.env = {notify.Env()};
  Yinetd yinetd("services:\n" + Service("echo", port, "/bin/cat"), options);
  CHECK(HasLine(notify.Receive(), "STATUS=serving 1 service, 0 running"));  // with READY=1
  UniqueFd held = ConnectTcp("127.0.0.1", port);
  REQUIRE(yinetd.WaitForLog({"event=accept", "service=echo"}));
  // Within the second after READY=1, so it waits for the interval: bounded.
  CHECK(notify.Receive() == "STATUS=serving 1 service, 1 running");
  held.Reset();
  REQUIRE(yinetd.WaitForLog({"event=exit", "service=echo"}));
  CHECK(notify.Receive() == "STATUS=serving 1 service, 0 running");
}

TEST_CASE("without NOTIFY_SOCKET nothing is sent and nothing is logged about it") {
  uint16_t port = FreePort();
  Yinetd yinetd("services:\n" + Service("echo", port, "/bin/cat"));
  CHECK(Exchange(port, "x") == "x");
  CHECK(yinetd.Log().find("sd_notify") == std::string::npos);
}

StartOptions SocketActivated(const std::vector<std::string>& listens, const std::string& fdnames = "",
                             bool datagram = false) {
  StartOptions options = NoWait();
  options.wrapper = {"systemd-socket-activate"};
  if (datagram) options.wrapper.push_back("--datagram");
  for (const std::string& listen : listens) options.wrapper.push_back("--listen=" + listen);
  if (!fdnames.empty()) options.wrapper.push_back("--fdname=" + fdnames);
  return options;
}

TEST_CASE("socket activation: a passed datagram socket serves the udp service on its address") {
  uint16_t port = FreePort();
  Yinetd yinetd("services:\n  - name: echo-udp\n    listen: 127.0.0.1:" + std::to_string(port) +
                    "\n    protocol: udp\n    builtin: echo\n",
                SocketActivated({"127.0.0.1:" + std::to_string(port)}, "", true));
  REQUIRE(yinetd.WaitForLog({"Listening on 127.0.0.1:" + std::to_string(port)}));
  // The first datagram makes systemd-socket-activate exec yinetd, which
  // finds it waiting on the passed socket.
  CHECK(UdpExchange(port, "ping", 10s) == "ping");
  CHECK(yinetd.WaitForLog({"event=adopt", "service=echo-udp", "addr=127.0.0.1:" + std::to_string(port)}));
  CHECK(yinetd.Events("listen").empty());
}

TEST_CASE("socket activation: a passed socket serves the service bound to its address") {
  uint16_t passed = FreePort(), own = FreePort();
  Yinetd yinetd("services:\n" + Service("echo", passed, "/bin/cat") +
                    Service("hi", own, "/bin/echo", "    args: [hi]\n"),
                SocketActivated({"127.0.0.1:" + std::to_string(passed)}));
  // systemd-socket-activate binds, then execs yinetd on the first connection.
  REQUIRE(yinetd.WaitForLog({"Listening on 127.0.0.1:" + std::to_string(passed)}));
  CHECK(Exchange(passed, "through systemd\n") == "through systemd\n");
  CHECK(yinetd.WaitForLog({"event=adopt", "service=echo", "addr=127.0.0.1:" + std::to_string(passed), "fd=3"}));
  CHECK(yinetd.WaitForLog({"event=listen", "service=hi"}));
  CHECK(Exchange(own) == "hi\n");
  CHECK(yinetd.Events("listen").size() == 1);
}

TEST_CASE("socket activation: FileDescriptorName picks the service; a socket nobody wants is an error") {
  uint16_t named = FreePort(), configured = FreePort(), stray = FreePort();
  Yinetd yinetd("services:\n" + Service("hi", configured, "/bin/echo", "    args: [hi]\n"),
                SocketActivated({"127.0.0.1:" + std::to_string(named), "127.0.0.1:" + std::to_string(stray)},
                                "hi:other"));
  REQUIRE(yinetd.WaitForLog({"Listening on 127.0.0.1:" + std::to_string(stray)}));
  CHECK(Exchange(named) == "hi\n");
  CHECK(yinetd.WaitForLog({"event=adopt", "service=hi", "fdname=hi"}));
  CHECK(yinetd.WaitForLog({"level=error", "event=unmatched_socket", "fdname=other",
                           "addr=127.0.0.1:" + std::to_string(stray)}));
  // The named socket stands for the service's address: nothing else bound.
  CHECK(yinetd.Events("listen").empty());
  // The stray socket was closed: connecting to it is refused.
  CHECK(TryConnect(stray) == ECONNREFUSED);
}

TEST_CASE("with stderr the journal, lines carry a syslog priority and no timestamp") {
  uint16_t gone = FreePort(), fine = FreePort();
  std::string dir = "/tmp/yinetd-journal-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file("/bin/cat", dir + "/cat", std::filesystem::copy_options::overwrite_existing);
  StartOptions options;
  options.journal_stream = true;
  Yinetd yinetd("services:\n" + Service("gone", gone, dir + "/cat") + Service("fine", fine, "/bin/cat"),
                options);
  std::filesystem::remove_all(dir);
  CHECK(Exchange(gone) == "");  // an exec_error: logged at error level
  CHECK(Exchange(fine, "x") == "x");
  CHECK(yinetd.WaitForLog({"event=exit", "service=fine"}));
  CHECK(yinetd.WaitForLog({"event=exec_error"}));
  std::istringstream lines(yinetd.Log());
  int info = 0, error = 0;
  for (std::string line; std::getline(lines, line);) {
    CHECK_MESSAGE(line.rfind("<", 0) == 0, line);
    CHECK_MESSAGE(line.find("ts=") == std::string::npos, line);
    if (line.rfind("<6>event=", 0) == 0) ++info;
    if (line.rfind("<3>event=exec_error ", 0) == 0) ++error;
  }
  CHECK(info >= 4);  // listen, listen, start, accept, ...
  CHECK(error == 1);
}

TEST_CASE("a JOURNAL_STREAM naming another file is ignored: lines keep their timestamps") {
  uint16_t port = FreePort();
  StartOptions options;
  options.env = {"JOURNAL_STREAM=1:1"};
  Yinetd yinetd("services:\n" + Service("echo", port, "/bin/cat"), options);
  std::string log = yinetd.Log();
  CHECK(log.rfind("ts=", 0) == 0);
  CHECK(log.find("<6>") == std::string::npos);
}

}  // namespace
}  // namespace yinetd::testing
