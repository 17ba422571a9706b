// End to end: the control socket and `yinetd ctl` (issue 15 §2).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "integration/harness.h"

namespace yinetd::testing {
namespace {

std::string Svc(const std::string& name, uint16_t port, const std::string& program = "/bin/cat") {
  return "  - {name: " + name + ", listen: \"127.0.0.1:" + std::to_string(port) + "\", program: " + program + "}\n";
}

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Runs `yinetd ARGS` as uid/gid 65534 (nobody); its exit code and output.
std::pair<int, std::string> RunAsNobody(const std::vector<std::string>& args) {
  int fds[2];
  REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
  UniqueFd read_end(fds[0]), write_end(fds[1]);
  std::string binary = std::getenv("YINETD_BINARY");
  std::vector<std::string> all = {binary};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : all) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    dup2(write_end.Get(), 1);
    dup2(write_end.Get(), 2);
    if (setgroups(0, nullptr) != 0 || setgid(65534) != 0 || setuid(65534) != 0) _exit(126);
    execv(argv[0], argv.data());
    _exit(127);
  }
  write_end.Reset();
  std::string out = ReadUntilEof(read_end.Get(), 20s);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

TEST_CASE("ctl status names every service, its listeners and counts, as text and as JSON") {
  uint16_t a = FreePort(), b = FreePort();
  Yinetd yinetd("services:\n" + Svc("alpha", a) + Svc("beta", b, "/bin/true"));
  CHECK(Exchange(b).empty());
  REQUIRE(yinetd.WaitForLog({"event=exit", "service=beta"}));
  auto [code, text] = yinetd.Ctl("status");
  CHECK(code == 0);
  CHECK(Contains(text, "pid " + std::to_string(yinetd.Pid())));
  CHECK(Contains(text, "2 service(s), 0 running"));
  CHECK(Contains(text, "alpha: listen 127.0.0.1:" + std::to_string(a) + " running 0 accepted 0"));
  CHECK(Contains(text, "beta: listen 127.0.0.1:" + std::to_string(b) + " running 0 accepted 1 refused 0 exited 1"));
  auto [json_code, json] = yinetd.Ctl("status --json");
  CHECK(json_code == 0);
  CHECK(json.rfind("{\"version\":", 0) == 0);
  CHECK(Contains(json, "{\"name\":\"beta\",\"listen\":[\"127.0.0.1:" + std::to_string(b) +
                           "\"],\"running\":0,\"accepted\":1,\"refused\":0,\"exited\":1}"));
  CHECK(yinetd.WaitForLog({"event=control", "command=status", "uid=0", "result=ok"}, 2));
}

TEST_CASE("ctl connections lists each running program with its peer, pid and age") {
  uint16_t port = FreePort();
  Yinetd yinetd("services:\n" + Svc("cat", port));
  UniqueFd session = ConnectTcp("127.0.0.1", port);
  REQUIRE(yinetd.WaitForLog({"event=accept", "service=cat"}));
  LogFields accept = yinetd.Events("accept").at(0);
  auto [code, text] = yinetd.Ctl("connections");
  CHECK(code == 0);
  CHECK(text.rfind("SERVICE PID PEER VIA USER AGE TLS CLIENT\n", 0) == 0);
  CHECK(Contains(text, "cat " + accept["pid"] + " " + accept["peer"] + " - - "));
  auto [json_code, json] = yinetd.Ctl("connections --json");
  CHECK(json_code == 0);
  CHECK(Contains(json, "{\"service\":\"cat\",\"pid\":" + accept["pid"] + ",\"peer\":\"" + accept["peer"] + "\""));
  session.Reset();
  REQUIRE(yinetd.WaitForLog({"event=exit", "service=cat"}));
  CHECK(yinetd.Ctl("connections").second == "SERVICE PID PEER VIA USER AGE TLS CLIENT\n");
}

TEST_CASE("ctl reload prints ok and exits 0; the new service answers") {
  uint16_t a = FreePort(), b = FreePort();
  Yinetd yinetd("services:\n" + Svc("a", a));
  yinetd.Rewrite("services:\n" + Svc("a", a) + Svc("b", b, "/bin/true"));
  auto [code, text] = yinetd.Ctl("reload");
  CHECK(code == 0);
  CHECK(text == "ok: added 1, removed 0, changed 0, kept 1\n");
  CHECK(TryConnect(b) == 0);
  CHECK(yinetd.WaitForLog({"event=reload", "result=ok", "added=1"}));
}

TEST_CASE("a refused reload exits 1 with FILE:LINE:COLUMN, and the old config keeps serving") {
  uint16_t port = FreePort();
  Yinetd yinetd("services:\n  - {name: a, listen: \"127.0.0.1:" + std::to_string(port) +
                "\", program: /bin/echo, args: [still]}\n");
  yinetd.Rewrite("services:\n  - {name: a, listen: 99999, program: /bin/cat}\n");
  auto [code, text] = yinetd.Ctl("reload");
  CHECK(code == 1);
  CHECK(Contains(text, "refused: the old config keeps serving\n"));
  CHECK(Contains(text, yinetd.ConfigPath() + ":2:"));
  CHECK(Contains(text, "port 99999 is out of range"));
  CHECK(Exchange(port) == "still\n");
}

TEST_CASE("a partial reload exits 2 and names the address it could not bind") {
  uint16_t a = FreePort(), taken = FreePort();
  UniqueFd holder(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(taken);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(holder.Get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  REQUIRE(listen(holder.Get(), 1) == 0);
  Yinetd yinetd("services:\n" + Svc("a", a));
  yinetd.Rewrite("services:\n" + Svc("a", a) + Svc("b", taken));
  auto [code, text] = yinetd.Ctl("reload");
  CHECK(code == 2);
  CHECK(text.rfind("partial: added 1, removed 0, changed 0, kept 1\nnot bound: 127.0.0.1:" + std::to_string(taken) + ": ", 0) == 0);
  CHECK(Contains(text, "Address already in use"));
}

TEST_CASE("ctl check shows the plan of the config on disk without applying it, or its problems") {
  uint16_t a = FreePort(), b = FreePort();
  Yinetd yinetd("services:\n" + Svc("a", a) + Svc("gone", FreePort()));
  yinetd.Rewrite("services:\n" + Svc("a", a, "/bin/true") + Svc("b", b));
  auto [code, text] = yinetd.Ctl("check");
  CHECK(code == 0);
  CHECK(text == "add b\nchange a\nremove gone\nOK: a reload would apply the changes above\n");
  CHECK(TryConnect(b) == ECONNREFUSED);  // not applied
  yinetd.Rewrite("services:\n  - {name: a, listen: \"127.0.0.1:1\", program: /no/such}\n");
  auto [bad_code, bad] = yinetd.Ctl("check");
  CHECK(bad_code == 1);
  CHECK(Contains(bad, yinetd.ConfigPath() + ":2:"));
  CHECK(Contains(bad, "/no/such cannot be run"));
  CHECK(Contains(bad, "1 problem(s): a reload would be refused"));
}

TEST_CASE("ctl dump prints the effective config, which loads again with --check") {
  uint16_t a = FreePort();
  Yinetd yinetd("defaults:\n  max_rate: 5\ninclude: conf.d/*.yaml\nservices:\n" + Svc("a", a));
  WriteText(yinetd.Dir() + "/conf.d/b.yaml", "services:\n" + Svc("b", FreePort()));
  REQUIRE(yinetd.Ctl("reload").first == 0);
  auto [code, dump] = yinetd.Ctl("dump");
  CHECK(code == 0);
  CHECK(Contains(dump, "max_rate: 5"));
  CHECK(Contains(dump, "name: b"));
  CHECK_FALSE(Contains(dump, "include"));
  std::string dumped = yinetd.Dir() + "/dumped.yaml";
  WriteText(dumped, dump);
  auto [check_code, check] = RunCommand(std::string(std::getenv("YINETD_BINARY")) + " --check -c " + dumped + " 2>&1");
  CHECK(check_code == 0);
  CHECK(check == dumped + ": OK, 2 service(s)\n");
}

TEST_CASE("a control client that connects and sends nothing is dropped at its deadline; others are served meanwhile") {
  Yinetd yinetd("services:\n" + Svc("a", FreePort()));
  UniqueFd silent = ConnectUnix(yinetd.ControlPath());
  REQUIRE(silent);
  CHECK(yinetd.Ctl("status").first == 0);
  CHECK(ReadUntilEof(silent.Get(), 20s).empty());  // closed after 10 s, nothing said
  CHECK(yinetd.WaitForLog({"event=control", "command=", "result=timeout"}));
  CHECK(yinetd.Ctl("status").first == 0);
}

TEST_CASE("a garbage request gets an error answer and is logged, not echoed") {
  Yinetd yinetd("services:\n" + Svc("a", FreePort()));
  UniqueFd client = ConnectUnix(yinetd.ControlPath());
  SendAll(client.Get(), "reload\x1b[2J event=forged\n");
  CHECK(ReadUntilEof(client.Get()) == "yinetd-ctl 1\nbad request: request must be printable text\n");
  CHECK(yinetd.WaitForLog({"event=control", "result=bad_request"}));
  CHECK_FALSE(Contains(yinetd.Log(), "event=forged"));
  CHECK(yinetd.Events("reload").empty());
}

TEST_CASE("a peer that is neither root nor yinetd's user may look but not reload") {
  uint16_t a = FreePort();
  Yinetd yinetd("services:\n" + Svc("a", a));
  // Let nobody reach the socket, so that SO_PEERCRED is what refuses it.
  REQUIRE(chmod(yinetd.Dir().c_str(), 0711) == 0);
  REQUIRE(chmod((yinetd.Dir() + "/run").c_str(), 0711) == 0);
  REQUIRE(chmod(yinetd.ControlPath().c_str(), 0666) == 0);
  auto [code, text] = RunAsNobody({"ctl", "--socket", yinetd.ControlPath(), "reload"});
  CHECK(code == 1);
  CHECK(text == "reload needs root or uid 0\n");
  CHECK(yinetd.WaitForLog({"event=control", "command=reload", "uid=65534", "result=denied"}));
  CHECK(yinetd.Events("reload").empty());
  auto [status_code, status] = RunAsNobody({"ctl", "--socket", yinetd.ControlPath(), "status"});
  CHECK(status_code == 0);
  CHECK(Contains(status, "1 service(s)"));
}

// A unix socket at `path` served by something that is not yinetd: it
// accepts one client and sends it `head`, then `fill` bytes over and over
// until the client goes away (or 30 s pass).
class Impostor {
 public:
  Impostor(const std::string& path, std::string head, char fill) : fd_(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    REQUIRE(bind(fd_.Get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(listen(fd_.Get(), 1) == 0);
    thread_ = std::thread([this, head = std::move(head), fill] { Serve(head, fill); });
  }
  ~Impostor() { thread_.join(); }
  size_t Sent() const { return sent_; }

 private:
  void Serve(const std::string& head, char fill) {
    pollfd watch{fd_.Get(), POLLIN, 0};
    if (poll(&watch, 1, 30'000) != 1) return;
    UniqueFd client(accept4(fd_.Get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!client) return;
    timeval limit{30, 0};
    setsockopt(client.Get(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    std::string chunk = head + std::string(65536, fill);
    auto until = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < until) {
      ssize_t n = send(client.Get(), chunk.data(), chunk.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      sent_ += static_cast<size_t>(n);
      chunk.assign(65536, fill);
    }
  }

  UniqueFd fd_;
  std::atomic<size_t> sent_{0};
  std::thread thread_;
};

TEST_CASE("ctl against a socket another program serves stops at the first bytes that are not yinetd's") {
  char dir[] = "/tmp/yinetd-impostor-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  std::string path = std::string(dir) + "/control";
  std::string binary = std::getenv("YINETD_BINARY");
  {
    Impostor impostor(path, "HTTP/1.0 200 OK\r\n\r\n", 'x');
    auto [code, text] = RunCommand("timeout 20 " + binary + " ctl --socket " + path + " status 2>&1");
    CHECK(code == 3);
    CHECK(text == "yinetd ctl: not a yinetd control answer from " + path + "\n");
  }
  unlink(path.c_str());
  {
    // Our header, then no end: the client stops at its bound.
    Impostor impostor(path, "yinetd-ctl 0\n", 'y');
    auto [code, text] = RunCommand("timeout 20 " + binary + " ctl --socket " + path + " status 2>&1");
    CHECK(code == 3);
    CHECK(text == "yinetd ctl: answer from " + path + " is over 64 MiB: not yinetd's\n");
  }
  unlink(path.c_str());
  rmdir(dir);
}

TEST_CASE("a control client that sends 1 MB is answered 'request too long' after 128 bytes; yinetd serves on") {
  Yinetd yinetd("services:\n" + Svc("a", FreePort()));
  UniqueFd client = ConnectUnix(yinetd.ControlPath());
  std::string megabyte(1 << 20, 's');
  size_t sent = 0;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (sent < megabyte.size() && std::chrono::steady_clock::now() < deadline) {
    ssize_t n = send(client.Get(), megabyte.data() + sent, megabyte.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      pollfd watch{client.Get(), POLLOUT, 0};
      poll(&watch, 1, 100);
    } else {
      break;  // yinetd answered and closed: the rest is refused
    }
  }
  CHECK(sent < megabyte.size());
  CHECK(yinetd.WaitForLog({"event=control", "result=bad_request"}));
  auto [code, text] = yinetd.Ctl("status");
  CHECK(code == 0);
  CHECK(Contains(text, "1 service(s)"));
}

TEST_CASE("reloads asked at once, by several clients and SIGHUP, are each answered, and the config applies once") {
  uint16_t a = FreePort(), b = FreePort();
  Yinetd yinetd("services:\n" + Svc("a", a));
  yinetd.Rewrite("services:\n" + Svc("a", a) + Svc("b", b));
  std::vector<UniqueFd> clients;
  for (int i = 0; i < 4; ++i) clients.push_back(ConnectUnix(yinetd.ControlPath()));
  for (UniqueFd& client : clients) SendAll(client.Get(), "reload\n");
  yinetd.Signal(SIGHUP);
  int added = 0;
  for (UniqueFd& client : clients) {
    std::string answer = ReadUntilEof(client.Get(), 20s);
    CHECK(answer.rfind("yinetd-ctl 0\nok: added ", 0) == 0);
    if (Contains(answer, "added 1,")) ++added;
  }
  CHECK(added <= 1);
  CHECK(yinetd.WaitForLog({"event=reload", "result=ok", "added=1"}));
  CHECK(yinetd.Ctl("status").first == 0);
  size_t applied = 0;
  for (LogFields& reload : yinetd.Events("reload")) applied += reload["added"] == "1";
  CHECK(applied == 1);
  CHECK(TryConnect(b) == 0);
  CHECK(yinetd.Ctl("status").first == 0);
}

TEST_CASE("a symlink at the control socket's path is refused at start, and what it points to is left alone") {
  char dir[] = "/tmp/yinetd-ctl-link-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  std::string target = std::string(dir) + "/precious", path = std::string(dir) + "/control";
  WriteText(target, "keep me\n");
  REQUIRE(chmod(target.c_str(), 0640) == 0);
  REQUIRE(symlink(target.c_str(), path.c_str()) == 0);
  {
    StartOptions options = NoWait();
    options.extra_args = {"--control-socket", path};
    Yinetd yinetd("services:\n" + Svc("a", FreePort()), options);
    std::optional<int> status = yinetd.WaitExit();
    REQUIRE(status);
    CHECK(WIFEXITED(*status));
    CHECK(WEXITSTATUS(*status) != 0);
    CHECK(Contains(yinetd.Log(), "exists and is not a socket"));
  }
  struct stat st{};
  REQUIRE(lstat(path.c_str(), &st) == 0);
  CHECK(S_ISLNK(st.st_mode));
  REQUIRE(stat(target.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0640);
  std::ifstream in(target);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(text == "keep me\n");
  std::filesystem::remove_all(dir);
}

TEST_CASE("the control socket of a killed yinetd is replaced by the next; a live one's is not taken") {
  Yinetd killed("services:\n" + Svc("a", FreePort()));
  std::string path = killed.ControlPath();
  killed.Signal(SIGKILL);
  REQUIRE(killed.WaitExit());
  REQUIRE(std::filesystem::exists(path));  // left behind
  StartOptions options;
  options.extra_args = {"--control-socket", path};
  Yinetd next("services:\n" + Svc("a", FreePort()), options);
  std::string binary = std::getenv("YINETD_BINARY");
  auto [code, text] = RunCommand(binary + " ctl --socket " + path + " status 2>&1");
  CHECK(code == 0);
  CHECK(Contains(text, "pid " + std::to_string(next.Pid())));
  // A third one on the same path finds it live: it does not start, and the
  // socket keeps answering for the one that serves it.
  StartOptions third_options = NoWait();
  third_options.extra_args = {"--control-socket", path};
  Yinetd third("services:\n" + Svc("a", FreePort()), third_options);
  REQUIRE(third.WaitExit());
  CHECK(Contains(third.Log(), "another process serves it"));
  auto [after_code, after] = RunCommand(binary + " ctl --socket " + path + " status 2>&1");
  CHECK(after_code == 0);
  CHECK(Contains(after, "pid " + std::to_string(next.Pid())));
}

TEST_CASE("a yinetd that exits leaves alone a control socket another yinetd bound at its path since") {
  Yinetd first("services:\n" + Svc("a", FreePort()));
  std::string path = first.ControlPath();
  REQUIRE(unlink(path.c_str()) == 0);  // removed by hand while it runs
  StartOptions options;
  options.extra_args = {"--control-socket", path};
  Yinetd second("services:\n" + Svc("a", FreePort()), options);
  first.Signal(SIGTERM);
  REQUIRE(first.WaitExit());
  auto [code, text] = RunCommand(std::string(std::getenv("YINETD_BINARY")) + " ctl --socket " + path + " status 2>&1");
  CHECK(code == 0);
  CHECK(Contains(text, "pid " + std::to_string(second.Pid())));
}

TEST_CASE("under umask 000 the control socket is 0600 and the directory made for it 0755") {
  StartOptions options;
  options.wrapper = {"sh", "-c", "umask 000; exec \"$@\"", "sh"};
  Yinetd yinetd("services:\n" + Svc("a", FreePort()), options);
  struct stat st{};
  REQUIRE(lstat(yinetd.ControlPath().c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 07777) == 0600);
  CHECK(st.st_uid == geteuid());
  REQUIRE(lstat((yinetd.Dir() + "/run").c_str(), &st) == 0);
  CHECK(S_ISDIR(st.st_mode));
  CHECK((st.st_mode & 07777) == 0755);
  CHECK(yinetd.Ctl("status").first == 0);
}

TEST_CASE("the control socket is mode 0600; control: false serves none; ctl says where it looked") {
  Yinetd yinetd("services:\n" + Svc("a", FreePort()));
  struct stat st{};
  REQUIRE(stat(yinetd.ControlPath().c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  Yinetd off("control: false\nservices:\n" + Svc("a", FreePort()));
  CHECK_FALSE(std::filesystem::exists(off.ControlPath()));
  auto [code, text] = off.Ctl("status");
  CHECK(code == 3);
  CHECK(Contains(text, "yinetd ctl: connect " + off.ControlPath() + ": No such file or directory"));
}

TEST_CASE("--reload goes through the control socket and prints the outcome") {
  uint16_t a = FreePort(), b = FreePort();
  Yinetd yinetd("services:\n" + Svc("a", a));
  yinetd.Rewrite("services:\n" + Svc("a", a) + Svc("b", b));
  auto [code, text] = RunCommand(std::string(std::getenv("YINETD_BINARY")) + " -c " + yinetd.ConfigPath() +
                                 " --control-socket " + yinetd.ControlPath() + " --reload 2>&1");
  CHECK(code == 0);
  CHECK(text == "ok: added 1, removed 0, changed 0, kept 1\n");
  CHECK(yinetd.WaitForLog({"event=control", "command=reload", "result=ok"}));
  CHECK(TryConnect(b) == 0);
}

TEST_CASE("--reload --pidfile without a control socket signals only a yinetd serving this config") {
  uint16_t a = FreePort();
  Yinetd yinetd("control: false\nservices:\n" + Svc("a", a));
  std::string binary = std::getenv("YINETD_BINARY");
  std::string pidfile = yinetd.Dir() + "/pid";
  // A stale pid file naming some other process (this test) is refused.
  WriteText(pidfile, std::to_string(getpid()) + "\n");
  auto [stale_code, stale] = RunCommand(binary + " -c " + yinetd.ConfigPath() + " --reload --pidfile " + pidfile + " 2>&1");
  CHECK(stale_code == 3);
  CHECK(Contains(stale, "is not a yinetd serving " + yinetd.ConfigPath() + "; not signalled"));
  // The right pid, the right config: SIGHUP.
  WriteText(pidfile, std::to_string(yinetd.Pid()) + "\n");
  auto [code, text] = RunCommand(binary + " -c " + yinetd.ConfigPath() + " --reload --pidfile " + pidfile + " 2>&1");
  CHECK(code == 0);
  CHECK(yinetd.WaitForLog({"event=signal", "signal=SIGHUP"}));
  // The same yinetd, asked about another config: refused.
  std::string other = yinetd.Dir() + "/other.yaml";
  WriteText(other, "services:\n" + Svc("x", FreePort()));
  auto [other_code, other_text] = RunCommand(binary + " -c " + other + " --reload --pidfile " + pidfile + " 2>&1");
  CHECK(other_code == 3);
}

}  // namespace
}  // namespace yinetd::testing
