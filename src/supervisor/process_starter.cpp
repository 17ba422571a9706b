#include "supervisor/process_starter.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "log/events.h"
#include "sandbox/cgroup.h"
#include "sys/sys_error.h"

namespace yinetd::supervisor {
namespace {

// waitid's P_PIDFD (Linux 5.4), which not every libc names yet.
constexpr idtype_t kPidfd = static_cast<idtype_t>(3);

int PidfdOpen(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

// waitid as the kernel has it: its fifth argument is the child's rusage,
// which glibc's waitid does not pass on (the exit line needs it).
int WaitId(idtype_t type, int id, siginfo_t* info, int options, rusage* usage) {
  return static_cast<int>(syscall(SYS_waitid, type, id, info, options, usage));
}

// What waitpid would have said, from waitid's siginfo.
int WaitStatusOf(const siginfo_t& info) {
  switch (info.si_code) {
    case CLD_EXITED: return W_EXITCODE(info.si_status, 0);
    case CLD_DUMPED: return info.si_status | WCOREFLAG;
    default: return info.si_status;  // CLD_KILLED
  }
}

}  // namespace

ChildUsage UsageOf(const rusage& usage) {
  auto millis = [](const timeval& t) { return static_cast<int64_t>(t.tv_sec) * 1000 + t.tv_usec / 1000; };
  return ChildUsage{millis(usage.ru_utime) + millis(usage.ru_stime), static_cast<int64_t>(usage.ru_maxrss)};
}

SystemProcesses::SystemProcesses(spawn::Spawner& spawner) : spawner_(spawner) {
  // Both calls, tried on ourselves: we are not our own child, so a kernel
  // that knows P_PIDFD says ECHILD.
  UniqueFd self(PidfdOpen(getpid()));
  if (!self) return;
  siginfo_t info{};
  if (WaitId(kPidfd, self.Get(), &info, WEXITED | WNOHANG, nullptr) == 0 || errno != ECHILD) return;
  exits_.Reset(epoll_create1(EPOLL_CLOEXEC));
}

SysFailure SystemProcesses::Spawn(const spawn::ChildSpec& spec, spawn::ReportPipe& pipe,
                                  spawn::Started& started) {
  SysFailure spawned = spawner_.Spawn(spec, pipe, started);
  if (spawned.Ok() && started.pid > 0 && !Track(started.pid)) untracked_.insert(started.pid);
  return spawned;
}

bool SystemProcesses::Track(pid_t pid) {
  if (!exits_) return false;
  // Only we reap, so `pid` is still this child's, even if it has exited
  // already (a zombie has a pidfd too). Out of descriptors it has none,
  // and the scan reaps it.
  UniqueFd pidfd(PidfdOpen(pid));
  if (!pidfd) return false;
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = static_cast<uint64_t>(pid);
  if (epoll_ctl(exits_.Get(), EPOLL_CTL_ADD, pidfd.Get(), &event) != 0) return false;
  pidfds_[pid] = std::move(pidfd);
  return true;
}

std::optional<Reaped> SystemProcesses::Reap(ReapScope scope) {
  if (exited_.empty() && exits_) CollectExited();
  if (!exited_.empty()) {
    Reaped reaped = std::move(exited_.front());
    exited_.pop_front();
    return reaped;
  }
  // A child without a pidfd can be found only by the scan.
  if (scope == ReapScope::kAny || !exits_ || !untracked_.empty()) return ReapByScan();
  return std::nullopt;
}

void SystemProcesses::CollectExited() {
  epoll_event events[64];
  int ready = RetryOnEintr([&] { return epoll_wait(exits_.Get(), events, 64, 0); });
  if (ready < 0) log::SyscallFailed("", "epoll_wait", "", errno);
  for (int i = 0; i < ready; ++i) {
    auto it = pidfds_.find(static_cast<pid_t>(events[i].data.u64));
    if (it == pidfds_.end()) continue;
    Reaped reaped;
    siginfo_t info{};
    int waited = RetryOnEintr([&] { return WaitId(kPidfd, it->second.Get(), &info, WEXITED | WNOHANG, &reaped.usage); });
    if (waited != 0) log::SyscallFailed("", "waitid", std::to_string(it->first), errno);
    pid_t pid = it->first;
    // Out of the set before it closes: a forked child that has not exec'd
    // yet holds a copy, which would keep it there, always ready.
    epoll_ctl(exits_.Get(), EPOLL_CTL_DEL, it->second.Get(), nullptr);
    pidfds_.erase(it);
    if (waited != 0 || info.si_pid == 0) {
      // Ready but not reaped (it cannot be, yet): left to the scan rather
      // than reported ready again on every pass.
      untracked_.insert(pid);
      continue;
    }
    reaped.pid = pid;
    reaped.status = WaitStatusOf(info);
    ++reaped_by_pidfd_;
    exited_.push_back(Finish(std::move(reaped)));
  }
}

std::optional<Reaped> SystemProcesses::ReapByScan() {
  Reaped reaped;
  pid_t pid = RetryOnEintr([&] { return wait4(-1, &reaped.status, WNOHANG, &reaped.usage); });
  if (pid <= 0) {
    if (pid < 0 && errno != ECHILD) log::SyscallFailed("", "wait4", "", errno);
    return std::nullopt;
  }
  reaped.pid = pid;
  if (auto it = pidfds_.find(pid); it != pidfds_.end()) {
    epoll_ctl(exits_.Get(), EPOLL_CTL_DEL, it->second.Get(), nullptr);
    pidfds_.erase(it);
  }
  untracked_.erase(pid);
  return Finish(std::move(reaped));
}

Reaped SystemProcesses::Finish(Reaped reaped) {
  reaped.start_failure = spawner_.Reaped(reaped.pid);
  return reaped;
}

bool SystemProcesses::Signal(pid_t pid, int signo) {
  // The whole group first (a shell's children too); a child that has not
  // called setpgid yet has no group of its own.
  return kill(-pid, signo) == 0 || kill(pid, signo) == 0;
}

bool SystemProcesses::GroupAlive(pid_t pgid) {
  // Signal 0 checks without sending. EPERM: alive, but no longer ours to
  // signal (it changed user); still alive.
  return kill(-pgid, 0) == 0 || errno == EPERM;
}

bool SystemProcesses::KillCgroup(int group_dir) { return sandbox::KillGroup(group_dir); }

}  // namespace yinetd::supervisor
