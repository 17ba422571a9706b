// Spawner: one accepted connection → one running child.
//
// Everything the child needs (argv, envp, credentials) is prepared by the
// caller before the child exists; between clone and exec the child makes
// only async-signal-safe calls (a builtin, too, runs in the child).
//
// A program's child is started the way posix_spawn starts one: clone with
// CLONE_VM | CLONE_VFORK, on a stack of its own, so no page table is copied
// and no page is faulted in copy-on-write; we sleep until the child has
// exec'd or died. After the program itself that was the largest cost of a
// connection (docs/benchmarks.md). A child that cannot start its program
// stores the failed step in our memory, which it shares, and exits 127.
// A child stopped before its exec is killed by CloneWatchdog. Some children
// are forked instead (ClonesChild): those write their failure to a pipe of
// their own, close-on-exec and closed before a builtin serves, so that no
// program can ever write to it; it is read once the child is reaped
// (Spawner::Reaped). A program's own output is only ever its output.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "spawn/clone_watchdog.h"
#include "spawn/credentials.h"
#include "spawn/process_controls.h"
#include "sys/sys_error.h"
#include "sys/unique_fd.h"

// What a child may be asked to be besides a program: known here by name
// only, so that the spawner's interface does not bring the config (which
// the sandbox and TLS modules are built from) to everyone who includes it.
namespace yinetd::builtin {
struct Builtin;
}
namespace yinetd::sandbox {
struct Prepared;
}
namespace yinetd::tls {
struct FrontSpec;
}

namespace yinetd::spawn {

// Exit status of a child that could not start its program (as a shell's
// "command not found").
inline constexpr int kStartFailedStatus = 127;

// Where a child's stderr (fd 2) goes.
enum class StderrTarget {
  kReportPipe,  // the report pipe's write end, read and logged by us
  kConnection,  // the connection, as fds 0 and 1
  kNull,        // /dev/null
};

// What one child is started with, in the spawner's own terms: no config
// type reaches the spawner (supervisor/service.h translates a service's
// config once, at load).
struct ChildSpec {
  const char* program;
  char* const* argv;  // NULL-terminated
  char* const* envp;  // NULL-terminated
  int connection_fd;  // borrowed; becomes fds 0 and 1
  StderrTarget stderr_target;
  int devnull_fd;     // borrowed; fd 2 for StderrTarget::kNull
  const Credentials* credentials;  // nullptr: keep ours
  const ProcessControls* controls = nullptr;  // nullptr: the defaults
  // Set: the child serves this builtin on fd 0 instead of exec'ing
  // `program`, then exits 0.
  const builtin::Builtin* builtin = nullptr;
  // What the builtin serves that only we know (the metrics text); the
  // forked child has its own copy of it.
  std::string_view prepared = {};
  // Set: the child is confined so before exec (sandbox/sandbox.h).
  const sandbox::Prepared* sandbox = nullptr;
  // Set: the child is forked as the connection's TLS front (tls/front.h),
  // which starts the program, as described by the fields above, once the
  // handshake succeeded.
  const tls::FrontSpec* tls = nullptr;
};

// The pipe that carries a program's stderr, with stderr=log; other
// children need none (NeedsReportPipe). Opened before accept, so that
// a lack of descriptors leaves the connection queued in the kernel instead
// of accepted and dropped.
struct ReportPipe {
  UniqueFd read_end;   // ours; non-blocking
  UniqueFd write_end;  // the child's; blocking, as a program's stderr must be
};

// Whether a child is cloned as above rather than forked. Forked are a
// builtin's (it never execs, and we would wait for it), one started into a
// cgroup (clone3 with CLONE_INTO_CGROUP, which has no wrapper that runs
// the child on a stack of its own) and every child of an AddressSanitizer
// build, which cannot follow a child running in our memory on another
// stack. A sandbox's namespaces are clone flags either way.
bool ClonesChild(const builtin::Builtin* builtin, const sandbox::Prepared* sandbox = nullptr);

// A program whose stderr is logged needs a report pipe.
bool NeedsReportPipe(StderrTarget stderr_target);

SysFailure OpenReportPipe(ReportPipe& pipe);

struct Started {
  pid_t pid = -1;
  // Set: a cloned child could not start its program (the step that failed,
  // exec or setuid or ..., and its errno) and has exited (status
  // kStartFailedStatus); it is still to be reaped. A forked child's failure
  // comes from Reaped instead.
  std::optional<SysFailure> failure;
};

class Spawner {
 public:
  virtual ~Spawner() = default;
  // Starts the child. Closes `pipe.write_end` (if any) either way. A
  // failure here is ours (clone, fork, pipe2), not the child's.
  virtual SysFailure Spawn(const ChildSpec& spec, ReportPipe& pipe, Started& started) = 0;
  // Called once for every child the caller reaped: the failure to start a
  // forked child reported before it exited, if any. Never blocks.
  virtual std::optional<SysFailure> Reaped(pid_t) { return std::nullopt; }
};

// clone(CLONE_VM | CLONE_VFORK) + exec, or fork (ClonesChild).
class ForkSpawner : public Spawner {
 public:
  ForkSpawner();
  ~ForkSpawner() override;
  ForkSpawner(const ForkSpawner&) = delete;
  ForkSpawner& operator=(const ForkSpawner&) = delete;

  SysFailure Spawn(const ChildSpec& spec, ReportPipe& pipe, Started& started) override;
  std::optional<SysFailure> Reaped(pid_t pid) override;

  // The watched child being cloned right now (see CloneWatchdog), else 0.
  // For tests, from another thread, once a child that switches user has
  // been spawned.
  pid_t CloningPid() const { return watchdog_ ? watchdog_->Child() : 0; }
  // Running children whose own mount namespace we hold (HoldMountNamespace).
  size_t HeldNamespaces() const { return held_mounts_.size(); }

 private:
  SysFailure CloneChild(const ChildSpec& spec, int pipe_write, Started& started);
  SysFailure ForkChild(const ChildSpec& spec, int pipe_write, Started& started);
  // A cloned child with a mount namespace of its own (private_tmp, a pid
  // namespace's /proc): we hold it (found in /proc by its pid) until the
  // child is reaped, and drop it then. The last process to leave a mount
  // namespace tears it down in its exit, and waits there for an RCU grace
  // period (namespace_unlock's synchronize_rcu_expedited) before its
  // descriptors are closed: the client's EOF, and the reap, waited for it
  // (docs/benchmarks.md). Dropped by us, the teardown follows the reap on
  // this thread, some tens of microseconds. It used to be dropped on a
  // thread of its own, but a teardown there ran beside the next child's
  // clone and exec on the other CPU and slowed them by more than it takes.
  void HoldMountNamespace(const ChildSpec& spec, pid_t pid);
  void ReserveLowSlots();
  // Moves `fd` into low slot `slot` if it sits above the slots; the fd the
  // child is to use, or -1 if the move failed.
  int IntoLowSlot(int slot, int fd);
  // Puts /dev/null back into the slots a clone used.
  void ClearLowSlots(int used);

  // A cloned child shares our descriptor table (CLONE_FILES) until its
  // first call, close_range(low_end_, ~0U, CLOSE_RANGE_UNSHARE), gives it a
  // copy of only the fds below low_end_ (Linux 5.9): otherwise each clone
  // copies the whole table, a pidfd per running child included, and the
  // child closes them all again at exec. The fds a child uses are moved
  // into low_slots_ for the clone, reserved at construction (before the
  // listeners and the pidfds) and holding /dev/null otherwise. Without
  // the call, or for a sandboxed child, low_end_ is 0 and a clone copies
  // the table.
  UniqueFd devnull_;
  UniqueFd low_slots_[2];
  unsigned int low_end_ = 0;

  // The stack a cloned child runs on until exec: one is enough, since we
  // wait while it is in use. A guard page below it turns an overflow into
  // a crash of the child instead of a write into our memory.
  char* stack_ = nullptr;
  size_t stack_size_ = 0;
  // Started with the first child that switches user (CloneWatchdog).
  std::unique_ptr<CloneWatchdog> watchdog_;
  // Our PR_GET_DUMPABLE: a child's setuid changes it for the memory we
  // share, and we set it back.
  int dumpable_ = 1;
  // Each forked child's failure pipe (our non-blocking read end), until it
  // is reaped.
  std::map<pid_t, UniqueFd> failure_pipes_;
  // The next forked child's failure pipe, opened ahead (at construction
  // and after each fork) as the report pipe is before accept: a child
  // forked when descriptors have run out still reports why it could not
  // start.
  struct FailurePipe {
    UniqueFd read_end, write_end;
  };
  static FailurePipe OpenFailurePipe();
  FailurePipe spare_failure_pipe_;
  // Each running child's own mount namespace (HoldMountNamespace).
  std::map<pid_t, UniqueFd> held_mounts_;
};

}  // namespace yinetd::spawn
