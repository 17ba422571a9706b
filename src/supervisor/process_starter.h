// ProcessStarter: how the supervisor starts, reaps and signals processes.
//
// The loop never calls clone, wait4 or kill itself: it goes through this
// interface, so tests/supervisor/ drives admission, timeouts, reloads and
// shutdown with a fake that records what would have happened (ninja's
// FakeCommandRunner is the model). SystemProcesses is the real one.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>

#include "spawn/spawner.h"

namespace yinetd::supervisor {

struct Reaped {
  pid_t pid = 0;
  int status = 0;      // as waitpid reports it
  rusage usage = {};   // what the child used (wait4)
  // What a forked child reported before it exited: it could not start its
  // program (spawn::Spawner::Reaped).
  std::optional<SysFailure> start_failure;
};

// What an exit line and the metrics say a child used.
struct ChildUsage {
  int64_t cpu_ms = 0;     // user + system
  int64_t maxrss_kb = 0;  // its largest resident set
};
ChildUsage UsageOf(const rusage& usage);

class ProcessStarter {
 public:
  virtual ~ProcessStarter() = default;
  virtual SysFailure Spawn(const spawn::ChildSpec& spec, spawn::ReportPipe& pipe,
                                 spawn::Started& started) = 0;
  // One dead child, without waiting; nullopt when none is dead (or none
  // is left).
  virtual std::optional<Reaped> Reap() = 0;
  // Sends `signo` to the process group `pid` leads, or to `pid` alone when
  // it has not made its group yet. False (errno set) when neither exists.
  virtual bool Signal(pid_t pid, int signo) = 0;
  // Whether the process group `pgid` still has a live member.
  virtual bool GroupAlive(pid_t pgid) = 0;
  // SIGKILL to every process in the cgroup `group_dir` (a service's group,
  // opened as a directory), also those that left their process group.
  // False (errno set) when it could not be done.
  virtual bool KillCgroup(int group_dir) = 0;
};

class SystemProcesses final : public ProcessStarter {
 public:
  explicit SystemProcesses(spawn::Spawner& spawner) : spawner_(spawner) {}
  SysFailure Spawn(const spawn::ChildSpec& spec, spawn::ReportPipe& pipe,
                         spawn::Started& started) override;
  std::optional<Reaped> Reap() override;
  bool Signal(pid_t pid, int signo) override;
  bool GroupAlive(pid_t pgid) override;
  bool KillCgroup(int group_dir) override;

 private:
  spawn::Spawner& spawner_;
};

}  // namespace yinetd::supervisor
