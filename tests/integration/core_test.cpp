// End to end: the core superserver (issue 2). Each case starts the real
// yinetd on loopback ports and talks to it with real sockets.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "integration/harness.h"

namespace yinetd::testing {
namespace {

std::string Config(const std::string& services, const std::string& top = "") {
  return top + "services:\n" + services;
}

TEST_CASE("2 MiB pass through /bin/cat intact, in both directions at once") {
  uint16_t port = FreePort();
  Yinetd yinetd(Config(Service("echo", port, "/bin/cat")));
  std::string payload;
  payload.reserve(2 << 20);
  for (size_t i = 0; payload.size() < (2u << 20); ++i) payload += std::to_string(i * 2654435761u) + "\n";
  payload.resize(2 << 20);
  UniqueFd fd = ConnectTcp("127.0.0.1", port);
  // Write from a second thread: cat answers while we still send.
  std::thread writer([&] {
    SendAll(fd.Get(), payload);
    shutdown(fd.Get(), SHUT_WR);
  });
  std::string reply = ReadUntilEof(fd.Get(), 30s);
  writer.join();
  CHECK(reply.size() == payload.size());
  CHECK(reply == payload);
  CHECK(yinetd.WaitForLog({"event=exit", "service=echo", "status=0"}));
}

TEST_CASE("two services answer at once") {
  uint16_t a = FreePort(), b = FreePort();
  Yinetd yinetd(Config(Service("echo", a, "/bin/cat") +
                       Service("hello", b, "/bin/echo", "    args: [hello]\n")));
  UniqueFd held = ConnectTcp("127.0.0.1", a);  // echo's child stays running
  SendAll(held.Get(), "first\n");
  CHECK(Exchange(b) == "hello\n");
  shutdown(held.Get(), SHUT_WR);
  CHECK(ReadUntilEof(held.Get()) == "first\n");
  CHECK(yinetd.Events("listen").size() == 2);
}

TEST_CASE("args and env reach the program, with the connection's addresses") {
  uint16_t port = FreePort();
  Yinetd yinetd(Config(Service("envy", port, "/bin/sh",
                               "    args: [\"-c\", 'echo \"$0|$1|$GREETING|$PROTO|$TCPREMOTEIP|$TCPLOCALIP|"
                               "$TCPLOCALPORT|$REMOTE_ADDR|$YINETD_SERVICE|$PATH\"', zero, one]\n"
                               "    env: {GREETING: hi there}\n")));
  std::string reply = Exchange(port);
  CHECK(reply == "zero|one|hi there|TCP|127.0.0.1|127.0.0.1|" + std::to_string(port) +
                     "|127.0.0.1|envy|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n");
}

TEST_CASE("the remote port in the environment is the client's port") {
  uint16_t port = FreePort();
  Yinetd yinetd(Config(Service("port", port, "/bin/sh",
                               "    args: [\"-c\", 'echo $TCPREMOTEPORT $REMOTE_PORT']\n")));
  UniqueFd fd = ConnectTcp("127.0.0.1", port);
  sockaddr_storage local{};
  socklen_t len = sizeof local;
  getsockname(fd.Get(), reinterpret_cast<sockaddr*>(&local), &len);
  std::string client_port = std::to_string(ntohs(reinterpret_cast<sockaddr_in*>(&local)->sin_port));
  CHECK(ReadUntilEof(fd.Get()) == client_port + " " + client_port + "\n");
  CHECK(yinetd.WaitForLog({"event=accept", "peer=127.0.0.1:" + client_port}));
}

TEST_CASE("exit status and death by signal are logged with the right pid") {
  uint16_t exits = FreePort(), dies = FreePort();
  Yinetd yinetd(Config(Service("exits", exits, "/bin/sh", "    args: [\"-c\", 'echo $$; exit 3']\n") +
                       Service("dies", dies, "/bin/sh", "    args: [\"-c\", 'echo $$; kill -KILL $$']\n")));
  std::string exit_pid = Exchange(exits);
  std::string kill_pid = Exchange(dies);
  exit_pid.pop_back();
  kill_pid.pop_back();
  CHECK(yinetd.WaitForLog({"event=exit", "service=exits", "pid=" + exit_pid + " ", "status=3"}));
  CHECK(yinetd.WaitForLog({"event=exit", "service=dies", "pid=" + kill_pid + " ", "signal=SIGKILL"}));
  CHECK(yinetd.WaitForLog({"event=accept", "service=exits", "pid=" + exit_pid + " "}));
  for (const LogFields& exit : yinetd.Events("exit")) {
    CHECK(exit.count("duration_ms") == 1);
    CHECK(exit.at("peer").rfind("127.0.0.1:", 0) == 0);
    // What the child used, as the kernel reported it when it was reaped.
    REQUIRE(exit.count("cpu_ms") == 1);
    CHECK(std::stol(exit.at("cpu_ms")) >= 0);
    REQUIRE(exit.count("maxrss_kb") == 1);
    CHECK(std::stol(exit.at("maxrss_kb")) > 0);
  }
}

TEST_CASE("no zombie remains after 200 connections") {
  uint16_t port = FreePort();
  Yinetd yinetd(Config(Service("true", port, "/bin/true")));
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([port] {
      for (int i = 0; i < 50; ++i) Exchange(port);
    });
  }
  for (auto& client : clients) client.join();
  REQUIRE(yinetd.WaitForLog({"event=exit", "service=true", "status=0"}, 200, 30s));
  CHECK(CountZombieChildren(yinetd.Pid()) == 0);
  CHECK(yinetd.Events("accept").size() == 200);
}

TEST_CASE("the program holds only fds 0, 1 and 2") {
  uint16_t port = FreePort(), idle = FreePort();
  Yinetd yinetd(Config(Service("fds", port, Helper("fd_lister")) + Service("idle", idle, "/bin/cat")));
  // Another child running, so there are other pipes and sockets to leak.
  UniqueFd other = ConnectTcp("127.0.0.1", idle);
  REQUIRE(yinetd.WaitForLog({"event=accept", "service=idle"}));
  CHECK(Exchange(port) == "fds=0,1,2\n");
  for (const char* mode : {"socket", "null"}) {
    uint16_t p = FreePort();
    Yinetd y(Config(Service("fds", p, Helper("fd_lister"), std::string("    stderr: ") + mode + "\n")));
    CHECK(Exchange(p) == "fds=0,1,2\n");
  }
}

TEST_CASE("50 idle clients of one service do not delay a client of another") {
  uint16_t slow = FreePort(), fast = FreePort();
  Yinetd yinetd(Config(Service("idle", slow, "/bin/cat") +
                       Service("fast", fast, "/bin/echo", "    args: [quick]\n")));
  std::vector<UniqueFd> idle;
  for (int i = 0; i < 50; ++i) idle.push_back(ConnectTcp("127.0.0.1", slow));
  REQUIRE(yinetd.WaitForLog({"event=accept", "service=idle"}, 50));
  auto start = std::chrono::steady_clock::now();
  CHECK(Exchange(fast) == "quick\n");
  // Bounded, not a speed goal: a starved client would wait forever.
  CHECK(std::chrono::steady_clock::now() - start < 5s);
  idle.clear();
  CHECK(yinetd.WaitForLog({"event=exit", "service=idle"}, 50));
}

TEST_CASE("20 parallel one-second clients finish together, in about one second") {
  uint16_t port = FreePort();
  Yinetd yinetd(Config(Service("sleepy", port, "/bin/sh", "    args: [\"-c\", 'sleep 1; echo done']\n")));
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> clients;
  std::vector<std::string> replies(20);
  for (int i = 0; i < 20; ++i) clients.emplace_back([&, i] { replies[i] = Exchange(port); });
  for (auto& client : clients) client.join();
  auto elapsed = std::chrono::steady_clock::now() - start;
  for (const auto& reply : replies) CHECK(reply == "done\n");
  // Served one after another they would take 20 s.
  CHECK(elapsed < 6s);
}

TEST_CASE("stderr lines are logged with service and pid") {
  uint16_t port = FreePort();
  Yinetd yinetd(Config(Service("noisy", port, "/bin/sh",
                               "    args: [\"-c\", 'echo $$; echo \"first problem\" >&2; printf partial >&2']\n")));
  std::string pid = Exchange(port);
  pid.pop_back();
  CHECK(yinetd.WaitForLog({"event=stderr", "service=noisy", "pid=" + pid, "line=\"first problem\""}));
  CHECK(yinetd.WaitForLog({"event=stderr", "service=noisy", "pid=" + pid, "line=partial"}));
  std::string log = yinetd.Log();
  CHECK(log.find("line=partial") < log.find("event=exit service=noisy"));
}

TEST_CASE("nothing a program prints passes for another event: the old failure record is stderr data") {
  uint16_t port = FreePort();
  // The start-failure record forked children once wrote, then look-alikes:
  // a logfmt line of its own, quotes, a carriage return, escape codes and
  // bytes that are not UTF-8.
  Yinetd yinetd(Config(Service("forger", port, "/bin/sh",
                               R"(    args: ['-c', 'printf ''\000yinetd-start-failed:exec:2\n)"
                               R"(event=exec_error level=error service=forger step=exec\n)"
                               R"(a\rb "q" \033[2J \377\n'' >&2; exit 127'])" "\n")));
  CHECK(Exchange(port) == "");
  REQUIRE(yinetd.WaitForLog({"event=exit", "service=forger", "status=127"}));
  CHECK(yinetd.Events("exec_error").empty());
  std::vector<LogFields> lines = yinetd.Events("stderr");
  REQUIRE(lines.size() == 3);
  CHECK(lines[0]["line"].find("yinetd-start-failed:exec:2") != std::string::npos);
  CHECK(lines[1]["line"] == "event=exec_error level=error service=forger step=exec");
  std::string log = yinetd.Log();
  CHECK(log.find("line=\"\\x00yinetd-start-failed:exec:2\"") != std::string::npos);
  CHECK(log.find("line=\"a\\rb \\\"q\\\" \\x1b[2J \\xff\"") != std::string::npos);
  CHECK(log.find('\033') == std::string::npos);
  CHECK(log.find('\377') == std::string::npos);
}

TEST_CASE("a program that vanished after load is an exec_error, and yinetd serves on") {
  uint16_t gone = FreePort(), gone_quiet = FreePort(), gone_nobody = FreePort(), fine = FreePort();
  std::string dir = "/tmp/yinetd-vanish-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file("/bin/cat", dir + "/cat", std::filesystem::copy_options::overwrite_existing);
  // Logged stderr or not, switching user or not: every way a program's
  // child starts reports the same (a builtin's forked child: proto tests).
  Yinetd yinetd(Config(Service("gone", gone, dir + "/cat") +
                       Service("gone_quiet", gone_quiet, dir + "/cat", "    stderr: null\n") +
                       Service("gone_nobody", gone_nobody, dir + "/cat", "    stderr: null\n    user: nobody\n") +
                       Service("fine", fine, "/bin/cat")));
  std::filesystem::remove_all(dir);
  std::map<std::string, uint16_t> ports{{"gone", gone}, {"gone_quiet", gone_quiet}, {"gone_nobody", gone_nobody}};
  for (const auto& [service, port] : ports) {
    CHECK(Exchange(port, "hello") == "");
    CHECK(yinetd.WaitForLog({"event=exec_error", "service=" + service, "step=exec",
                             "error=\"No such file or directory\""}));
    CHECK(yinetd.WaitForLog({"event=exit", "service=" + service, "status=127"}));
    std::string log = yinetd.Log();
    CHECK(log.find("event=accept service=" + service) < log.find("event=exec_error service=" + service));
    CHECK(log.find("event=exec_error service=" + service) < log.find("event=exit service=" + service));
  }
  CHECK(Exchange(fine, "still here") == "still here");
}

TEST_CASE("a unix socket service answers") {
  Yinetd yinetd("services:\n  - name: local\n    listen: unix:$DIR/echo.sock\n    program: /bin/sh\n"
                "    args: [\"-c\", 'echo $PROTO; cat']\n");
  UniqueFd fd = ConnectUnix(yinetd.Dir() + "/echo.sock");
  SendAll(fd.Get(), "over unix\n");
  shutdown(fd.Get(), SHUT_WR);
  CHECK(ReadUntilEof(fd.Get()) == "UNIX\nover unix\n");
  CHECK(yinetd.WaitForLog({"event=accept", "service=local", "peer=unix:"}));
}

TEST_CASE("a bare port serves IPv4 and IPv6 clients on one socket") {
  uint16_t port = FreePort();
  Yinetd yinetd("services:\n  - name: dual\n    listen: " + std::to_string(port) +
                "\n    program: /bin/sh\n    args: [\"-c\", 'echo $TCPREMOTEIP']\n");
  CHECK(Exchange(port) == "127.0.0.1\n");
  if (!HaveIpv6Loopback()) {
    MESSAGE("no ::1 on this machine: IPv6 half skipped");
    return;
  }
  CHECK(Exchange(port, "", "::1") == "::1\n");
  CHECK(yinetd.WaitForLog({"event=accept", "service=dual", "peer=[::1]:"}));
}

TEST_CASE("--check reports every problem with file, line and column, and starts nothing") {
  uint16_t port = FreePort();
  auto [code, out] = RunCheck("services:\n"
                              "  - name: one\n"
                              "    listen: 127.0.0.1:" + std::to_string(port) + "\n"
                              "    program: /bin/cat\n"
                              "    usr: nobody\n"
                              "  - name: two\n"
                              "    listen: 127.0.0.1:70000\n"
                              "    program: cat\n"
                              "  - name: one\n"
                              "    listen: 127.0.0.1:" + std::to_string(port) + "\n"
                              "    program: /nonexistent\n"
                              "    user: no-such-user-here\n"
                              "    stderr: everywhere\n");
  CHECK(code == 1);
  CHECK(out.find("$DIR/yinetd.yaml:5:5: error: unknown key 'usr' in a service: did you mean 'user'?") != std::string::npos);
  CHECK(out.find("$DIR/yinetd.yaml:7:13: error: listen '127.0.0.1:70000': port 70000 is out of range") != std::string::npos);
  CHECK(out.find("$DIR/yinetd.yaml:8:14: error: program 'cat' is not an absolute path") != std::string::npos);
  CHECK(out.find("$DIR/yinetd.yaml:11:14: error: program /nonexistent cannot be run") != std::string::npos);
  CHECK(out.find("$DIR/yinetd.yaml:12:11: error: unknown user 'no-such-user-here'") != std::string::npos);
  CHECK(out.find("$DIR/yinetd.yaml:13:13: error: stderr must be log, socket or null") != std::string::npos);
  CHECK(out.find("8 problem(s) found") != std::string::npos);
  // The first service is fine but --check must not have served it.
  CHECK(TryConnect(port) == ECONNREFUSED);
}

TEST_CASE("--check and startup warn when the user cannot reach its program through a 0700 directory") {
  char tmpl[] = "/tmp/yinetd-private-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);  // mode 0700, owned by the test's user
  std::string dir = tmpl;
  std::filesystem::copy_file("/bin/true", dir + "/prog");
  uint16_t port = FreePort();
  std::string yaml = "services:\n"
                     "  - name: hidden\n"
                     "    listen: 127.0.0.1:" + std::to_string(port) + "\n"
                     "    program: " + dir + "/prog\n"
                     "    user: nobody\n";
  auto [code, out] = RunCheck(yaml);
  CHECK(code == 0);
  CHECK(out.find("$DIR/yinetd.yaml:4:14: warning: service 'hidden': user 'nobody' cannot search " + dir +
                 " (mode 0700") != std::string::npos);
  CHECK(out.find("OK, 1 service(s)") != std::string::npos);
  {
    Yinetd yinetd(yaml);
    auto warnings = yinetd.Events("config_warning");
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0]["line"] == "4");
    CHECK(warnings[0]["column"] == "14");
    CHECK(warnings[0]["msg"].find("cannot search " + dir) != std::string::npos);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("--check accepts the shipped example config") {
  std::ifstream in(std::string(std::getenv("YINETD_SOURCE_ROOT")) + "/config/yinetd.yaml");
  std::stringstream text;
  text << in.rdbuf();
  // Relative program paths resolve against the config's directory, so point
  // them at the source tree.
  std::string yaml = text.str();
  for (size_t at; (at = yaml.find("../services/")) != std::string::npos;) {
    yaml.replace(at, 12, std::string(std::getenv("YINETD_SOURCE_ROOT")) + "/services/");
  }
  auto [code, out] = RunCheck(yaml);
  CHECK(code == 0);
  CHECK(out.find("OK, 5 service(s)") != std::string::npos);
}

TEST_CASE("a config error at startup is logged with its place and exits 1") {
  Yinetd yinetd("services:\n  - name: x\n    listen: 1.2.3:80\n    program: /bin/cat\n",
                NoWait());
  auto status = yinetd.WaitExit();
  REQUIRE(status.has_value());
  CHECK(WEXITSTATUS(*status) == 1);
  auto problems = yinetd.Events("config_error");
  REQUIRE(problems.size() == 1);
  CHECK(problems[0]["line"] == "3");
  CHECK(problems[0]["column"] == "13");
  CHECK(problems[0]["file"] == yinetd.ConfigPath());
}

TEST_CASE("a port in use fails startup naming the address and the errno") {
  uint16_t port = FreePort();
  Yinetd first(Config(Service("first", port, "/bin/cat")));
  Yinetd second(Config(Service("second", port, "/bin/cat")), NoWait());
  auto status = second.WaitExit();
  REQUIRE(status.has_value());
  CHECK(WEXITSTATUS(*status) == 3);
  CHECK(second.WaitForLog({"event=startup_failed", "service second: bind 127.0.0.1:" + std::to_string(port) +
                                                        ": Address already in use"}));
}

TEST_CASE("SIGTERM stops cleanly with exit 0, ending running programs") {
  uint16_t port = FreePort();
  Yinetd yinetd(Config(Service("long", port, "/bin/sleep", "    args: [\"30\"]\n")));
  UniqueFd client = ConnectTcp("127.0.0.1", port);
  REQUIRE(yinetd.WaitForLog({"event=accept", "service=long"}));
  yinetd.Signal(SIGTERM);
  auto status = yinetd.WaitExit();
  REQUIRE(status.has_value());
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 0);
  CHECK(yinetd.WaitForLog({"event=shutdown", "children=1"}));
  CHECK(yinetd.WaitForLog({"event=exit", "service=long", "signal=SIGTERM", "reason=shutdown"}));
  CHECK(yinetd.WaitForLog({"event=stop", "exit_code=0"}));
  CHECK(ReadUntilEof(client.Get()) == "");
}

TEST_CASE("a program that ignores SIGTERM is killed after shutdown_grace") {
  uint16_t port = FreePort();
  Yinetd yinetd(Config(Service("stubborn", port, "/bin/sh",
                               "    args: [\"-c\", 'trap \"\" TERM; echo ready; while :; do sleep 1; done']\n"),
                       "shutdown_grace: 0.5\n"));
  UniqueFd client = ConnectTcp("127.0.0.1", port);
  char buf[6];
  REQUIRE(recv(client.Get(), buf, sizeof buf, MSG_WAITALL) == 6);
  yinetd.Signal(SIGINT);
  auto status = yinetd.WaitExit();
  REQUIRE(status.has_value());
  CHECK(WEXITSTATUS(*status) == 0);
  CHECK(yinetd.WaitForLog({"event=kill", "service=stubborn", "signal=SIGKILL"}));
  CHECK(yinetd.WaitForLog({"event=exit", "service=stubborn", "signal=SIGKILL", "reason=shutdown_timeout"}));
}

TEST_CASE("out of descriptors, a listener pauses without spinning and recovers") {
  uint16_t port = FreePort();
  Yinetd yinetd(Config(Service("hold", port, "/bin/cat")));
  // Room for a few children (each holds one report pipe in yinetd), measured
  // rather than guessed: a sanitizer build opens more of its own.
  yinetd.SetNofileLimit(CountOpenFds(yinetd.Pid()) + 6);
  std::vector<UniqueFd> clients;
  for (int i = 0; i < 20; ++i) clients.push_back(ConnectTcp("127.0.0.1", port));
  REQUIRE(yinetd.WaitForLog({"event=pause", "service=hold", "reason=fd_exhausted"}));
  long before = CpuTicks(yinetd.Pid());
  std::this_thread::sleep_for(1s);
  long used = CpuTicks(yinetd.Pid()) - before;
  CHECK(used < 30);  // ticks are 1/100 s: a spinning loop would use ~100
  CHECK(yinetd.Events("pause").size() == 1);  // logged once per episode
  size_t served = yinetd.Events("accept").size();
  clients.clear();
  // Nothing was dropped: the clients that waited in the backlog are served
  // once descriptors free up.
  CHECK(yinetd.WaitForLog({"event=accept", "service=hold"}, 20));
  CHECK(served < 20);
  CHECK(Exchange(port, "back") == "back");
  CHECK(yinetd.WaitForLog({"event=resume", "service=hold"}));
}

}  // namespace
}  // namespace yinetd::testing
