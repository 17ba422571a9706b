// One function per log event.
//
// Every line yinetd writes is logfmt and starts with `event=NAME`, so people
// can read it and tools can split it. README.md lists the events; keep the
// two in step. Service names are "" for events that belong to no service.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace yinetd::log {

enum class Level { kTrace, kDebug, kInfo, kWarn, kError };

// Parses trace|debug|info|warn|error.
std::optional<Level> ParseLevel(std::string_view name);

// Sends log lines to stderr, each prefixed with a timestamp and level.
void Setup(Level level);
void SetLevel(Level level);

void Start(std::string_view version, std::string_view config_file, size_t services,
           int max_children);
void Listen(std::string_view service, std::string_view addr);
void Accept(std::string_view service, pid_t pid, std::string_view peer);
// `wait_status` is what waitpid returned; `reason` is empty unless yinetd
// itself caused the exit (for example "shutdown").
void Exit(std::string_view service, pid_t pid, std::string_view peer, int wait_status,
          int64_t duration_ms, std::string_view reason);
// A connection closed without starting its program; `reason` is
// denied, max_children, max_connections, max_per_source, max_rate or
// max_rate_per_source.
void Refuse(std::string_view service, std::string_view peer, std::string_view reason);
// How many refusals RefusalLog kept out of the log in the last window.
void RefusalsSuppressed(std::string_view service, std::string_view reason, long count);
void Stderr(std::string_view service, pid_t pid, std::string_view line);
// The child could not start `program`: `step` (exec, setuid, ...) failed.
void ExecFailed(std::string_view service, pid_t pid, std::string_view program,
                std::string_view step, int err);
void SyscallFailed(std::string_view service, std::string_view call, std::string_view target,
                   int err);
void Pause(std::string_view service, std::string_view addr, std::string_view reason,
           int64_t for_ms);
void Resume(std::string_view service, std::string_view addr);
void Signal(int signo, std::string_view action);
void Shutdown(size_t children, int64_t grace_ms);
void Kill(std::string_view service, pid_t pid, int signo);
void Stop(int exit_code);
void StartupFailed(std::string_view error);
void ConfigProblem(std::string_view file, int line, int column, std::string_view message);

// "SIGTERM" for 15; "SIG42" for numbers without a name.
std::string SignalName(int signo);

}  // namespace yinetd::log
