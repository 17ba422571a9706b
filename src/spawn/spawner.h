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
// are forked instead (ClonesChild): those write their failure to the report
// pipe as a record that ParseStartFailure recognises.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "builtin/builtin.h"
#include "config/config.h"
#include "spawn/clone_watchdog.h"
#include "sys/unique_fd.h"
#include "tls/front.h"

namespace yinetd::spawn {

// Exit status of a child that could not start its program (as a shell's
// "command not found").
inline constexpr int kStartFailedStatus = 127;

struct ChildSpec {
  const char* program;
  char* const* argv;  // NULL-terminated
  char* const* envp;  // NULL-terminated
  int connection_fd;  // borrowed; becomes fds 0 and 1
  config::StderrMode stderr_mode;
  int devnull_fd;     // borrowed; fd 2 for StderrMode::kNull
  const config::Credentials* credentials;  // nullptr: keep ours
  const config::ProcessControls* controls = nullptr;  // nullptr: the defaults
  // Set: the child serves this builtin on fd 0 instead of exec'ing
  // `program`, then exits 0.
  const builtin::Builtin* builtin = nullptr;
  // What the builtin serves that only we know (the metrics text); the
  // forked child has its own copy of it.
  std::string_view prepared = {};
  // Set: the child is forked as the connection's TLS front (tls/front.h),
  // which starts the program, as described by the fields above, once the
  // handshake succeeded.
  const tls::FrontSpec* tls = nullptr;
};

// The pipe a child reports through: with stderr=log it carries the
// program's stderr; a forked child writes its failure to start on it.
// Other children need none (NeedsReportPipe). Opened before accept, so that
// a lack of descriptors leaves the connection queued in the kernel instead
// of accepted and dropped.
struct ReportPipe {
  UniqueFd read_end;   // ours; non-blocking
  UniqueFd write_end;  // the child's; blocking, as a program's stderr must be
};

// Whether a child is cloned as above rather than forked. Forked are a
// builtin's (it never execs, and we would wait for it) and every child of
// an AddressSanitizer build, which cannot follow a child running in our
// memory on another stack.
bool ClonesChild(const builtin::Builtin* builtin);

// A forked child needs a report pipe for its failure to start, and a
// program whose stderr is logged needs one for that.
bool NeedsReportPipe(config::StderrMode stderr_mode, bool cloned);

// A failed call and its errno; `call` is nullptr on success. Returned, not
// thrown: these failures are routine under load.
struct SysResult {
  const char* call = nullptr;
  int err = 0;
  bool Ok() const { return call == nullptr; }
};

SysResult OpenReportPipe(ReportPipe& pipe);

// A start failure as the child reports it: the step that failed (exec,
// setuid, ...) and its errno.
struct StartFailure {
  std::string step;
  int err = 0;
};

struct Started {
  pid_t pid = -1;
  // Set: a cloned child could not start its program and has exited
  // (status kStartFailedStatus); it is still to be reaped. A forked child's
  // failure comes on its report pipe instead.
  std::optional<StartFailure> failure;
};

class Spawner {
 public:
  virtual ~Spawner() = default;
  // Starts the child. Closes `pipe.write_end` (if any) either way.
  virtual SysResult Spawn(const ChildSpec& spec, ReportPipe& pipe, Started& started) = 0;
};

// clone(CLONE_VM | CLONE_VFORK) + exec, or fork (ClonesChild).
class ForkSpawner : public Spawner {
 public:
  ForkSpawner();
  ~ForkSpawner() override;
  ForkSpawner(const ForkSpawner&) = delete;
  ForkSpawner& operator=(const ForkSpawner&) = delete;

  SysResult Spawn(const ChildSpec& spec, ReportPipe& pipe, Started& started) override;

  // The watched child being cloned right now (see CloneWatchdog), else 0.
  // For tests, from another thread, once a child that switches user has
  // been spawned.
  pid_t CloningPid() const { return watchdog_ ? watchdog_->Child() : 0; }

 private:
  SysResult CloneChild(const ChildSpec& spec, int pipe_write, Started& started);

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
};

// Recognises a failure record: one line of a report pipe's output, with or
// without its newline.
std::optional<StartFailure> ParseStartFailure(std::string_view data);

}  // namespace yinetd::spawn
