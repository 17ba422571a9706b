#include "supervisor/process_starter.h"

#include <signal.h>
#include <sys/wait.h>

#include <cerrno>

#include "log/events.h"
#include "sandbox/cgroup.h"

namespace yinetd::supervisor {

ChildUsage UsageOf(const rusage& usage) {
  auto millis = [](const timeval& t) { return static_cast<int64_t>(t.tv_sec) * 1000 + t.tv_usec / 1000; };
  return ChildUsage{millis(usage.ru_utime) + millis(usage.ru_stime), static_cast<int64_t>(usage.ru_maxrss)};
}

SysFailure SystemProcesses::Spawn(const spawn::ChildSpec& spec, spawn::ReportPipe& pipe,
                                  spawn::Started& started) {
  return spawner_.Spawn(spec, pipe, started);
}

std::optional<Reaped> SystemProcesses::Reap() {
  Reaped reaped;
  pid_t pid;
  do {
    pid = wait4(-1, &reaped.status, WNOHANG, &reaped.usage);
  } while (pid < 0 && errno == EINTR);
  if (pid <= 0) {
    if (pid < 0 && errno != ECHILD) log::SyscallFailed("", "wait4", "", errno);
    return std::nullopt;
  }
  reaped.pid = pid;
  reaped.start_failure = spawner_.Reaped(pid);
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
