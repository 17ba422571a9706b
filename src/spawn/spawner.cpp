#include "spawn/spawner.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <charconv>

#include "spawn/process_controls.h"
#include "sys/signal_pipe.h"

namespace yinetd::spawn {
namespace {

// A failure record: "\0yinetd-start-failed:<step>:<errno>\n". The leading
// NUL keeps it apart from anything a program would print.
constexpr std::string_view kRecordPrefix{"\0yinetd-start-failed:", 21};

// Built before main, so that the child never runs a static initializer.
const config::ProcessControls kDefaultControls;

// Child side: async-signal-safe calls only from here to the end of the
// anonymous namespace.

size_t CopyText(char* out, const char* text) {
  size_t n = 0;
  while (text[n] != '\0') {
    out[n] = text[n];
    ++n;
  }
  return n;
}

[[noreturn]] void FailStart(int report_fd, const char* step, int err) {
  char record[96];
  size_t n = 0;
  for (char c : kRecordPrefix) record[n++] = c;
  n += CopyText(record + n, step);
  record[n++] = ':';
  char digits[16];
  size_t d = 0;
  do {
    digits[d++] = static_cast<char>('0' + err % 10);
    err /= 10;
  } while (err > 0 && d < sizeof digits);
  while (d > 0) record[n++] = digits[--d];
  record[n++] = '\n';
  [[maybe_unused]] ssize_t written = write(report_fd, record, n);
  _exit(kStartFailedStatus);
}

// Marks every fd from 3 up close-on-exec, so exec leaves the program fds
// 0-2 only, while the report pipe stays usable until then.
void CloseOthersOnExec(int report_fd) {
  if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
  // Kernels before 5.11: close what we can see, keeping the report pipe.
  long max = sysconf(_SC_OPEN_MAX);
  for (int fd = 3; fd < max && fd < 65536; ++fd) {
    if (fd != report_fd) close(fd);
  }
}

void DropPrivileges(const config::Credentials& credentials, int report_fd) {
  if (setgroups(credentials.groups.size(), credentials.groups.data()) != 0) {
    FailStart(report_fd, "setgroups", errno);
  }
  if (setgid(credentials.gid) != 0) FailStart(report_fd, "setgid", errno);
  if (credentials.set_uid && setuid(credentials.uid) != 0) FailStart(report_fd, "setuid", errno);
}

// Process controls, privileges, then the rest, in the order
// process_controls.h explains.
void SetUpProcess(const ChildSpec& spec, int report_fd) {
  const config::ProcessControls& controls = spec.controls != nullptr ? *spec.controls : kDefaultControls;
  StepError error = ApplyPrivilegedControls(controls);
  if (!error.Ok()) FailStart(report_fd, error.step, error.err);
  if (spec.credentials != nullptr) DropPrivileges(*spec.credentials, report_fd);
  error = ApplyUnprivilegedControls(controls);
  if (!error.Ok()) FailStart(report_fd, error.step, error.err);
}

// A builtin has no exec to close the other descriptors: close them now.
[[noreturn]] void RunBuiltin(const builtin::Builtin& builtin) {
  close_range(3, ~0U, 0);
  int type = 0;
  socklen_t length = sizeof type;
  getsockopt(0, SOL_SOCKET, SO_TYPE, &type, &length);
  if (type == SOCK_DGRAM) {
    builtin.serve_datagram(0);
  } else {
    builtin.serve_stream(0);
  }
  _exit(0);
}

int StderrSource(const ChildSpec& spec, int pipe_write) {
  switch (spec.stderr_mode) {
    case config::StderrMode::kLog: return pipe_write;
    case config::StderrMode::kSocket: return spec.connection_fd;
    case config::StderrMode::kNull: return spec.devnull_fd;
  }
  return spec.devnull_fd;
}

[[noreturn]] void RunChild(const ChildSpec& spec, int pipe_write) {
  ResetSignalsForChild();
  int report_fd = spec.stderr_mode == config::StderrMode::kLog ? 2 : pipe_write;
  if (dup2(spec.connection_fd, 0) < 0) FailStart(pipe_write, "dup2", errno);
  if (dup2(spec.connection_fd, 1) < 0) FailStart(pipe_write, "dup2", errno);
  if (dup2(StderrSource(spec, pipe_write), 2) < 0) FailStart(pipe_write, "dup2", errno);
  CloseOthersOnExec(report_fd);
  // Its own process group: a shutdown can signal the program's whole group,
  // and a terminal's ^C (sent to yinetd's foreground group) does not reach
  // it. Not setsid(): with scheduler autogroups (Debian's default) every new
  // session creates a scheduling group, which cost 2-3x in connections/s at
  // concurrency 1 (docs/benchmarks.md).
  if (setpgid(0, 0) < 0) FailStart(report_fd, "setpgid", errno);
  SetUpProcess(spec, report_fd);
  if (spec.builtin != nullptr) RunBuiltin(*spec.builtin);
  execve(spec.program, spec.argv, spec.envp);
  FailStart(report_fd, "exec", errno);
}

}  // namespace

SysResult OpenReportPipe(ReportPipe& pipe) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return SysResult{"pipe2", errno};
  pipe.read_end.Reset(fds[0]);
  pipe.write_end.Reset(fds[1]);
  // Only our end is non-blocking: the program's stderr must block as usual.
  if (fcntl(pipe.read_end.Get(), F_SETFL, O_NONBLOCK) != 0) return SysResult{"fcntl O_NONBLOCK", errno};
  return SysResult{};
}

SysResult ForkSpawner::Spawn(const ChildSpec& spec, ReportPipe& pipe, pid_t& pid) {
  // Signals stay blocked from fork until the child has reset its handlers:
  // one arriving in between would otherwise run our handler in the child
  // and write to our self-pipe. Blocked, it waits and then acts as default.
  sigset_t all, previous;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, &previous);
  pid = fork();
  int fork_errno = errno;
  if (pid == 0) RunChild(spec, pipe.write_end.Get());
  sigprocmask(SIG_SETMASK, &previous, nullptr);
  pipe.write_end.Reset();
  if (pid < 0) return SysResult{"fork", fork_errno};
  return SysResult{};
}

std::optional<StartFailure> ParseStartFailure(std::string_view data) {
  if (data.substr(0, kRecordPrefix.size()) != kRecordPrefix) return std::nullopt;
  std::string_view rest = data.substr(kRecordPrefix.size());
  size_t colon = rest.find(':');
  size_t end = std::min(rest.find('\n'), rest.size());
  if (colon == std::string_view::npos || end < colon) return std::nullopt;
  StartFailure failure;
  failure.step = std::string(rest.substr(0, colon));
  std::string_view digits = rest.substr(colon + 1, end - colon - 1);
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), failure.err);
  if (ec != std::errc() || ptr != digits.data() + digits.size()) return std::nullopt;
  return failure;
}

}  // namespace yinetd::spawn
