// Spawner: one accepted connection → one running child.
//
// Everything the child needs (argv, envp, credentials) is prepared by the
// caller before fork; between fork and exec the child makes only
// async-signal-safe calls. If the child cannot start the program it writes a
// failure record to its report pipe and exits 127; the supervisor reads the
// pipe and logs the reason.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "sys/unique_fd.h"

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
};

// The pipe a child reports through: with stderr=log it carries the
// program's stderr; otherwise exec closes it. Either way a failure to start
// arrives on it as a record that ParseStartFailure recognises. Opened before
// accept, so that a lack of descriptors leaves the connection queued in the
// kernel instead of accepted and dropped.
struct ReportPipe {
  UniqueFd read_end;   // ours; non-blocking
  UniqueFd write_end;  // the child's; blocking, as a program's stderr must be
};

// A failed call and its errno; `call` is nullptr on success. Returned, not
// thrown: these failures are routine under load.
struct SysResult {
  const char* call = nullptr;
  int err = 0;
  bool Ok() const { return call == nullptr; }
};

SysResult OpenReportPipe(ReportPipe& pipe);

class Spawner {
 public:
  virtual ~Spawner() = default;
  // Starts the child and sets `pid`. Closes `pipe.write_end` either way.
  virtual SysResult Spawn(const ChildSpec& spec, ReportPipe& pipe, pid_t& pid) = 0;
};

// fork + exec.
class ForkSpawner : public Spawner {
 public:
  SysResult Spawn(const ChildSpec& spec, ReportPipe& pipe, pid_t& pid) override;
};

// A start failure as the child reports it: the step that failed (exec,
// setuid, ...) and its errno.
struct StartFailure {
  std::string step;
  int err = 0;
};

// Recognises a failure record: one line of a report pipe's output, with or
// without its newline.
std::optional<StartFailure> ParseStartFailure(std::string_view data);

}  // namespace yinetd::spawn
