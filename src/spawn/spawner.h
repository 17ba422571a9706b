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

struct Child {
  pid_t pid;
  // Read end of the child's report pipe (non-blocking): with stderr=log the
  // program's stderr; otherwise closed by exec. Either way a failure to
  // start arrives here as a record that ParseStartFailure recognises.
  UniqueFd report;
};

class Spawner {
 public:
  virtual ~Spawner() = default;
  // Throws SysError when pipe or fork fails; the caller keeps serving.
  virtual Child Spawn(const ChildSpec& spec) = 0;
};

// fork + exec.
class ForkSpawner : public Spawner {
 public:
  Child Spawn(const ChildSpec& spec) override;
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
