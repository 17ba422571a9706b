#include "spawn/spawner.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <system_error>

#include "spawn/process_controls.h"
#include "sys/signal_pipe.h"
#include "sys/sys_error.h"

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

// Where a child that cannot start reports why: a cloned child stores the
// step in `shared`, which is our memory too; a forked one writes a record
// to `fd`, its report pipe.
struct FailureSlot {
  const char* step = nullptr;  // a string literal
  int err = 0;
};
struct Reporter {
  int fd;
  FailureSlot* shared;
};

[[noreturn]] void FailStart(const Reporter& to, const char* step, int err) {
  if (to.shared != nullptr) {
    to.shared->step = step;
    to.shared->err = err;
    _exit(kStartFailedStatus);
  }
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
  [[maybe_unused]] ssize_t written = write(to.fd, record, n);
  _exit(kStartFailedStatus);
}

// Marks every fd from 3 up close-on-exec, so exec leaves the program fds
// 0-2 only, while the report pipe (`report_fd`, if any) stays usable until
// then.
void CloseOthersOnExec(int report_fd) {
  if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
  // Kernels before 5.11: close what we can see, keeping the report pipe.
  long max = sysconf(_SC_OPEN_MAX);
  for (int fd = 3; fd < max && fd < 65536; ++fd) {
    if (fd != report_fd) close(fd);
  }
}

// Raw system calls: glibc's wrappers, in a process with threads (ours has
// CloneWatchdog's), would signal every thread to change its ids too, and a
// cloned child shares our memory but not our threads. The 32-bit ids'
// calls where the plain ones take 16 bits.
#ifdef SYS_setuid32
constexpr long kSetgroups = SYS_setgroups32, kSetgid = SYS_setgid32, kSetuid = SYS_setuid32;
#else
constexpr long kSetgroups = SYS_setgroups, kSetgid = SYS_setgid, kSetuid = SYS_setuid;
#endif

void DropPrivileges(const config::Credentials& credentials, const Reporter& report) {
  if (syscall(kSetgroups, credentials.groups.size(), credentials.groups.data()) != 0) {
    FailStart(report, "setgroups", errno);
  }
  if (syscall(kSetgid, credentials.gid) != 0) FailStart(report, "setgid", errno);
  if (credentials.set_uid && syscall(kSetuid, credentials.uid) != 0) FailStart(report, "setuid", errno);
}

// Process controls, privileges, then the rest, in the order
// process_controls.h explains.
void SetUpProcess(const ChildSpec& spec, const Reporter& report) {
  const config::ProcessControls& controls = spec.controls != nullptr ? *spec.controls : kDefaultControls;
  StepError error = ApplyPrivilegedControls(controls);
  if (!error.Ok()) FailStart(report, error.step, error.err);
  if (spec.credentials != nullptr) DropPrivileges(*spec.credentials, report);
  error = ApplyUnprivilegedControls(controls);
  if (!error.Ok()) FailStart(report, error.step, error.err);
}

// A builtin has no exec to close the other descriptors: close them now.
[[noreturn]] void RunBuiltin(const builtin::Builtin& builtin, std::string_view prepared) {
  close_range(3, ~0U, 0);
  int type = 0;
  socklen_t length = sizeof type;
  getsockopt(0, SOL_SOCKET, SO_TYPE, &type, &length);
  if (type == SOCK_DGRAM) {
    if (builtin.serve_datagram == nullptr) _exit(1);  // the loader refuses this
    builtin.serve_datagram(0);
  } else {
    builtin.serve_stream(0, prepared);
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

// `shared`: where a cloned child reports a failure; nullptr in a forked one.
// `own_group`: false for a program under a TLS front, which stays in the
// front's group so that signalling the group reaches both.
[[noreturn]] void RunChild(const ChildSpec& spec, int pipe_write, FailureSlot* shared, bool own_group = true) {
  ResetSignalsForChild();
  Reporter report{pipe_write, shared};
  if (dup2(spec.connection_fd, 0) < 0) FailStart(report, "dup2", errno);
  if (dup2(spec.connection_fd, 1) < 0) FailStart(report, "dup2", errno);
  if (dup2(StderrSource(spec, pipe_write), 2) < 0) FailStart(report, "dup2", errno);
  // From here the pipe is reached as fd 2 if it is the program's stderr.
  if (spec.stderr_mode == config::StderrMode::kLog) report.fd = 2;
  CloseOthersOnExec(report.fd);
  // Its own process group: a shutdown can signal the program's whole group,
  // and a terminal's ^C (sent to yinetd's foreground group) does not reach
  // it. Not setsid(): with scheduler autogroups (Debian's default) every new
  // session creates a scheduling group, which cost 2-3x in connections/s at
  // concurrency 1 (docs/benchmarks.md).
  if (own_group && setpgid(0, 0) < 0) FailStart(report, "setpgid", errno);
  SetUpProcess(spec, report);
  if (spec.builtin != nullptr) RunBuiltin(*spec.builtin, spec.prepared);
  execve(spec.program, spec.argv, spec.envp);
  FailStart(report, "exec", errno);
}

// Closes every fd from 3 up but those in `keep` (sorted): a front lives as
// long as its connection and must not hold listeners or other children's
// pipes open.
void CloseAllBut(std::initializer_list<int> keep) {
  unsigned int from = 3;
  for (int fd : keep) {
    if (fd < static_cast<int>(from)) continue;
    if (static_cast<unsigned int>(fd) > from) close_range(from, static_cast<unsigned int>(fd) - 1, 0);
    from = static_cast<unsigned int>(fd) + 1;
  }
  close_range(from, ~0U, 0);
}

// A TLS connection's child (tls/front.h): the front forks the program once
// the handshake succeeded. The program is started like any forked child,
// on the front's plaintext socket and with the SSL_* environment.
[[noreturn]] void RunTlsFront(const ChildSpec& spec, int pipe_write) {
  ResetSignalsForChild();
  if (setpgid(0, 0) < 0) FailStart(Reporter{pipe_write, nullptr}, "setpgid", errno);
  int keep[] = {spec.connection_fd, spec.tls->outcome_fd, pipe_write, spec.devnull_fd};
  std::sort(std::begin(keep), std::end(keep));
  CloseAllBut({keep[0], keep[1], keep[2], keep[3]});
  tls::RunFront(*spec.tls, spec.connection_fd, spec.envp, spec.credentials, [&](int plain_fd, char* const* envp) {
    pid_t pid = fork();
    if (pid == 0) {
      ChildSpec program = spec;
      program.connection_fd = plain_fd;
      program.envp = envp;
      program.tls = nullptr;
      RunChild(program, pipe_write, nullptr, false);
    }
    // The program's stderr and start failures reach us through its copy;
    // ours would keep the pipe from ending when the program does.
    if (pid > 0 && pipe_write >= 0) close(pipe_write);
    return pid;
  });
}

struct CloneArgs {
  const ChildSpec* spec;
  int pipe_write;
  FailureSlot* failure;
};

int RunClonedChild(void* arg) {
  const auto* args = static_cast<const CloneArgs*>(arg);
  RunChild(*args->spec, args->pipe_write, args->failure);
}

// Parent side again.

// AddressSanitizer cannot follow a child that runs in our memory on another
// stack: its shadow of that stack goes stale between children and its
// checks fire inside the child. Sanitized builds fork every child.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kCloneSharingMemory = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kCloneSharingMemory = false;
#else
constexpr bool kCloneSharingMemory = true;
#endif
#else
constexpr bool kCloneSharingMemory = true;
#endif

}  // namespace

bool ClonesChild(const builtin::Builtin* builtin) { return kCloneSharingMemory && builtin == nullptr; }

bool NeedsReportPipe(config::StderrMode stderr_mode, bool cloned) {
  return stderr_mode == config::StderrMode::kLog || !cloned;
}

SysResult OpenReportPipe(ReportPipe& pipe) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return SysResult{"pipe2", errno};
  pipe.read_end.Reset(fds[0]);
  pipe.write_end.Reset(fds[1]);
  // Only our end is non-blocking: the program's stderr must block as usual.
  if (fcntl(pipe.read_end.Get(), F_SETFL, O_NONBLOCK) != 0) return SysResult{"fcntl O_NONBLOCK", errno};
  return SysResult{};
}

ForkSpawner::ForkSpawner() {
  if (!kCloneSharingMemory) return;
  size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  stack_size_ = 64 * 1024 + page;  // the child's frames are small; the lowest page guards
  void* mapping = mmap(nullptr, stack_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (mapping == MAP_FAILED) throw SysError("mmap child stack", errno);
  stack_ = static_cast<char*>(mapping);
  if (mprotect(stack_, page, PROT_NONE) != 0) {
    int err = errno;
    munmap(stack_, stack_size_);
    throw SysError("mprotect child stack guard", err);
  }
  // 2 (root-only dumps) cannot be set back; 0 is the safer of the others.
  dumpable_ = prctl(PR_GET_DUMPABLE) == 1 ? 1 : 0;
}

ForkSpawner::~ForkSpawner() {
  if (stack_ != nullptr) munmap(stack_, stack_size_);
}

SysResult ForkSpawner::Spawn(const ChildSpec& spec, ReportPipe& pipe, Started& started) {
  // Signals stay blocked from clone until the child has reset its handlers:
  // one arriving in between would otherwise run our handler in the child
  // and write to our self-pipe. Blocked, it waits and then acts as default.
  sigset_t all, previous;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, &previous);
  SysResult result;
  started = Started{};
  if (ClonesChild(spec.builtin) && spec.tls == nullptr) {
    result = CloneChild(spec, pipe.write_end.Get(), started);
  } else {
    started.pid = fork();
    if (started.pid == 0 && spec.tls != nullptr) RunTlsFront(spec, pipe.write_end.Get());
    if (started.pid == 0) RunChild(spec, pipe.write_end.Get(), nullptr);
    if (started.pid < 0) result = SysResult{"fork", errno};
  }
  sigprocmask(SIG_SETMASK, &previous, nullptr);
  pipe.write_end.Reset();
  return result;
}

SysResult ForkSpawner::CloneChild(const ChildSpec& spec, int pipe_write, Started& started) {
  if (spec.credentials != nullptr && !watchdog_) {
    try {
      watchdog_ = std::make_unique<CloneWatchdog>();
    } catch (const std::system_error& e) {
      return SysResult{"pthread_create", e.code().value()};
    }
  }
  FailureSlot failure;
  CloneArgs args{&spec, pipe_write, &failure};
  pid_t* watched = watchdog_ ? watchdog_->Begin() : nullptr;
  int flags = CLONE_VM | CLONE_VFORK | SIGCHLD | (watched != nullptr ? CLONE_PARENT_SETTID : 0);
  // CLONE_VFORK: we sleep until the child has exec'd or exited, so it has
  // the stack to itself and `failure` is final when clone returns. (Its
  // errno is ours too: read below only if clone itself failed.)
  pid_t pid = clone(RunClonedChild, stack_ + stack_size_, flags, &args, watched);
  int clone_errno = errno;
  bool killed = watchdog_ && watchdog_->End();
  if (spec.credentials != nullptr) prctl(PR_SET_DUMPABLE, dumpable_);
  if (pid < 0) return SysResult{"clone", clone_errno};
  started.pid = pid;
  if (failure.step != nullptr) started.failure = StartFailure{failure.step, failure.err};
  if (killed) started.failure = StartFailure{"stopped before exec", ECANCELED};
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
