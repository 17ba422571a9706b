#include "spawn/spawner.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <span>
#include <system_error>

#include "builtin/builtin.h"
#include "sandbox/sandbox.h"
#include "spawn/process_controls.h"
#include "sys/signal_pipe.h"
#include "sys/sys_error.h"
#include "tls/front.h"

namespace yinetd::spawn {
namespace {

// Built before main, so that the child never runs a static initializer.
const ProcessControls kDefaultControls;

// Child side: async-signal-safe calls only from here to the end of the
// anonymous namespace.

// Where a child that cannot start reports why: a cloned child stores the
// failure in `shared`, which is our memory too; a forked one writes it,
// as raw bytes, to `fd`, its own failure pipe. `call` is a string literal,
// at the same address in the forked child as in us.
struct Reporter {
  int fd;
  SysFailure* shared;
};

[[noreturn]] void FailStart(const Reporter& to, const char* call, int err) {
  SysFailure failure{call, err};
  if (to.shared != nullptr) {
    *to.shared = failure;
  } else {
    // Into an empty pipe: a write this small never blocks or splits.
    [[maybe_unused]] ssize_t written = write(to.fd, &failure, sizeof failure);
  }
  _exit(kStartFailedStatus);
}

// Marks every fd from 3 up close-on-exec, so exec leaves the program fds
// 0-2 only, while the failure pipe (`failure_fd`, if any) stays usable
// until then.
void CloseOthersOnExec(int failure_fd) {
  if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
  // Kernels before 5.11: close what we can see, keeping the failure pipe.
  long max = sysconf(_SC_OPEN_MAX);
  for (int fd = 3; fd < max && fd < 65536; ++fd) {
    if (fd != failure_fd) close(fd);
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

void DropPrivileges(const Credentials& credentials, const Reporter& report) {
  if (syscall(kSetgroups, credentials.groups.size(), credentials.groups.data()) != 0) {
    FailStart(report, "setgroups", errno);
  }
  if (syscall(kSetgid, credentials.gid) != 0) FailStart(report, "setgid", errno);
  if (credentials.set_uid && syscall(kSetuid, credentials.uid) != 0) FailStart(report, "setuid", errno);
}

// The sandbox's namespaces, process controls, privileges, the rest, and
// the sandbox's confinement, in the order process_controls.h and
// sandbox/sandbox.h explain.
void SetUpProcess(const ChildSpec& spec, const Reporter& report) {
  const ProcessControls& controls = spec.controls != nullptr ? *spec.controls : kDefaultControls;
  SysFailure error;
  if (spec.sandbox != nullptr) error = sandbox::EnterNamespaces(*spec.sandbox);
  if (!error.Ok()) FailStart(report, error.call, error.err);
  error = ApplyPrivilegedControls(controls);
  if (!error.Ok()) FailStart(report, error.call, error.err);
  if (spec.credentials != nullptr) DropPrivileges(*spec.credentials, report);
  error = ApplyUnprivilegedControls(controls);
  if (!error.Ok()) FailStart(report, error.call, error.err);
  if (spec.sandbox != nullptr) error = sandbox::Confine(*spec.sandbox);
  if (!error.Ok()) FailStart(report, error.call, error.err);
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
  switch (spec.stderr_target) {
    case StderrTarget::kReportPipe: return pipe_write;
    case StderrTarget::kConnection: return spec.connection_fd;
    case StderrTarget::kNull: return spec.devnull_fd;
  }
  return spec.devnull_fd;
}

// `shared`: where a cloned child reports a failure; nullptr in a forked
// one, which writes to `failure_fd` instead (-1 in a cloned one).
// `own_group`: false for a program under a TLS front, which stays in the
// front's group so that signalling the group reaches both.
[[noreturn]] void RunChild(const ChildSpec& spec, int pipe_write, int failure_fd, SysFailure* shared,
                           bool own_group = true) {
  ResetSignalsForChild();
  // Above 2, so that the dup2s below cannot overwrite it.
  if (failure_fd >= 0 && failure_fd <= 2) failure_fd = fcntl(failure_fd, F_DUPFD_CLOEXEC, 3);
  Reporter report{failure_fd, shared};
  if (dup2(spec.connection_fd, 0) < 0) FailStart(report, "dup2", errno);
  if (dup2(spec.connection_fd, 1) < 0) FailStart(report, "dup2", errno);
  if (dup2(StderrSource(spec, pipe_write), 2) < 0) FailStart(report, "dup2", errno);
  CloseOthersOnExec(report.fd);
  // Its own process group: a shutdown can signal the program's whole group,
  // and a terminal's ^C (sent to yinetd's foreground group) does not reach
  // it. Not setsid(): with scheduler autogroups (Debian's default) every new
  // session creates a scheduling group, which cost 2-3x in connections/s at
  // concurrency 1 (docs/benchmarks.md).
  if (own_group && setpgid(0, 0) < 0) FailStart(report, "setpgid", errno);
  SetUpProcess(spec, report);
  if (spec.builtin != nullptr) RunBuiltin(*spec.builtin, spec.prepared);  // closes the failure pipe
  execve(spec.program, spec.argv, spec.envp);
  FailStart(report, "exec", errno);
}

// Closes every fd from 3 up but those in `keep` (sorted): a front lives as
// long as its connection and must not hold listeners or other children's
// pipes open.
void CloseAllBut(std::span<const int> keep) {
  unsigned int from = 3;
  for (int fd : keep) {
    if (fd < static_cast<int>(from)) continue;
    if (static_cast<unsigned int>(fd) > from) close_range(from, static_cast<unsigned int>(fd) - 1, 0);
    from = static_cast<unsigned int>(fd) + 1;
  }
  close_range(from, ~0U, 0);
}

struct CloneArgs {
  const ChildSpec* spec;
  int pipe_write;
  SysFailure* failure;
  bool own_group;
  // Non-zero: cloned with CLONE_FILES, and every fd the child uses is
  // below this one (ForkSpawner::low_end_).
  unsigned int low_end;
};

int RunClonedChild(void* arg) {
  const auto* args = static_cast<const CloneArgs*>(arg);
  // Until this call our descriptor table is the parent's: nothing may be
  // opened, closed or dup'd before it. Failing, we exit without having
  // touched it.
  if (args->low_end != 0 && close_range(args->low_end, ~0U, CLOSE_RANGE_UNSHARE) != 0) {
    FailStart(Reporter{-1, args->failure}, "close_range unshare", errno);
  }
  RunChild(*args->spec, args->pipe_write, -1, args->failure, args->own_group);
}

// clone(CLONE_VM | CLONE_VFORK) on `stack_top`: returns once the child has
// exec'd or died; a failure to start is then in `failure`. `low_end`
// non-zero: the child also shares our descriptor table until its first
// call copies the part below `low_end` (CloneArgs).
pid_t CloneSharingMemory(const ChildSpec& spec, int pipe_write, char* stack_top, int flags, bool own_group,
                         SysFailure& failure, pid_t* watched, unsigned int low_end = 0) {
  CloneArgs args{&spec, pipe_write, &failure, own_group, low_end};
  return clone(RunClonedChild, stack_top, CLONE_VM | CLONE_VFORK | SIGCHLD | flags | (low_end != 0 ? CLONE_FILES : 0),
               &args, watched);
}

// The front starts the program once the handshake succeeded, on the
// front's plaintext socket and with the SSL_* environment, through the
// same RunChild as any child. Cloned sharing the front's memory when the
// plain path would clone (`stack_top` set): the front is single-threaded
// (a fork keeps only the thread that forked, so CloneWatchdog's thread is
// not here), so nothing else runs in the memory the child borrows, and the
// front sleeps until the child has exec'd. A second fork instead copied
// the front's page tables and made every page the front then wrote fault
// copy-on-write; it was the largest part of the front's own cost
// (docs/benchmarks.md). No watchdog: a program stopped before its exec
// stalls only its own connection, which the service's user could stall
// anyway by stopping the program after it. No clone flags: the program
// stays in the front's namespaces and cgroup, which it inherits.
pid_t StartProgramFromFront(const ChildSpec& program, int pipe_write, int failure_fd, char* stack_top) {
  if (stack_top == nullptr || !ClonesChild(program.builtin)) {
    pid_t pid = fork();
    if (pid == 0) RunChild(program, pipe_write, failure_fd, nullptr, false);
    return pid;
  }
  SysFailure failure;
  pid_t pid = CloneSharingMemory(program, pipe_write, stack_top, 0, false, failure, nullptr);
  // Where a forked program would have put it: the supervisor reads it once
  // this front is reaped (ForkSpawner::Reaped).
  if (pid > 0 && !failure.Ok() && failure_fd >= 0) {
    [[maybe_unused]] ssize_t written = write(failure_fd, &failure, sizeof failure);
  }
  return pid;
}

// A TLS connection's child (tls/front.h). `stack_top`: the spawner's clone
// stack (our copy of it), or nullptr where children are forked.
[[noreturn]] void RunTlsFront(const ChildSpec& spec, int pipe_write, int failure_fd, char* stack_top) {
  ResetSignalsForChild();
  if (setpgid(0, 0) < 0) FailStart(Reporter{failure_fd, nullptr}, "setpgid", errno);
  // The program enters the service's namespaces and restricts itself (the
  // front stays as it is): the sandbox's fds must outlive the closing.
  std::array<int, 3> sandbox_fds{-1, -1, -1};
  if (spec.sandbox != nullptr) sandbox_fds = spec.sandbox->ChildFds();
  int keep[] = {spec.connection_fd, spec.tls->outcome_fd, pipe_write,     spec.devnull_fd,
                failure_fd,         sandbox_fds[0],       sandbox_fds[1], sandbox_fds[2]};
  std::sort(std::begin(keep), std::end(keep));
  CloseAllBut(keep);
  tls::RunFront(*spec.tls, spec.connection_fd, spec.envp, spec.credentials, [&](int plain_fd, char* const* envp) {
    ChildSpec program = spec;
    program.connection_fd = plain_fd;
    program.envp = envp;
    program.tls = nullptr;
    pid_t pid = StartProgramFromFront(program, pipe_write, failure_fd, stack_top);
    // The program's stderr and start failure reach the supervisor through
    // its copies; ours would keep the pipes from ending when the program
    // does. /dev/null was kept for the program's fd 2 only.
    if (pid > 0) {
      for (int fd : {pipe_write, failure_fd, spec.devnull_fd}) {
        if (fd >= 0 && fd != spec.connection_fd) close(fd);
      }
    }
    return pid;
  });
}

// Parent side again.

int NamespaceFlags(const ChildSpec& spec) { return spec.sandbox != nullptr ? spec.sandbox->clone_flags : 0; }

// fork, with the sandbox's namespaces and cgroup if any: clone3 returns in
// the child as fork does (no CLONE_VM, so on a copy of this stack). A TLS
// front is forked so too: the program it forks inherits them.
pid_t ForkSandboxed(const ChildSpec& spec) {
  int flags = NamespaceFlags(spec);
  bool into_cgroup = spec.sandbox != nullptr && spec.sandbox->cgroup;
  if (flags == 0 && !into_cgroup) return fork();
  clone_args args{};
  args.flags = static_cast<uint64_t>(flags) | (into_cgroup ? CLONE_INTO_CGROUP : 0);
  args.exit_signal = SIGCHLD;
  if (into_cgroup) args.cgroup = static_cast<uint64_t>(spec.sandbox->cgroup.Get());
  return static_cast<pid_t>(syscall(SYS_clone3, &args, sizeof args));
}

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

bool ClonesChild(const builtin::Builtin* builtin, const sandbox::Prepared* sandbox) {
  bool into_cgroup = sandbox != nullptr && sandbox->cgroup;
  return kCloneSharingMemory && builtin == nullptr && !into_cgroup;
}

bool NeedsReportPipe(StderrTarget stderr_target) { return stderr_target == StderrTarget::kReportPipe; }

SysFailure OpenReportPipe(ReportPipe& pipe) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return SysFailure{"pipe2", errno};
  pipe.read_end.Reset(fds[0]);
  pipe.write_end.Reset(fds[1]);
  // Only our end is non-blocking: the program's stderr must block as usual.
  if (fcntl(pipe.read_end.Get(), F_SETFL, O_NONBLOCK) != 0) return SysFailure{"fcntl O_NONBLOCK", errno};
  return SysFailure{};
}

ForkSpawner::ForkSpawner() {
  if (!kCloneSharingMemory) {
    spare_failure_pipe_ = OpenFailurePipe();
    return;
  }
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
  ReserveLowSlots();
  spare_failure_pipe_ = OpenFailurePipe();  // above the slots: no clone copies it
}

void ForkSpawner::ReserveLowSlots() {
  // close_range came with CLOSE_RANGE_UNSHARE (Linux 5.9). Asked to close
  // an fd that cannot be open, it only tells whether it exists.
  if (close_range(~0U, ~0U, 0) != 0) return;
  devnull_.Reset(open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!devnull_) return;
  int highest = devnull_.Get();
  for (UniqueFd& slot : low_slots_) {
    slot.Reset(fcntl(devnull_.Get(), F_DUPFD_CLOEXEC, 3));
    if (!slot) return;
    highest = std::max(highest, slot.Get());
  }
  low_end_ = static_cast<unsigned int>(highest) + 1;
}

int ForkSpawner::IntoLowSlot(int slot, int fd) {
  if (fd < static_cast<int>(low_end_)) return fd;
  int target = low_slots_[slot].Get();
  return dup3(fd, target, O_CLOEXEC) == target ? target : -1;
}

void ForkSpawner::ClearLowSlots(int used) {
  for (int i = 0; i < used; ++i) {
    // The slot must not keep the connection open. Should putting /dev/null
    // back fail, the slot goes, and with it the clones that copy less.
    if (dup3(devnull_.Get(), low_slots_[i].Get(), O_CLOEXEC) < 0) {
      low_slots_[i].Reset();
      low_end_ = 0;
    }
  }
}

ForkSpawner::~ForkSpawner() {
  if (stack_ != nullptr) munmap(stack_, stack_size_);
}

SysFailure ForkSpawner::Spawn(const ChildSpec& spec, ReportPipe& pipe, Started& started) {
  // Signals stay blocked from clone until the child has reset its handlers:
  // one arriving in between would otherwise run our handler in the child
  // and write to our self-pipe. Blocked, it waits and then acts as default.
  sigset_t all, previous;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, &previous);
  started = Started{};
  // A TLS front is forked: it runs OpenSSL on our context, and forks the
  // program itself.
  SysFailure result = ClonesChild(spec.builtin, spec.sandbox) && spec.tls == nullptr
                          ? CloneChild(spec, pipe.write_end.Get(), started)
                          : ForkChild(spec, pipe.write_end.Get(), started);
  sigprocmask(SIG_SETMASK, &previous, nullptr);
  pipe.write_end.Reset();
  return result;
}

ForkSpawner::FailurePipe ForkSpawner::OpenFailurePipe() {
  // Non-blocking both ways: the child's one small write into the empty pipe
  // cannot block anyway, and our read in Reaped must not.
  int fds[2];
  FailurePipe pipe;
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0) {
    pipe.read_end.Reset(fds[0]);
    pipe.write_end.Reset(fds[1]);
  }
  return pipe;
}

SysFailure ForkSpawner::ForkChild(const ChildSpec& spec, int pipe_write, Started& started) {
  // The pipe opened ahead, before this connection was accepted. Had that
  // failed and still fails now (out of descriptors), the child starts
  // without one: the connection is accepted and must not be dropped, and a
  // failure then shows only as exit status 127.
  if (!spare_failure_pipe_.read_end) spare_failure_pipe_ = OpenFailurePipe();
  FailurePipe failure_pipe = std::move(spare_failure_pipe_);
  started.pid = ForkSandboxed(spec);
  if (started.pid == 0 && spec.tls != nullptr) {
    RunTlsFront(spec, pipe_write, failure_pipe.write_end.Get(), stack_ != nullptr ? stack_ + stack_size_ : nullptr);
  }
  if (started.pid == 0) RunChild(spec, pipe_write, failure_pipe.write_end.Get(), nullptr);
  if (started.pid < 0) {
    int err = errno;
    spare_failure_pipe_ = std::move(failure_pipe);
    return SysFailure{"fork", err};
  }
  if (failure_pipe.read_end) failure_pipes_[started.pid] = std::move(failure_pipe.read_end);
  // The next forked child's, while descriptors are at hand.
  spare_failure_pipe_ = OpenFailurePipe();
  return SysFailure{};
}

void ForkSpawner::HoldMountNamespace(const ChildSpec& spec, pid_t pid) {
  if (spec.sandbox == nullptr || !sandbox::NeedsOwnMounts(*spec.sandbox)) return;
  char path[48];
  std::snprintf(path, sizeof path, "/proc/%d/ns/mnt", static_cast<int>(pid));
  // Fails when the program has exited already: its namespace is gone.
  UniqueFd ns(open(path, O_RDONLY | O_CLOEXEC));
  if (ns) held_mounts_[pid] = std::move(ns);
}

std::optional<SysFailure> ForkSpawner::Reaped(pid_t pid) {
  held_mounts_.erase(pid);  // the namespace's teardown, if it was the last
  auto it = failure_pipes_.find(pid);
  if (it == failure_pipes_.end()) return std::nullopt;
  UniqueFd read_end = std::move(it->second);
  failure_pipes_.erase(it);
  SysFailure failure;
  // The child is dead: what it wrote is all there, or nothing is.
  ssize_t n = RetryOnEintr([&] { return read(read_end.Get(), &failure, sizeof failure); });
  if (n != static_cast<ssize_t>(sizeof failure) || failure.Ok()) return std::nullopt;
  return failure;
}

SysFailure ForkSpawner::CloneChild(const ChildSpec& spec, int pipe_write, Started& started) {
  if (spec.credentials != nullptr && !watchdog_) {
    try {
      watchdog_ = std::make_unique<CloneWatchdog>();
    } catch (const std::system_error& e) {
      return SysFailure{"pthread_create", e.code().value()};
    }
  }
  SysFailure failure;
  // The child's connection and stderr go into the low slots (a sandboxed
  // child's namespaces and rules may hold fds of their own: it copies the
  // table). StderrSource picks the slot through the field of its mode.
  ChildSpec low = spec;
  const ChildSpec* child = &spec;
  int child_pipe_write = pipe_write;
  unsigned int low_end = 0;
  int slots_used = 0;
  if (low_end_ != 0 && spec.sandbox == nullptr) {
    int* stderr_fd = spec.stderr_target == StderrTarget::kReportPipe ? &child_pipe_write
                     : spec.stderr_target == StderrTarget::kNull    ? &low.devnull_fd
                                                                     : nullptr;  // the connection
    low.connection_fd = IntoLowSlot(0, spec.connection_fd);
    slots_used = 1;
    bool moved = low.connection_fd >= 0;
    if (moved && stderr_fd != nullptr && *stderr_fd >= 0) {
      *stderr_fd = IntoLowSlot(1, *stderr_fd);
      slots_used = 2;
      moved = *stderr_fd >= 0;
    }
    if (moved) {
      child = &low;
      low_end = low_end_;
    } else {  // the child copies the table, as without the slots
      ClearLowSlots(slots_used);
      slots_used = 0;
      child_pipe_write = pipe_write;
    }
  }
  pid_t* watched = watchdog_ ? watchdog_->Begin() : nullptr;
  int flags = NamespaceFlags(spec) | (watched != nullptr ? CLONE_PARENT_SETTID : 0);
  // CLONE_VFORK: we sleep until the child has exec'd or exited, so it has
  // the stack to itself and `failure` is final when clone returns. (Its
  // errno is ours too: read below only if clone itself failed.) By then it
  // no longer shares our descriptor table either.
  pid_t pid = CloneSharingMemory(*child, child_pipe_write, stack_ + stack_size_, flags, true, failure, watched, low_end);
  int clone_errno = errno;
  ClearLowSlots(slots_used);
  bool killed = watchdog_ && watchdog_->End();
  if (spec.credentials != nullptr) prctl(PR_SET_DUMPABLE, dumpable_);
  if (pid < 0) return SysFailure{"clone", clone_errno};
  started.pid = pid;
  if (!failure.Ok()) started.failure = failure;
  if (killed) started.failure = SysFailure{"stopped before exec", ECANCELED};
  if (!started.failure) HoldMountNamespace(spec, pid);
  return SysFailure{};
}

}  // namespace yinetd::spawn
