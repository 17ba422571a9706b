// End to end: the edges an attacker or a careful operator finds (issue 11):
// limits across reloads, sockets kept across reloads, a UDP program that
// never reads, and what a program leaves behind.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "integration/harness.h"

namespace yinetd::testing {
namespace {

std::string Port(uint16_t port) { return "\"127.0.0.1:" + std::to_string(port) + "\""; }

// A background process that outlives its program; killed at the end of the
// test whatever happened.
struct Leftover {
  pid_t pid = 0;
  ~Leftover() {
    if (pid > 0) kill(pid, SIGKILL);
  }
  bool Alive() const { return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); }
};

// Reads the first line the program sends: the pid it printed.
pid_t ReadPid(int fd) {
  std::string line;
  char c;
  for (int i = 0; i < 32 && recv(fd, &c, 1, 0) == 1 && c != '\n'; ++i) line += c;
  return line.empty() ? 0 : static_cast<pid_t>(std::stol(line));
}

TEST_CASE("max_connections still counts the programs started before a reload that changed the service") {
  uint16_t port = FreePort();
  auto config = [&](const std::string& value) {
    return "services:\n  - name: held\n    listen: " + Port(port) +
           "\n    program: /bin/cat\n    max_connections: 1\n    env: {GENERATION: \"" + value + "\"}\n";
  };
  Yinetd yinetd(config("1"));
  UniqueFd first = ConnectTcp("127.0.0.1", port);
  REQUIRE(yinetd.WaitForLog({"event=accept", "service=held"}));
  yinetd.Rewrite(config("2"));
  yinetd.Signal(SIGHUP);
  REQUIRE(yinetd.WaitForLog({"event=reload", "result=ok", "changed=1"}));
  UniqueFd second = ConnectTcp("127.0.0.1", port);
  CHECK(yinetd.WaitForLog({"event=refuse", "service=held", "reason=max_connections"}));
  CHECK(yinetd.Events("accept").size() == 1);
}

TEST_CASE("a max_children removed from the file is the derived default again") {
  uint16_t port = FreePort();
  std::string service = "services:\n  - {name: cat, listen: " + Port(port) + ", program: /bin/cat}\n";
  Yinetd yinetd("max_children: 1\n" + service);
  UniqueFd first = ConnectTcp("127.0.0.1", port);
  REQUIRE(yinetd.WaitForLog({"event=accept"}));
  UniqueFd refused = ConnectTcp("127.0.0.1", port);
  REQUIRE(yinetd.WaitForLog({"event=refuse", "reason=max_children"}));
  yinetd.Rewrite(service);
  yinetd.Signal(SIGHUP);
  REQUIRE(yinetd.WaitForLog({"event=reload", "result=ok"}));
  UniqueFd second = ConnectTcp("127.0.0.1", port);
  CHECK(yinetd.WaitForLog({"event=accept"}, 2));
}

TEST_CASE("--log-level given on the command line still wins after a reload") {
  uint16_t port = FreePort();
  std::string config = "log: {level: error}\nservices:\n  - {name: hi, listen: " + Port(port) +
                       ", program: /bin/echo, args: [hi]}\n";
  StartOptions options;
  options.extra_args = {"--log-level", "info"};
  Yinetd yinetd(config, options);
  yinetd.Signal(SIGHUP);
  REQUIRE(yinetd.WaitForLog({"event=reload", "result=ok"}));
  CHECK(Exchange(port) == "hi\n");
  CHECK(yinetd.WaitForLog({"event=exit", "service=hi"}));
}

TEST_CASE("adding and removing a UDP service on a TCP service's port never rebinds the TCP socket") {
  uint16_t port = FreePort();
  std::string tcp = "  - {name: tcp, listen: " + Port(port) + ", program: /bin/echo, args: [tcp]}\n";
  std::string udp = "  - {name: udp, listen: " + Port(port) + ", protocol: udp, builtin: echo}\n";
  Yinetd yinetd("services:\n" + tcp);
  yinetd.Rewrite("services:\n" + udp + tcp);  // added, and in front
  yinetd.Signal(SIGHUP);
  REQUIRE(yinetd.WaitForLog({"event=reload", "result=ok", "added=1"}));
  CHECK(UdpExchange(port, "ping") == "ping");
  CHECK(Exchange(port) == "tcp\n");
  yinetd.Rewrite("services:\n" + tcp);
  yinetd.Signal(SIGHUP);
  REQUIRE(yinetd.WaitForLog({"event=reload", "result=ok", "removed=1"}));
  CHECK(Exchange(port) == "tcp\n");
  size_t tcp_listens = 0;
  for (const LogFields& line : yinetd.Events("listen")) tcp_listens += line.at("service") == "tcp";
  CHECK(tcp_listens == 1);
}

TEST_CASE("a changed socket option that cannot be applied keeps the old socket and says partial") {
  uint16_t port = FreePort();
  std::string base = "services:\n  - name: s\n    listen: " + Port(port) + "\n    program: /bin/echo\n    args: [ok]\n";
  Yinetd yinetd(base);
  yinetd.Rewrite(base + "    bind_interface: nosuchif0\n");
  yinetd.Signal(SIGHUP);
  REQUIRE(yinetd.WaitForLog({"event=reload", "result=partial", "127.0.0.1:" + std::to_string(port)}));
  CHECK(Exchange(port) == "ok\n");
}

TEST_CASE("a UDP program that exits without reading its datagram is backed off, and logged once") {
  uint16_t port = FreePort();
  Yinetd yinetd("services:\n  - {name: deaf, listen: " + Port(port) + ", protocol: udp, program: /bin/true}\n");
  UniqueFd sender(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  SendDatagram(sender.Get(), port, "x");
  REQUIRE(yinetd.WaitForLog({"event=pause", "service=deaf", "reason=datagram_unread"}));
  std::this_thread::sleep_for(2s);
  // Rests of 0.25, 0.5, 1, 2 s: a handful of starts, not hundreds a second.
  CHECK(yinetd.Events("accept").size() <= 6);
  CHECK(yinetd.Events("pause").size() == 1);
  // The accept line names the peer of the datagram.
  CHECK(yinetd.Events("accept").at(0).count("peer") == 1);
}

TEST_CASE("at shutdown, a background process the program left holding the connection is ended") {
  uint16_t port = FreePort();
  Yinetd yinetd("shutdown_grace: 5\nservices:\n  - {name: bg, listen: " + Port(port) +
                ", program: /bin/sh, args: [\"-c\", \"sleep 60 & echo $!; exit 0\"]}\n");
  UniqueFd client = ConnectTcp("127.0.0.1", port);
  Leftover sleeper{ReadPid(client.Get())};
  REQUIRE(sleeper.pid > 0);
  REQUIRE(yinetd.WaitForLog({"event=exit", "service=bg", "status=0"}));
  CHECK(sleeper.Alive());
  yinetd.Signal(SIGTERM);
  CHECK(ReadUntilEof(client.Get(), 10s).empty());  // EOF: nothing holds the connection
  CHECK(yinetd.WaitExit().has_value());
  CHECK_FALSE(sleeper.Alive());
}

TEST_CASE("timeout also ends what the program left behind after it exited") {
  uint16_t port = FreePort();
  Yinetd yinetd("services:\n  - {name: bg, listen: " + Port(port) +
                ", timeout: 1, program: /bin/sh, args: [\"-c\", \"sleep 60 & echo $!; exit 0\"]}\n");
  UniqueFd client = ConnectTcp("127.0.0.1", port);
  Leftover sleeper{ReadPid(client.Get())};
  REQUIRE(sleeper.pid > 0);
  CHECK(ReadUntilEof(client.Get(), 10s).empty());
  for (int i = 0; i < 50 && sleeper.Alive(); ++i) std::this_thread::sleep_for(100ms);
  CHECK_FALSE(sleeper.Alive());
}

}  // namespace
}  // namespace yinetd::testing
