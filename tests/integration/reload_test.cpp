// End to end: live reconfiguration (issue 4).
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "integration/harness.h"

namespace yinetd::testing {
namespace {

std::string Svc(const std::string& name, uint16_t port, const std::string& word) {
  return "  - {name: " + name + ", listen: \"127.0.0.1:" + std::to_string(port) +
         "\", program: /bin/echo, args: [" + word + "]}\n";
}

TEST_CASE("adding and removing a service by editing the file and sending SIGHUP") {
  uint16_t a = FreePort(), b = FreePort();
  Yinetd yinetd("services:\n" + Svc("a", a, "alpha"));
  CHECK(TryConnect(b) == ECONNREFUSED);
  yinetd.Rewrite("services:\n" + Svc("a", a, "alpha") + Svc("b", b, "beta"));
  yinetd.Signal(SIGHUP);
  REQUIRE(yinetd.WaitForLog({"event=reload", "result=ok", "added=1", "removed=0", "changed=0", "kept=1"}));
  CHECK(Exchange(b) == "beta\n");
  CHECK(Exchange(a) == "alpha\n");
  yinetd.Rewrite("services:\n" + Svc("b", b, "beta"));
  yinetd.Signal(SIGHUP);
  REQUIRE(yinetd.WaitForLog({"event=reload", "result=ok", "added=0", "removed=1", "changed=0", "kept=1"}));
  CHECK(TryConnect(a) == ECONNREFUSED);
  CHECK(Exchange(b) == "beta\n");
}

TEST_CASE("a changed program serves new connections while an old session carries on") {
  uint16_t port = FreePort();
  Yinetd yinetd("services:\n  - {name: s, listen: \"127.0.0.1:" + std::to_string(port) +
                "\", program: /bin/cat}\n");
  UniqueFd old_session = ConnectTcp("127.0.0.1", port);
  SendAll(old_session.Get(), "before\n");
  yinetd.Rewrite("services:\n" + Svc("s", port, "new-program"));
  yinetd.Signal(SIGHUP);
  REQUIRE(yinetd.WaitForLog({"event=reload", "result=ok", "changed=1"}));
  CHECK(Exchange(port) == "new-program\n");
  SendAll(old_session.Get(), "after\n");
  shutdown(old_session.Get(), SHUT_WR);
  CHECK(ReadUntilEof(old_session.Get()) == "before\nafter\n");
  CHECK(yinetd.WaitForLog({"event=exit", "service=s", "status=0"}, 2));
}

TEST_CASE("a broken config on reload keeps the old one serving and names file and line") {
  uint16_t port = FreePort();
  Yinetd yinetd("services:\n" + Svc("a", port, "still-here"));
  yinetd.Rewrite("services:\n" + Svc("a", port, "x") + "  - {name: b, listen: 99999, program: /bin/cat}\n");
  yinetd.Signal(SIGHUP);
  REQUIRE(yinetd.WaitForLog({"event=reload", "result=error", "file=" + yinetd.ConfigPath(), "line=3",
                             "port 99999 is out of range"}));
  CHECK(Exchange(port) == "still-here\n");
}

TEST_CASE("a client hammering an unchanged service through 20 reloads is never refused") {
  uint16_t port = FreePort(), other = FreePort();
  Yinetd yinetd("services:\n" + Svc("steady", port, "ok"));
  std::atomic<bool> done{false};
  std::atomic<int> good{0}, bad{0};
  std::thread client([&] {
    auto end = std::chrono::steady_clock::now() + 3s;
    while (std::chrono::steady_clock::now() < end) {
      if (TryConnect(port) != 0) {
        ++bad;
        continue;
      }
      (Exchange(port) == "ok\n" ? good : bad)++;
    }
    done = true;
  });
  for (int i = 0; i < 20; ++i) {
    // Alternate between adding and removing another service, so every
    // reload really changes the listener set.
    std::string extra = i % 2 == 0 ? Svc("other", other, "x") : "";
    yinetd.Rewrite("services:\n" + Svc("steady", port, "ok") + extra);
    yinetd.Signal(SIGHUP);
    REQUIRE(yinetd.WaitForLog({"event=reload", "result=ok"}, i + 1));
    std::this_thread::sleep_for(100ms);
  }
  client.join();
  CHECK(done);
  CHECK(bad == 0);
  CHECK(good > 20);
}

TEST_CASE("include: a service in conf.d answers, and an error in it names that file") {
  uint16_t main_port = FreePort(), extra = FreePort();
  Yinetd yinetd("include: conf.d/*.yaml\nservices:\n" + Svc("main", main_port, "main"));
  WriteText(yinetd.Dir() + "/conf.d/extra.yaml", "services:\n" + Svc("extra", extra, "from-conf.d"));
  yinetd.Signal(SIGHUP);
  REQUIRE(yinetd.WaitForLog({"event=reload", "result=ok", "added=1"}));
  CHECK(Exchange(extra) == "from-conf.d\n");
  WriteText(yinetd.Dir() + "/conf.d/broken.yaml", "services:\n  - {name: bad, listen: 1, progam: /bin/cat}\n");
  yinetd.Signal(SIGHUP);
  CHECK(yinetd.WaitForLog({"event=reload", "result=error", "file=" + yinetd.Dir() + "/conf.d/broken.yaml",
                           "line=2"}));
  CHECK(Exchange(extra) == "from-conf.d\n");
}

TEST_CASE("watch: true reloads by itself after an edit") {
  uint16_t a = FreePort(), b = FreePort();
  Yinetd yinetd("watch: true\nservices:\n" + Svc("a", a, "alpha"));
  std::this_thread::sleep_for(100ms);
  yinetd.Rewrite("watch: true\nservices:\n" + Svc("a", a, "alpha") + Svc("b", b, "beta"));
  REQUIRE(yinetd.WaitForLog({"event=reload", "result=ok", "added=1"}, 1, 5s));
  CHECK(Exchange(b) == "beta\n");
}

TEST_CASE("watch: true sees the first file dropped into an empty include directory") {
  std::string dir = "/tmp/yinetd-watch-" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  uint16_t a = FreePort(), b = FreePort();
  Yinetd yinetd("watch: true\ninclude: " + dir + "/*.yaml\nservices:\n" + Svc("a", a, "alpha"));
  std::this_thread::sleep_for(100ms);
  WriteText(dir + "/b.yaml", "services:\n" + Svc("b", b, "beta"));
  CHECK(yinetd.WaitForLog({"event=reload", "result=ok", "added=1"}, 1, 5s));
  CHECK(Exchange(b) == "beta\n");
  std::filesystem::remove_all(dir);
}

// What the kubelet does to a mounted ConfigMap: a new timestamped directory,
// a `..data_tmp` link to it renamed over `..data`, the old directory removed.
void SwapConfigMap(const std::string& mount, const std::string& stamp, const std::string& text) {
  std::filesystem::create_directory(mount + "/" + stamp);
  WriteText(mount + "/" + stamp + "/config.yaml", text);
  std::filesystem::path old_target = std::filesystem::read_symlink(mount + "/..data");
  std::filesystem::create_symlink(stamp, mount + "/..data_tmp");
  std::filesystem::rename(mount + "/..data_tmp", mount + "/..data");
  std::filesystem::remove_all(mount + "/" + old_target.string());
}

TEST_CASE("watch: true follows a config mounted the Kubernetes way when its ..data link is switched") {
  uint16_t a = FreePort(), b = FreePort();
  StartOptions options;
  options.config_at = [&](const std::string& dir) {
    std::string mount = dir + "/configmap";
    std::filesystem::create_directories(mount + "/..2026_12_02_07_00_00.1");
    WriteText(mount + "/..2026_12_02_07_00_00.1/config.yaml", "watch: true\nservices:\n" + Svc("a", a, "alpha"));
    std::filesystem::create_symlink("..2026_12_02_07_00_00.1", mount + "/..data");
    std::filesystem::create_symlink("..data/config.yaml", mount + "/config.yaml");
    return mount + "/config.yaml";
  };
  Yinetd yinetd("", options);
  REQUIRE(Exchange(a) == "alpha\n");
  std::string mount = yinetd.Dir() + "/configmap";
  SwapConfigMap(mount, "..2026_12_02_07_01_00.2", "watch: true\nservices:\n" + Svc("a", a, "alpha") + Svc("b", b, "beta"));
  REQUIRE(yinetd.WaitForLog({"event=reload", "result=ok", "added=1"}, 1, 5s));
  CHECK(Exchange(b) == "beta\n");
  // The watch followed the switch: the next update is seen too.
  SwapConfigMap(mount, "..2026_12_02_07_02_00.3", "watch: true\nservices:\n" + Svc("b", b, "gamma"));
  REQUIRE(yinetd.WaitForLog({"event=reload", "result=ok", "removed=1", "changed=1"}, 1, 5s));
  CHECK(Exchange(b) == "gamma\n");
  CHECK(TryConnect(a) == ECONNREFUSED);
}

TEST_CASE("watch: true picks up an include directory created after the start") {
  uint16_t a = FreePort(), b = FreePort(), c = FreePort();
  Yinetd yinetd("watch: true\ninclude: conf.d/*.yaml\nservices:\n" + Svc("a", a, "alpha"));
  std::filesystem::create_directory(yinetd.Dir() + "/conf.d");
  WriteText(yinetd.Dir() + "/conf.d/b.yaml", "services:\n" + Svc("b", b, "beta"));
  REQUIRE(yinetd.WaitForLog({"event=reload", "result=ok", "added=1"}, 1, 5s));
  CHECK(Exchange(b) == "beta\n");
  // The new directory itself is watched now.
  WriteText(yinetd.Dir() + "/conf.d/c.yaml", "services:\n" + Svc("c", c, "gamma"));
  REQUIRE(yinetd.WaitForLog({"event=reload", "result=ok", "added=1"}, 2, 5s));
  CHECK(Exchange(c) == "gamma\n");
}

TEST_CASE("watch: true picks up an include directory replaced by a new one") {
  uint16_t a = FreePort(), b = FreePort(), c = FreePort();
  StartOptions options;
  options.config_at = [&](const std::string& dir) {
    std::filesystem::create_directory(dir + "/conf.d");
    WriteText(dir + "/conf.d/b.yaml", "services:\n" + Svc("b", b, "beta"));
    return dir + "/yinetd.yaml";
  };
  Yinetd yinetd("watch: true\ninclude: conf.d/*.yaml\nservices:\n" + Svc("a", a, "alpha"), options);
  REQUIRE(Exchange(b) == "beta\n");
  std::string dir = yinetd.Dir();
  std::filesystem::create_directory(dir + "/conf.d.new");
  WriteText(dir + "/conf.d.new/c.yaml", "services:\n" + Svc("c", c, "gamma"));
  std::filesystem::rename(dir + "/conf.d", dir + "/conf.d.old");
  std::filesystem::rename(dir + "/conf.d.new", dir + "/conf.d");
  REQUIRE(yinetd.WaitForLog({"event=reload", "result=ok", "added=1", "removed=1"}, 1, 5s));
  CHECK(Exchange(c) == "gamma\n");
  CHECK(TryConnect(b) == ECONNREFUSED);
  // The new directory itself is watched now.
  WriteText(dir + "/conf.d/b.yaml", "services:\n" + Svc("b", b, "beta-again"));
  REQUIRE(yinetd.WaitForLog({"event=reload", "result=ok", "added=1", "removed=0"}, 1, 5s));
  CHECK(Exchange(b) == "beta-again\n");
}

TEST_CASE("SIGUSR1 logs a status line per service with its counts") {
  uint16_t a = FreePort();
  Yinetd yinetd("services:\n  - {name: a, listen: \"127.0.0.1:" + std::to_string(a) +
                "\", program: /bin/echo, args: [hi], deny: [127.0.0.2]}\n");
  Exchange(a);
  Exchange(a);
  ReadUntilEof(ConnectTcpFrom("127.0.0.2", "127.0.0.1", a).Get());
  REQUIRE(yinetd.WaitForLog({"event=exit", "service=a"}, 2));
  yinetd.Signal(SIGUSR1);
  CHECK(yinetd.WaitForLog({"event=status", "service=a", "listeners=1", "running=0", "accepted=2", "refused=1",
                           "exited=2"}));
}

TEST_CASE("--reload signals the instance named by --pidfile") {
  uint16_t a = FreePort(), b = FreePort();
  char tmpl[] = "/tmp/yinetd-pid-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  std::string pidfile = std::string(tmpl) + "/yinetd.pid";
  StartOptions options;
  options.extra_args = {"--pidfile", pidfile};
  Yinetd yinetd("services:\n" + Svc("a", a, "alpha"), options);
  yinetd.Rewrite("services:\n" + Svc("a", a, "alpha") + Svc("b", b, "beta"));
  // With a control socket, --reload goes through it (ctl_test.cpp); here
  // it is off, and the pid file names a yinetd serving this config.
  std::string command = std::string(std::getenv("YINETD_BINARY")) + " -c " + yinetd.ConfigPath() +
                        " --control-socket /nonexistent/control --reload --pidfile " + pidfile;
  CHECK(std::system(command.c_str()) == 0);
  REQUIRE(yinetd.WaitForLog({"event=reload", "result=ok", "added=1"}));
  CHECK(Exchange(b) == "beta\n");
  yinetd.Signal(SIGTERM);
  REQUIRE(yinetd.WaitExit().has_value());
  CHECK_FALSE(std::filesystem::exists(pidfile));  // removed on exit
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace yinetd::testing
