#include "integration/harness.h"

#include <algorithm>

#include <arpa/inet.h>
#include <dirent.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <grp.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace yinetd::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) throw std::runtime_error(std::string(name) + " is not set (run through meson test)");
  return value;
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

std::string ReplaceAll(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

int RemainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<Duration>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

bool WaitReadable(int fd, Clock::time_point deadline) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, RemainingMs(deadline)) > 0;
}

}  // namespace

uint16_t FreePort() {
  // The kernel may hand the same free port out twice in a row once the
  // probe socket is closed: never return one this process returned before,
  // or two services of one config could get the same port.
  static std::set<uint16_t> handed_out;
  for (;;) {
    UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd.Get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    getsockname(fd.Get(), reinterpret_cast<sockaddr*>(&addr), &len);
    uint16_t port = ntohs(addr.sin_port);
    if (handed_out.insert(port).second) return port;
  }
}

std::string Helper(const std::string& name) { return Env("YINETD_HELPERS") + "/" + name; }

LogFields ParseLogfmt(std::string_view line) {
  LogFields fields;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    size_t eq = line.find('=', i);
    if (eq == std::string_view::npos) break;
    std::string key(line.substr(i, eq - i));
    i = eq + 1;
    std::string value;
    if (i < line.size() && line[i] == '"') {
      for (++i; i < line.size() && line[i] != '"'; ++i) {
        if (line[i] == '\\' && i + 1 < line.size()) {
          char c = line[++i];
          value += c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
        } else {
          value += line[i];
        }
      }
      ++i;
    } else {
      size_t end = line.find(' ', i);
      if (end == std::string_view::npos) end = line.size();
      value = std::string(line.substr(i, end - i));
      i = end;
    }
    fields[key] = value;
  }
  return fields;
}

Yinetd::Yinetd(const std::string& config_yaml, StartOptions options) {
  char tmpl[] = "/tmp/yinetd-test-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  dir_ = tmpl;
  WriteFile(ConfigPath(), ReplaceAll(config_yaml, "$DIR", dir_));
  int fds[2];
  REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
  UniqueFd read_end(fds[0]), write_end(fds[1]);
  std::string binary = Env("YINETD_BINARY");
  std::vector<std::string> args = options.wrapper;
  args.insert(args.end(), {binary, "-c", options.config_at ? options.config_at(dir_) : ConfigPath()});
  args.insert(args.end(), options.extra_args.begin(), options.extra_args.end());
  // A control socket of its own (tests run side by side, often as root),
  // unless the test sets one.
  bool own_control = config_yaml.find("control:") != std::string::npos ||
                     std::find(args.begin(), args.end(), "--control-socket") != args.end();
  if (!own_control) args.insert(args.end(), {"--control-socket", ControlPath()});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings = options.env;
  if (options.journal_stream) {
    struct stat st;
    REQUIRE(fstat(write_end.Get(), &st) == 0);
    env_strings.push_back("JOURNAL_STREAM=" + std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino));
  }
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  if (options.as_nobody) {
    chmod(dir_.c_str(), 0755);
    // The control socket's directory, for yinetd to bind in as nobody.
    std::string run = dir_ + "/run";
    REQUIRE(mkdir(run.c_str(), 0755) == 0);
    REQUIRE(chown(run.c_str(), 65534, 65534) == 0);
  }
  pid_ = fork();
  REQUIRE(pid_ >= 0);
  if (pid_ == 0) {
    if (options.nproc_limit) {
      rlimit limit{static_cast<rlim_t>(*options.nproc_limit), static_cast<rlim_t>(*options.nproc_limit)};
      setrlimit(RLIMIT_NPROC, &limit);
    }
    if (options.as_nobody && (setgroups(0, nullptr) != 0 || setgid(65534) != 0 || setuid(65534) != 0)) _exit(126);
    dup2(write_end.Get(), 2);
    int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, 0);
    dup2(devnull, 1);
    execvpe(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  write_end.Reset();
  log_fd_ = std::move(read_end);
  reader_ = std::thread([this] { ReadLog(); });
  if (options.wait_for_start) {
    REQUIRE_MESSAGE(WaitForLog({"event=start"}), "yinetd did not start; log:\n" << log_);
  }
}

Yinetd::~Yinetd() {
  if (!exited_ && pid_ > 0) {
    // Whatever yinetd started is stopped too, also when an assertion ended
    // the test early: a chance to shut down as it would, then SIGKILL for
    // yinetd and for every process below it, by the pids seen before.
    std::vector<pid_t> below = Descendants(pid_);
    kill(pid_, SIGTERM);
    if (!WaitExit(3s)) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    for (pid_t pid : below) {
      kill(-pid, SIGKILL);  // its process group: a program's own children
      kill(pid, SIGKILL);
    }
  }
  // The pipe reaches EOF once yinetd and its children are gone; a program
  // of a killed yinetd may linger, so do not wait for it forever.
  if (reader_.joinable()) {
    auto deadline = Clock::now() + 2s;
    while (!reader_done_ && Clock::now() < deadline) std::this_thread::sleep_for(10ms);
    stop_reader_ = true;  // the reader checks it at least every 100 ms
    reader_.join();
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

void Yinetd::ReadLog() {
  char buf[65536];
  while (!stop_reader_) {
    pollfd p{log_fd_.Get(), POLLIN, 0};
    if (poll(&p, 1, 100) == 0) continue;
    ssize_t n = read(log_fd_.Get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    std::lock_guard<std::mutex> lock(log_mutex_);
    log_.append(buf, n);
  }
  reader_done_ = true;
}

std::string Yinetd::Snapshot() {
  std::lock_guard<std::mutex> lock(log_mutex_);
  return log_;
}

bool Yinetd::WaitForLog(const std::vector<std::string>& needles, size_t count, Duration timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    size_t found = 0;
    std::istringstream lines(Snapshot());
    for (std::string line; std::getline(lines, line);) {
      bool all = true;
      for (const auto& needle : needles) all = all && line.find(needle) != std::string::npos;
      if (all) ++found;
    }
    if (found >= count) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(Duration(std::min(20, RemainingMs(deadline) + 1)));
  }
}

std::vector<LogFields> Yinetd::Events(const std::string& event) {
  std::vector<LogFields> events;
  std::istringstream lines(Snapshot());
  for (std::string line; std::getline(lines, line);) {
    LogFields fields = ParseLogfmt(line);
    if (fields["event"] == event) events.push_back(std::move(fields));
  }
  return events;
}

std::string Yinetd::Log() { return Snapshot(); }

void Yinetd::Signal(int signo) { kill(pid_, signo); }

void Yinetd::Rewrite(const std::string& config_yaml) {
  // Written aside and renamed over, as editors do, so yinetd never reads a
  // half-written file.
  std::string temp = ConfigPath() + ".tmp";
  WriteFile(temp, ReplaceAll(config_yaml, "$DIR", dir_));
  std::filesystem::rename(temp, ConfigPath());
}

std::string Service(const std::string& name, uint16_t port, const std::string& program,
                    const std::string& extra) {
  return "  - name: " + name + "\n    listen: 127.0.0.1:" + std::to_string(port) +
         "\n    program: " + program + "\n" + extra;
}

void WriteText(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  WriteFile(path, text);
}

bool HaveIpv6Loopback() {
  UniqueFd probe(socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in6 loopback{};
  loopback.sin6_family = AF_INET6;
  loopback.sin6_addr = in6addr_loopback;
  return probe && bind(probe.Get(), reinterpret_cast<sockaddr*>(&loopback), sizeof loopback) == 0;
}

int TryConnect(uint16_t port) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return connect(fd.Get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 ? 0 : errno;
}

void Yinetd::SetNofileLimit(int limit) {
  rlimit value{static_cast<rlim_t>(limit), static_cast<rlim_t>(limit)};
  REQUIRE(prlimit(pid_, RLIMIT_NOFILE, &value, nullptr) == 0);
}

std::optional<int> Yinetd::WaitExit(Duration timeout) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    int status = 0;
    pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      exited_ = true;
      // Let the reader catch the last lines: it stops at EOF.
      auto drain_deadline = Clock::now() + 2s;
      while (!reader_done_ && Clock::now() < drain_deadline) std::this_thread::sleep_for(5ms);
      return status;
    }
    std::this_thread::sleep_for(10ms);
  }
  return std::nullopt;
}

std::pair<int, std::string> RunCheck(const std::string& config_yaml) {
  char tmpl[] = "/tmp/yinetd-check-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  std::string dir = tmpl;
  std::string path = dir + "/yinetd.yaml";
  WriteFile(path, ReplaceAll(config_yaml, "$DIR", dir));
  auto [code, out] = RunCommand(Env("YINETD_BINARY") + " --check -c " + path + " 2>&1");
  std::filesystem::remove_all(dir);
  return {code, ReplaceAll(out, dir, "$DIR")};
}

std::pair<int, std::string> Yinetd::Ctl(const std::string& args) {
  return RunCommand(Env("YINETD_BINARY") + " ctl --socket " + ControlPath() + " " + args + " 2>&1");
}

std::pair<int, std::string> RunCommand(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

void SendDatagram(int fd, uint16_t port, std::string_view datagram) {
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(sendto(fd, datagram.data(), datagram.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) ==
          static_cast<ssize_t>(datagram.size()));
}

std::string UdpExchange(uint16_t port, const std::string& datagram, Duration timeout) {
  UniqueFd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  REQUIRE(fd);
  SendDatagram(fd.Get(), port, datagram);
  pollfd p{fd.Get(), POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(timeout.count())) != 1) return "<none>";
  char buf[2048];
  ssize_t n = recv(fd.Get(), buf, sizeof buf, 0);
  return n < 0 ? "<none>" : std::string(buf, n);
}

UniqueFd ConnectTcp(const std::string& host, uint16_t port, Duration timeout) {
  return ConnectTcpFrom("", host, port, timeout);
}

UniqueFd ConnectTcpFrom(const std::string& source, const std::string& host, uint16_t port,
                        Duration timeout) {
  bool v6 = host.find(':') != std::string::npos;
  UniqueFd fd(socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  REQUIRE(fd);
  auto fill = [&](const std::string& ip, uint16_t p, sockaddr_storage& storage) -> socklen_t {
    if (v6) {
      auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
      in6->sin6_family = AF_INET6;
      in6->sin6_port = htons(p);
      inet_pton(AF_INET6, ip.c_str(), &in6->sin6_addr);
      return sizeof *in6;
    }
    auto* in4 = reinterpret_cast<sockaddr_in*>(&storage);
    in4->sin_family = AF_INET;
    in4->sin_port = htons(p);
    inet_pton(AF_INET, ip.c_str(), &in4->sin_addr);
    return sizeof *in4;
  };
  if (!source.empty()) {
    sockaddr_storage local{};
    socklen_t len = fill(source, 0, local);
    REQUIRE(bind(fd.Get(), reinterpret_cast<sockaddr*>(&local), len) == 0);
  }
  sockaddr_storage storage{};
  socklen_t len = fill(host, port, storage);
  if (connect(fd.Get(), reinterpret_cast<sockaddr*>(&storage), len) != 0) {
    REQUIRE(errno == EINPROGRESS);
    pollfd p{fd.Get(), POLLOUT, 0};
    REQUIRE(poll(&p, 1, static_cast<int>(timeout.count())) == 1);
    int err = 0;
    socklen_t err_len = sizeof err;
    getsockopt(fd.Get(), SOL_SOCKET, SO_ERROR, &err, &err_len);
    REQUIRE_MESSAGE(err == 0, "connect " << host << ":" << port << ": " << strerror(err));
  }
  fcntl(fd.Get(), F_SETFL, 0);  // blocking from here on
  return fd;
}

UniqueFd ConnectUnix(const std::string& path) {
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  REQUIRE(connect(fd.Get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  return fd;
}

void SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    REQUIRE(n > 0);
    data.remove_prefix(n);
  }
}

std::string ReadUntilEof(int fd, Duration timeout) {
  auto deadline = Clock::now() + timeout;
  std::string out;
  char buf[65536];
  while (WaitReadable(fd, deadline)) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, n);
  }
  return out;
}

std::string Exchange(uint16_t port, std::string_view request, const std::string& host) {
  UniqueFd fd = ConnectTcp(host, port);
  SendAll(fd.Get(), request);
  shutdown(fd.Get(), SHUT_WR);
  return ReadUntilEof(fd.Get());
}

namespace {

struct ProcStat {
  pid_t pid = 0;
  char state = '?';
  pid_t ppid = 0;
};

// Every process's state and parent, from /proc/PID/stat.
std::vector<ProcStat> ProcessTable() {
  std::vector<ProcStat> table;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
    std::ifstream stat(entry.path() / "stat");
    std::string text;
    if (!std::getline(stat, text)) continue;
    size_t paren = text.rfind(')');
    if (paren == std::string::npos) continue;
    ProcStat process;
    process.pid = static_cast<pid_t>(std::atol(entry.path().filename().c_str()));
    std::istringstream rest(text.substr(paren + 2));
    rest >> process.state >> process.ppid;
    table.push_back(process);
  }
  return table;
}

}  // namespace

std::vector<pid_t> Descendants(pid_t root) {
  std::vector<ProcStat> table = ProcessTable();
  std::vector<pid_t> found{root};
  for (size_t i = 0; i < found.size(); ++i) {
    for (const ProcStat& process : table) {
      if (process.ppid == found[i]) found.push_back(process.pid);
    }
  }
  found.erase(found.begin());
  return found;
}

int CountZombieChildren(pid_t parent) {
  int zombies = 0;
  for (const ProcStat& process : ProcessTable()) {
    if (process.ppid == parent && process.state == 'Z') ++zombies;
  }
  return zombies;
}

int CountProcessesOf(uid_t uid) {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream status(entry.path() / "status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("Uid:", 0) != 0) continue;
      std::istringstream fields(line.substr(4));
      uid_t real = 0;
      fields >> real;
      count += real == uid ? 1 : 0;
      break;
    }
  }
  return count;
}

int CountOpenFds(pid_t pid) {
  int count = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++count;
  }
  return count;
}

long RssKb(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

long CpuTicks(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  std::getline(stat, text);
  std::istringstream rest(text.substr(text.rfind(')') + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) stime = std::stol(field);
  }
  return utime + stime;
}

}  // namespace yinetd::testing
