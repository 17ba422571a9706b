// Harness for end-to-end tests: starts the real yinetd binary on a config
// written to a fresh temp directory, reads its log, and talks to it over
// real loopback sockets. Every wait is bounded.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sys/unique_fd.h"

namespace yinetd::testing {

using namespace std::chrono_literals;
using Duration = std::chrono::milliseconds;

// A port on 127.0.0.1 that was free a moment ago.
uint16_t FreePort();

// Path of a test helper program (tests/helpers).
std::string Helper(const std::string& name);

// One parsed logfmt line.
using LogFields = std::map<std::string, std::string>;
LogFields ParseLogfmt(std::string_view line);

struct StartOptions {
  std::vector<std::string> extra_args;
  bool wait_for_start = true;
  std::vector<std::string> env;      // NAME=VALUE added to yinetd's environment
  std::vector<std::string> wrapper;  // a command that execs yinetd, found on PATH
  bool journal_stream = false;       // JOURNAL_STREAM names the log pipe
  bool as_nobody = false;  // run yinetd itself as uid/gid 65534
  std::optional<int> nproc_limit;  // RLIMIT_NPROC for yinetd
  // Lays out files in the temp dir before the start and returns the path
  // `-c` names instead of DIR/yinetd.yaml (a symlink, say).
  std::function<std::string(const std::string& dir)> config_at;
};

inline StartOptions AsNobodyWithNproc(int limit) {
  StartOptions options;
  options.as_nobody = true;
  options.nproc_limit = limit;
  return options;
}

// Start without waiting for event=start: for runs expected to fail.
inline StartOptions NoWait() {
  StartOptions options;
  options.wait_for_start = false;
  return options;
}


class Yinetd {
 public:
  // Writes `config_yaml` (with "$DIR" replaced by the temp directory) to
  // DIR/yinetd.yaml and starts yinetd on it.
  explicit Yinetd(const std::string& config_yaml, StartOptions options = {});
  ~Yinetd();
  Yinetd(const Yinetd&) = delete;
  Yinetd& operator=(const Yinetd&) = delete;

  pid_t Pid() const { return pid_; }
  const std::string& Dir() const { return dir_; }
  std::string ConfigPath() const { return dir_ + "/yinetd.yaml"; }
  // The control socket the harness gives yinetd (--control-socket), unless
  // the config names one.
  std::string ControlPath() const { return dir_ + "/run/control"; }
  // Runs `yinetd ctl --socket ControlPath() ARGS`; exit code and output
  // (stdout and stderr).
  std::pair<int, std::string> Ctl(const std::string& args);

  // Replaces the config file (with "$DIR" replaced), for reload tests.
  void Rewrite(const std::string& config_yaml);

  // True once the log holds `count` lines containing every one of `needles`.
  bool WaitForLog(const std::vector<std::string>& needles, size_t count = 1, Duration timeout = 10s);
  // Log lines (parsed) whose event is `event`.
  std::vector<LogFields> Events(const std::string& event);
  std::string Log();

  void Signal(int signo);
  // Lowers yinetd's RLIMIT_NOFILE while it runs (prlimit).
  void SetNofileLimit(int limit);
  // The exit status (as waitpid reports it), or nullopt on time-out.
  std::optional<int> WaitExit(Duration timeout = 15s);

 private:
  // Runs on reader_: drains yinetd's stderr as it comes, so that yinetd
  // never blocks on a full pipe while a test is busy elsewhere.
  void ReadLog();
  std::string Snapshot();

  std::string dir_;
  pid_t pid_ = -1;
  UniqueFd log_fd_;
  std::mutex log_mutex_;
  std::string log_;
  std::thread reader_;
  std::atomic<bool> reader_done_{false};
  std::atomic<bool> stop_reader_{false};
  bool exited_ = false;
};

// Runs `yinetd --check -c FILE` on `config_yaml`; returns exit code and stdout.
std::pair<int, std::string> RunCheck(const std::string& config_yaml);
// Runs a shell command (which must bound its own time); its exit code
// (-1 if it was killed) and standard output.
std::pair<int, std::string> RunCommand(const std::string& command);

// One entry of a `services:` list on 127.0.0.1:`port`; `extra` holds more
// keys, each line indented by four spaces.
std::string Service(const std::string& name, uint16_t port, const std::string& program,
                    const std::string& extra = "");

// Writes `text` to `path`, creating its directory.
void WriteText(const std::string& path, const std::string& text);

// True if this machine has ::1 (some containers do not).
bool HaveIpv6Loopback();

// 0 if a TCP connection to 127.0.0.1:`port` succeeds, else the errno.
int TryConnect(uint16_t port);

// Client side.
// Sends `datagram` to 127.0.0.1:`port` from a fresh socket and returns the
// first reply, or "<none>" after `timeout`.
std::string UdpExchange(uint16_t port, const std::string& datagram, Duration timeout = 5s);

// Sends `datagram` from the UDP socket `fd` to 127.0.0.1:`port`.
void SendDatagram(int fd, uint16_t port, std::string_view datagram);

UniqueFd ConnectTcp(const std::string& host, uint16_t port, Duration timeout = 5s);
// The same from a chosen local address (127.0.0.2, say) for per-source tests.
UniqueFd ConnectTcpFrom(const std::string& source, const std::string& host, uint16_t port,
                        Duration timeout = 5s);
UniqueFd ConnectUnix(const std::string& path);
void SendAll(int fd, std::string_view data);
std::string ReadUntilEof(int fd, Duration timeout = 10s);
// Connects, sends `request`, half-closes, and reads the whole reply.
std::string Exchange(uint16_t port, std::string_view request = "", const std::string& host = "127.0.0.1");

// The processes below `pid` (children, their children, ...), now.
std::vector<pid_t> Descendants(pid_t pid);
// Processes whose parent is `pid` and that are zombies.
int CountZombieChildren(pid_t pid);
// Processes whose real uid is `uid`.
int CountProcessesOf(uid_t uid);
// Open descriptors of `pid`.
int CountOpenFds(pid_t pid);
// Resident set size of `pid`, in KiB.
long RssKb(pid_t pid);
// User + system CPU time of `pid`, in clock ticks.
long CpuTicks(pid_t pid);

}  // namespace yinetd::testing
