// SystemProcesses against the real kernel: children reaped through their
// pidfds report what wait4 would have (status, rusage), and a child it did
// not start is left to the scan.
#include "supervisor/process_starter.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include "spawn/child_env.h"

namespace yinetd::supervisor {
namespace {

// Starts `/bin/sh -c script` through `processes`, on /dev/null.
pid_t StartShell(SystemProcesses& processes, const std::string& script) {
  UniqueFd devnull(open("/dev/null", O_RDWR | O_CLOEXEC));
  REQUIRE(devnull);
  std::vector<std::string> argv{"/bin/sh", "-c", script};
  std::vector<std::string> env{"PATH=/usr/bin:/bin"};
  std::vector<char*> argv_ptrs = spawn::ToExecArray(argv);
  std::vector<char*> env_ptrs = spawn::ToExecArray(env);
  spawn::ChildSpec spec{"/bin/sh", argv_ptrs.data(), env_ptrs.data(), devnull.Get(),
                        spawn::StderrTarget::kNull, devnull.Get(), nullptr};
  spawn::ReportPipe pipe;
  spawn::Started started;
  REQUIRE(processes.Spawn(spec, pipe, started).Ok());
  REQUIRE(started.pid > 0);
  return started.pid;
}

// Waits (at most 10 s) until `fd` is readable.
bool Readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, 10000) == 1;
}

// Reaps through the reap fd until `count` children came (at most 10 s).
std::map<pid_t, Reaped> ReapExited(SystemProcesses& processes, size_t count) {
  std::map<pid_t, Reaped> reaped;
  for (int i = 0; i < 100 && reaped.size() < count; ++i) {
    if (!Readable(processes.ReapFd())) break;
    while (std::optional<Reaped> one = processes.Reap(ReapScope::kExited)) reaped[one->pid] = *one;
  }
  return reaped;
}

TEST_CASE("a child is reaped through its pidfd with its status and what it used") {
  spawn::ForkSpawner spawner;
  SystemProcesses processes(spawner);
  REQUIRE(processes.ReapFd() >= 0);  // Linux 5.4 and later
  pid_t busy = StartShell(processes, "i=0; while [ $i -lt 50000 ]; do i=$((i+1)); done; exit 3");
  pid_t killed = StartShell(processes, "kill -KILL $$");
  CHECK(processes.Untracked() == 0);
  std::map<pid_t, Reaped> reaped = ReapExited(processes, 2);
  REQUIRE(reaped.size() == 2);
  const Reaped* first = &reaped.at(busy);
  CHECK(WIFEXITED(first->status));
  CHECK(WEXITSTATUS(first->status) == 3);
  CHECK(first->usage.ru_maxrss > 0);
  CHECK(UsageOf(first->usage).cpu_ms + first->usage.ru_utime.tv_usec + first->usage.ru_stime.tv_usec > 0);
  const Reaped* second = &reaped.at(killed);
  CHECK(WIFSIGNALED(second->status));
  CHECK(WTERMSIG(second->status) == SIGKILL);
  CHECK(processes.ReapedByPidfd() == 2);
  // Nothing is left: the scan finds no child either.
  CHECK_FALSE(processes.Reap(ReapScope::kAny));
}

TEST_CASE("a child that SystemProcesses did not start is reaped by the scan only") {
  spawn::ForkSpawner spawner;
  SystemProcesses processes(spawner);
  REQUIRE(processes.ReapFd() >= 0);
  pid_t stray = fork();
  REQUIRE(stray >= 0);
  if (stray == 0) _exit(5);
  // Until it is a zombie, without reaping it.
  siginfo_t info{};
  REQUIRE(waitid(P_PID, static_cast<id_t>(stray), &info, WEXITED | WNOWAIT) == 0);
  CHECK_FALSE(processes.Reap(ReapScope::kExited));
  std::optional<Reaped> reaped = processes.Reap(ReapScope::kAny);
  REQUIRE(reaped);
  CHECK(reaped->pid == stray);
  CHECK(WEXITSTATUS(reaped->status) == 5);
  CHECK(processes.ReapedByPidfd() == 0);
}

}  // namespace
}  // namespace yinetd::supervisor
