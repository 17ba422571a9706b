// End to end: process controls and built-in services (issue 5). Each case
// starts the real yinetd on loopback ports and observes the result from
// inside the program, or from the wire.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "builtin/builtin.h"
#include "integration/harness.h"

namespace yinetd::testing {
namespace {

std::string Shell(const std::string& name, uint16_t port, const std::string& script,
                  const std::string& extra = "") {
  return "  - name: " + name + "\n    listen: 127.0.0.1:" + std::to_string(port) +
         "\n    program: /bin/sh\n    args: [\"-c\", '" + script + "']\n" + extra;
}

std::string Builtin(const std::string& name, uint16_t port) {
  return "  - {name: " + name + ", listen: \"127.0.0.1:" + std::to_string(port) + "\", builtin: " + name +
         "}\n";
}

// The value column of /proc/self/limits for `label`, as the program saw it:
// "Max open files            100                  100                  files".
std::pair<std::string, std::string> Limit(const std::string& limits, const std::string& label) {
  std::istringstream lines(limits);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(label, 0) != 0) continue;
    std::istringstream values(line.substr(26));
    std::string soft, hard;
    values >> soft >> hard;
    return {soft, hard};
  }
  return {"", ""};
}

TEST_CASE("chdir, umask, nice and no_new_privs are observed from inside the program") {
  uint16_t port = FreePort();
  Yinetd yinetd("services:\n" +
                Shell("controls", port, "pwd; umask; nice; grep NoNewPrivs /proc/self/status",
                      "    chdir: /tmp\n    umask: \"0027\"\n    nice: 5\n    no_new_privs: true\n"));
  CHECK(Exchange(port) == "/tmp\n0027\n5\nNoNewPrivs:\t1\n");
}

TEST_CASE("without controls the program starts in / with yinetd's umask and nice") {
  uint16_t port = FreePort();
  Yinetd yinetd("services:\n" + Shell("plain", port, "pwd; nice; grep NoNewPrivs /proc/self/status"));
  // yinetd's nice is ours (a test run under `nice` is no failure).
  std::string ours = std::to_string(getpriority(PRIO_PROCESS, 0));
  CHECK(Exchange(port) == "/\n" + ours + "\nNoNewPrivs:\t0\n");
}

TEST_CASE("every rlimit reaches the program as soft and hard limit; defaults merge") {
  uint16_t port = FreePort();
  Yinetd yinetd("defaults:\n  rlimits: {nofile: 100, core: 0, cpu: 60}\nservices:\n" +
                Shell("limits", port, "cat /proc/self/limits",
                      "    rlimits: {nproc: 500, as: 1G, fsize: 64K, cpu: unlimited}\n"));
  std::string limits = Exchange(port);
  using Pair = std::pair<std::string, std::string>;
  CHECK(Limit(limits, "Max open files") == Pair{"100", "100"});
  CHECK(Limit(limits, "Max core file size") == Pair{"0", "0"});
  CHECK(Limit(limits, "Max cpu time") == Pair{"unlimited", "unlimited"});
  CHECK(Limit(limits, "Max processes") == Pair{"500", "500"});
  CHECK(Limit(limits, "Max address space") == Pair{"1073741824", "1073741824"});
  CHECK(Limit(limits, "Max file size") == Pair{"65536", "65536"});
}

TEST_CASE("argv0 names the process; clear_env leaves only env") {
  uint16_t named = FreePort(), cleared = FreePort();
  Yinetd yinetd(
      "services:\n" +
      Shell("named", named, "tr \"\\\\0\" \" \" < /proc/$$/cmdline", "    argv0: little-shell\n") +
      "  - name: cleared\n    listen: 127.0.0.1:" + std::to_string(cleared) +
      "\n    program: /usr/bin/env\n    clear_env: true\n    env: {ONLY: this}\n");
  CHECK(Exchange(named).rfind("little-shell -c ", 0) == 0);
  CHECK(Exchange(cleared) == "ONLY=this\n");
}

TEST_CASE("a failing control is an exec_error naming the step") {
  uint16_t port = FreePort();
  Yinetd yinetd("services:\n" + Shell("lost", port, "pwd", "    chdir: /nonexistent/dir\n"));
  CHECK(Exchange(port) == "");
  CHECK(yinetd.WaitForLog({"event=exec_error", "service=lost", "step=chdir"}));
  CHECK(yinetd.WaitForLog({"event=exit", "service=lost", "status=127"}));
}

// Copies `binary` and the libraries ldd lists for it into `root`, at the
// same paths, so that it runs inside a chroot at `root`.
void CopyWithLibraries(const std::string& binary, const std::string& root) {
  namespace fs = std::filesystem;
  std::vector<std::string> files{binary};
  FILE* ldd = popen(("ldd " + binary).c_str(), "r");
  REQUIRE(ldd != nullptr);
  char line[512];
  while (fgets(line, sizeof line, ldd)) {
    for (char* word = std::strtok(line, " \t\n"); word; word = std::strtok(nullptr, " \t\n")) {
      if (word[0] == '/') files.push_back(word);
    }
  }
  pclose(ldd);
  for (const std::string& file : files) {
    fs::create_directories(fs::path(root + file).parent_path());
    fs::copy_file(fs::canonical(file), root + file, fs::copy_options::overwrite_existing);
    fs::permissions(root + file, fs::perms::all);
  }
}

TEST_CASE("chroot: the program runs inside it, as the configured user") {
  if (geteuid() != 0) {
    MESSAGE("skipped: chroot needs root");
    return;
  }
  uint16_t port = FreePort();
  char tmpl[] = "/tmp/yinetd-jail-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  std::string root = tmpl;
  CopyWithLibraries("/bin/sh", root);
  std::filesystem::permissions(root, std::filesystem::perms::all);
  std::filesystem::create_directory(root + "/home");
  std::ofstream(root + "/home/marker") << "inside\n";
  std::ofstream(root + "/home/secret") << "root only\n";
  std::filesystem::permissions(root + "/home/secret", std::filesystem::perms::owner_read);
  {
    Yinetd yinetd("services:\n" +
                  Shell("jailed", port, "read x < /home/marker; echo \"$x $(pwd)\"; cd /tmp 2>/dev/null || echo no-tmp; "
                        "(read y < /home/secret) 2>/dev/null || echo denied",
                        "    chroot: " + root + "\n    chdir: /home\n    user: nobody\n"));
    // No /tmp inside the jail, and the root-only file is closed to nobody.
    CHECK_MESSAGE(Exchange(port) == "inside /home\nno-tmp\ndenied\n", yinetd.Log());
  }
  std::filesystem::remove_all(root);
}

TEST_CASE("--check refuses a chroot without the program inside it") {
  auto [code, out] = RunCheck("services:\n  - {name: j, listen: 7000, program: /bin/cat, chroot: $DIR}\n");
  CHECK(code == 1);
  CHECK(out.find("program $DIR/bin/cat cannot be run: No such file or directory") != std::string::npos);
}

TEST_CASE("each builtin answers over TCP per its RFC, logged like a program") {
  uint16_t echo = FreePort(), discard = FreePort(), chargen = FreePort(), daytime = FreePort(),
           time_port = FreePort();
  Yinetd yinetd("services:\n" + Builtin("echo", echo) + Builtin("discard", discard) +
                Builtin("chargen", chargen) + Builtin("daytime", daytime) + Builtin("time", time_port));
  CHECK(Exchange(echo, "hello\r\nagain\r\n") == "hello\r\nagain\r\n");
  CHECK(Exchange(discard, "into the void\n") == "");
  {
    UniqueFd fd = ConnectTcp("127.0.0.1", chargen);
    std::string lines;
    char buf[4096];
    while (lines.size() < 74 * 100) {
      ssize_t n = read(fd.Get(), buf, sizeof buf);
      REQUIRE(n > 0);
      lines.append(buf, n);
    }
    char expected[74];
    for (size_t i = 0; i < 100; ++i) {
      builtin::ChargenLine(i, expected);
      REQUIRE(lines.substr(i * 74, 74) == std::string(expected, 74));
    }
  }
  int64_t before = ::time(nullptr);
  std::string text = Exchange(daytime);
  char expected[32];
  std::string now(expected, builtin::FormatDaytime(before, expected));
  std::string next(expected, builtin::FormatDaytime(before + 1, expected));
  CHECK((text == now || text == next));
  std::string four = Exchange(time_port);
  REQUIRE(four.size() == 4);
  uint32_t value;
  std::memcpy(&value, four.data(), 4);
  CHECK(ntohl(value) - builtin::Rfc868Time(before) <= 1);
  CHECK(yinetd.WaitForLog({"event=exit", "service=chargen"}));
  for (const char* name : {"echo", "discard", "daytime", "time"}) {
    CHECK(yinetd.WaitForLog({"event=accept", std::string("service=") + name}));
    CHECK(yinetd.WaitForLog({"event=exit", std::string("service=") + name, "status=0"}));
  }
}

TEST_CASE("a builtin obeys the service's process controls") {
  uint16_t port = FreePort();
  Yinetd yinetd("services:\n  - {name: e, listen: \"127.0.0.1:" + std::to_string(port) +
                "\", builtin: echo, chdir: /nonexistent}\n");
  CHECK(Exchange(port, "x") == "");
  CHECK(yinetd.WaitForLog({"event=exec_error", "service=e", "program=builtin:echo", "step=chdir"}));
}

std::string PidIn(const std::string& reply) {
  size_t start = reply.find("pid=") + 4;
  return reply.substr(start, reply.find(' ', start) - start);
}

TEST_CASE("a UDP program answers a datagram, and the next one after it exits starts a new process") {
  uint16_t port = FreePort();
  Yinetd yinetd("services:\n  - name: udp\n    listen: 127.0.0.1:" + std::to_string(port) +
                "\n    protocol: udp\n    program: " + Helper("udp_answer") + "\n");
  std::string first = UdpExchange(port, "one");
  REQUIRE(first.find(" proto=UDP got=one") != std::string::npos);
  CHECK(yinetd.WaitForLog({"event=exit", "service=udp", "pid=" + PidIn(first) + " ", "status=0"}));
  std::string second = UdpExchange(port, "two");
  REQUIRE(second.find(" proto=UDP got=two") != std::string::npos);
  CHECK(PidIn(second) != PidIn(first));
  CHECK(yinetd.WaitForLog({"event=exit", "service=udp", "pid=" + PidIn(second) + " ", "status=0"}));
  CHECK(yinetd.Events("accept").size() == 2);
}

TEST_CASE("UDP accept and exit lines name the sender of the datagram that woke the service") {
  uint16_t port = FreePort();
  Yinetd yinetd("services:\n  - name: udp\n    listen: 127.0.0.1:" + std::to_string(port) +
                "\n    protocol: udp\n    program: " + Helper("udp_answer") + "\n");
  UniqueFd client(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(client.Get(), reinterpret_cast<sockaddr*>(&local), sizeof local) == 0);
  socklen_t length = sizeof local;
  REQUIRE(getsockname(client.Get(), reinterpret_cast<sockaddr*>(&local), &length) == 0);
  std::string sender = "127.0.0.1:" + std::to_string(ntohs(local.sin_port));
  sockaddr_in to = local;
  to.sin_port = htons(port);
  REQUIRE(sendto(client.Get(), "peek", 4, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) == 4);
  pollfd ready{client.Get(), POLLIN, 0};
  REQUIRE(poll(&ready, 1, 5000) == 1);
  char reply[512];
  ssize_t n = recv(client.Get(), reply, sizeof reply, 0);
  REQUIRE(n > 0);
  // Peeked, not taken: the program got the datagram.
  CHECK(std::string(reply, static_cast<size_t>(n)).find(" got=peek") != std::string::npos);
  CHECK(yinetd.WaitForLog({"event=accept", "service=udp", "peer=" + sender}));
  CHECK(yinetd.WaitForLog({"event=exit", "service=udp", "peer=" + sender}));
}

TEST_CASE("a failing UDP program is restarted at a resting pace, not in a loop") {
  uint16_t port = FreePort();
  Yinetd yinetd("services:\n  - {name: fails, listen: \"127.0.0.1:" + std::to_string(port) +
                "\", protocol: udp, program: /bin/false}\n");
  CHECK(UdpExchange(port, "never read", 1s) == "<none>");
  REQUIRE(yinetd.WaitForLog({"event=exit", "service=fails", "status=1"}));
  // The datagram stays queued and each try fails; without the 250 ms rest
  // this second would see hundreds of forks.
  size_t accepts = yinetd.Events("accept").size();
  CHECK(accepts >= 1);
  CHECK(accepts <= 12);
}

TEST_CASE("a TCP wait program accepts three clients itself; yinetd starts it once") {
  uint16_t port = FreePort();
  Yinetd yinetd("services:\n  - name: acceptor\n    listen: 127.0.0.1:" + std::to_string(port) +
                "\n    mode: wait\n    program: " + Helper("wait_acceptor") + "\n");
  std::vector<std::string> replies;
  for (int i = 0; i < 3; ++i) replies.push_back(Exchange(port));
  REQUIRE(replies[0].rfind("pid=", 0) == 0);
  std::string pid = PidIn(replies[0]);
  CHECK(replies[0] == "pid=" + pid + " n=1\n");
  CHECK(replies[1] == "pid=" + pid + " n=2\n");
  CHECK(replies[2] == "pid=" + pid + " n=3\n");
  CHECK(yinetd.WaitForLog({"event=exit", "service=acceptor", "pid=" + pid + " ", "status=0"}));
  CHECK(yinetd.Events("accept").size() == 1);
  // Polled again once it exited: the next client gets a new process.
  std::string fourth = Exchange(port);
  CHECK(fourth.find(" n=1\n") != std::string::npos);
  CHECK(PidIn(fourth) != pid);
}

TEST_CASE("timeout ends a wait program too, and the socket is polled again") {
  uint16_t port = FreePort();
  Yinetd yinetd("services:\n  - {name: slow, listen: \"127.0.0.1:" + std::to_string(port) +
                "\", protocol: udp, program: /bin/sleep, args: [\"30\"], timeout: 0.3}\n");
  CHECK(UdpExchange(port, "wake", 100ms) == "<none>");
  CHECK(yinetd.WaitForLog({"event=exit", "service=slow", "signal=SIGTERM", "reason=timeout"}));
  // The datagram was never read: polled again (after the failure's rest),
  // the socket starts another program.
  CHECK(yinetd.WaitForLog({"event=accept", "service=slow"}, 2));
}

TEST_CASE("each builtin answers over UDP per its RFC") {
  uint16_t echo = FreePort(), discard = FreePort(), chargen = FreePort(), daytime = FreePort(),
           time_port = FreePort();
  auto udp = [](const std::string& name, uint16_t port) {
    return "  - {name: " + name + ", listen: \"127.0.0.1:" + std::to_string(port) + "\", builtin: " + name +
           ", protocol: udp}\n";
  };
  Yinetd yinetd("services:\n" + udp("echo", echo) + udp("discard", discard) + udp("chargen", chargen) +
                udp("daytime", daytime) + udp("time", time_port));
  CHECK(UdpExchange(echo, "ping") == "ping");
  CHECK(UdpExchange(echo, "again") == "again");
  CHECK(UdpExchange(discard, "void", 500ms) == "<none>");
  std::string lines = UdpExchange(chargen, "");
  REQUIRE(lines.size() == 6 * 74);
  char expected[74];
  builtin::ChargenLine(5, expected);
  CHECK(lines.substr(5 * 74) == std::string(expected, 74));
  int64_t before = ::time(nullptr);
  std::string text = UdpExchange(daytime, "");
  char now[32], next[32];
  CHECK((text == std::string(now, builtin::FormatDaytime(before, now)) ||
         text == std::string(next, builtin::FormatDaytime(before + 1, next))));
  std::string four = UdpExchange(time_port, "");
  REQUIRE(four.size() == 4);
  uint32_t value;
  std::memcpy(&value, four.data(), 4);
  CHECK(ntohl(value) - builtin::Rfc868Time(before) <= 1);
  CHECK(yinetd.WaitForLog({"event=exit", "service=discard", "status=0"}));
}

TEST_CASE("a UDP builtin does not answer a datagram from a reserved port, and answers the next client") {
  uint16_t port = FreePort();
  Yinetd yinetd("services:\n  - {name: echo, listen: \"127.0.0.1:" + std::to_string(port) +
                "\", builtin: echo, protocol: udp}\n");
  UniqueFd low(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in from{};
  from.sin_family = AF_INET;
  from.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool bound = false;
  for (uint16_t source = 1023; source > 600 && !bound; --source) {
    from.sin_port = htons(source);
    bound = bind(low.Get(), reinterpret_cast<sockaddr*>(&from), sizeof from) == 0;
  }
  if (!bound) {
    MESSAGE("skipped: cannot bind a port below 1024 here (not root, or all taken)");
    return;
  }
  SendDatagram(low.Get(), port, "loop?");
  // The child that read it exits; then an ordinary client is answered.
  CHECK(yinetd.WaitForLog({"event=exit", "service=echo", "status=0"}));
  CHECK(UdpExchange(port, "hello") == "hello");
  pollfd p{low.Get(), POLLIN, 0};
  CHECK(poll(&p, 1, 300) == 0);  // nothing ever came back to the reserved port
}

TEST_CASE("a UDP and a TCP service share a port number") {
  uint16_t port = FreePort();
  std::string listen = "\"127.0.0.1:" + std::to_string(port) + "\"";
  Yinetd yinetd("services:\n  - {name: t, listen: " + listen + ", builtin: echo}\n" +
                "  - {name: u, listen: " + listen + ", builtin: echo, protocol: udp}\n");
  CHECK(Exchange(port, "tcp") == "tcp");
  CHECK(UdpExchange(port, "udp") == "udp");
}

TEST_CASE("--check refuses invalid protocol and mode combinations") {
  auto [code, out] = RunCheck(
      "services:\n"
      "  - {name: a, listen: 7000, protocol: udp, mode: nowait, program: /bin/cat}\n"
      "  - {name: b, listen: 7001, mode: wait, builtin: echo}\n"
      "  - {name: c, listen: 'unix:/tmp/x.sock', protocol: udp, program: /bin/cat}\n"
      "  - {name: d, listen: 7002, protocol: sctp, program: /bin/cat}\n"
      "  - {name: e, listen: 7003, mode: wait, stderr: socket, program: /bin/cat}\n");
  CHECK(code == 1);
  CHECK(out.find(":2:50: error: protocol udp needs mode wait") != std::string::npos);
  CHECK(out.find(":3:35: error: builtin echo over TCP runs in mode nowait") != std::string::npos);
  CHECK(out.find("error: protocol udp needs IP addresses, not unix:/tmp/x.sock") != std::string::npos);
  CHECK(out.find("error: protocol must be tcp or udp, not 'sctp'") != std::string::npos);
  CHECK(out.find("error: stderr: socket needs a connection") != std::string::npos);
  CHECK(out.find("5 problem(s) found") != std::string::npos);
}

TEST_CASE("a unix socket service gets the peer's uid, gid and pid, with socket_mode") {
  std::string sock = "$DIR/peer.sock";
  Yinetd yinetd("services:\n  - name: peer\n    listen: unix:" + sock + "\n    socket_mode: \"0600\"\n" +
                "    program: /bin/sh\n    args: [\"-c\", 'echo $PROTO $UNIXREMOTEUID $UNIXREMOTEGID $UNIXREMOTEPID']\n");
  std::string path = yinetd.Dir() + "/peer.sock";
  struct stat st;
  REQUIRE(stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  UniqueFd fd = ConnectUnix(path);
  CHECK(ReadUntilEof(fd.Get()) == "UNIX " + std::to_string(geteuid()) + " " + std::to_string(getegid()) +
                                       " " + std::to_string(getpid()) + "\n");
}

TEST_CASE("a stale unix socket file is replaced at startup") {
  std::string dir;
  {
    Yinetd first("services:\n  - {name: s, listen: \"unix:/tmp/yinetd-stale-" + std::to_string(getpid()) +
                 ".sock\", builtin: echo}\n");
    first.Signal(SIGKILL);  // dies without removing its socket file
    first.WaitExit();
  }
  std::string path = "/tmp/yinetd-stale-" + std::to_string(getpid()) + ".sock";
  struct stat st;
  REQUIRE(stat(path.c_str(), &st) == 0);  // left behind
  Yinetd second("services:\n  - {name: s, listen: \"unix:" + path + "\", builtin: echo}\n");
  UniqueFd fd = ConnectUnix(path);
  SendAll(fd.Get(), "fresh");
  shutdown(fd.Get(), SHUT_WR);
  CHECK(ReadUntilEof(fd.Get()) == "fresh");
  second.Signal(SIGTERM);
  CHECK(second.WaitExit().has_value());
  CHECK(stat(path.c_str(), &st) != 0);  // removed at shutdown
}

TEST_CASE("[::1] serves IPv6 clients; ipv6_only leaves the IPv4 port to another service") {
  if (!HaveIpv6Loopback()) {
    MESSAGE("skipped: no ::1 on this machine");
    return;
  }
  uint16_t port = FreePort(), only6 = FreePort();
  Yinetd yinetd("services:\n  - name: six\n    listen: \"[::1]:" + std::to_string(port) +
                "\"\n    program: /bin/sh\n    args: [\"-c\", 'echo $TCPREMOTEIP $TCPLOCALIP']\n" +
                "  - name: only6\n    listen: " + std::to_string(only6) +
                "\n    ipv6_only: true\n    program: /bin/sh\n    args: [\"-c\", 'echo six']\n" +
                "  - {name: four, listen: \"127.0.0.1:" + std::to_string(only6) + "\", builtin: daytime}\n");
  CHECK(Exchange(port, "", "::1") == "::1 ::1\n");
  CHECK(Exchange(only6, "", "::1") == "six\n");
  CHECK(Exchange(only6, "", "127.0.0.1").size() == 26);  // daytime, from the IPv4 service
}

TEST_CASE("socket options are applied: a backlog above somaxconn is clamped with a warning") {
  uint16_t port = FreePort();
  Yinetd yinetd("services:\n  - name: opts\n    listen: 127.0.0.1:" + std::to_string(port) +
                "\n    backlog: 100000000\n    keepalive: true\n    nodelay: true\n    reuseport: true\n"
                "    freebind: true\n    bind_interface: lo\n    builtin: echo\n");
  CHECK(yinetd.WaitForLog({"level=warn", "event=backlog_clamped", "service=opts", "backlog=100000000",
                           "somaxconn="}));
  CHECK(Exchange(port, "still serves") == "still serves");
}

}  // namespace
}  // namespace yinetd::testing
