// ProcessStarter: how the supervisor starts, reaps and signals processes.
//
// The loop never calls clone, wait4 or kill itself: it goes through this
// interface, so tests/supervisor/ drives admission, timeouts, reloads and
// shutdown with a fake that records what would have happened (ninja's
// FakeCommandRunner is the model). SystemProcesses is the real one.
//
// Reaping costs what died, not what lives: wait4(-1) walks every child in
// the kernel (with 5,000 children held open, that walk was most of the
// loop's time), so SystemProcesses holds a pidfd for each child it starts,
// all in one epoll descriptor (ReapFd) that sits in the loop's poll set;
// when it is readable, epoll names exactly the children that exited, and
// each is reaped on its own (waitid P_PIDFD). The wait4(-1) scan stays for
// what has no pidfd: a child started while pidfds were not available (an
// old kernel, no descriptor left) and a child yinetd did not start (one
// its parent left it before exec'ing yinetd).
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "spawn/spawner.h"
#include "sys/unique_fd.h"

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

// Which dead children Reap looks for.
enum class ReapScope {
  kExited,  // those ReapFd reported (and any child that has no pidfd)
  kAny,     // every child: the wait4(-1) scan, whatever its cost
};

class ProcessStarter {
 public:
  virtual ~ProcessStarter() = default;
  virtual SysFailure Spawn(const spawn::ChildSpec& spec, spawn::ReportPipe& pipe,
                                 spawn::Started& started) = 0;
  // One dead child in `scope`, without waiting; nullopt when there is none
  // (or none is left).
  virtual std::optional<Reaped> Reap(ReapScope scope) = 0;
  // Readable when a child started with a pidfd has exited (borrowed); -1
  // when there is no such descriptor, and only SIGCHLD tells.
  virtual int ReapFd() const { return -1; }
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
  // Without pidfds (a kernel before 5.4), every reap is the wait4(-1) scan.
  explicit SystemProcesses(spawn::Spawner& spawner);
  SysFailure Spawn(const spawn::ChildSpec& spec, spawn::ReportPipe& pipe,
                         spawn::Started& started) override;
  std::optional<Reaped> Reap(ReapScope scope) override;
  int ReapFd() const override { return exits_.Get(); }
  bool Signal(pid_t pid, int signo) override;
  bool GroupAlive(pid_t pgid) override;
  bool KillCgroup(int group_dir) override;

  // For tests: children reaped through their pidfd so far, and children
  // without one now.
  uint64_t ReapedByPidfd() const { return reaped_by_pidfd_; }
  size_t Untracked() const { return untracked_.size(); }

 private:
  // Gives `pid` a pidfd in exits_; false when it cannot have one.
  bool Track(pid_t pid);
  void CollectExited();
  std::optional<Reaped> ReapByScan();
  Reaped Finish(Reaped reaped);

  spawn::Spawner& spawner_;
  UniqueFd exits_;                               // epoll over the pidfds; empty without pidfds
  std::unordered_map<pid_t, UniqueFd> pidfds_;   // every live child that has one
  std::unordered_set<pid_t> untracked_;          // our children that have none
  std::deque<Reaped> exited_;                    // reaped by pidfd, not yet handed out
  uint64_t reaped_by_pidfd_ = 0;
};

}  // namespace yinetd::supervisor
