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
#include <vector>

namespace yinetd::log {

enum class Level { kTrace, kDebug, kInfo, kWarn, kError };

// Parses trace|debug|info|warn|error.
std::optional<Level> ParseLevel(std::string_view name);

// Where lines go. kStderr: each prefixed with a timestamp and level.
// kJournal: stderr is the journal, which stamps lines itself, so each line
// starts with its syslog priority ("<6>") instead (sd-daemon(3)).
// kSyslog: syslog(3), ident "yinetd", facility daemon.
enum class Output { kStderr, kJournal, kSyslog };

// Lines to stderr are held until Flush() (warnings and errors are written
// at once): the loop flushes before each poll, and at exit.
void Setup(Level level, Output output = Output::kStderr);
void Flush();
void SetLevel(Level level);
Level CurrentLevel();
// The syslog priority prefix for a level: "<3>" for error.
std::string_view PriorityPrefix(Level level);

// `sandbox`: the mechanisms the kernel offers a sandbox ("landlock,seccomp").
void Start(std::string_view version, std::string_view config_file, size_t services,
           int max_children, std::string_view sandbox);
void Listen(std::string_view service, std::string_view addr);
// A socket passed by systemd (fd `fd`, FileDescriptorName `name`) serves
// `addr` of `service` instead of one yinetd binds.
void Adopt(std::string_view service, std::string_view addr, int fd, std::string_view name);
// A passed socket that no service takes; it is closed.
void UnmatchedSocket(int fd, std::string_view name, std::string_view addr, std::string_view reason);
// Behind a load balancer (proxy_protocol), `peer` is the client its header
// named and `via` the balancer; `via` is empty otherwise.
void Accept(std::string_view service, pid_t pid, std::string_view peer, std::string_view via = "");
// A service's backlog is above net.core.somaxconn: the kernel uses `used`.
void BacklogClamped(std::string_view service, std::string_view addr, int requested, int used);
// `wait_status` is what waitpid returned; `reason` is empty unless yinetd
// itself caused the exit (for example "shutdown").
// `cpu_ms` (user + system) and `maxrss_kb`: what the child used, as wait4
// reports it.
// What a TLS connection's exit line adds: the version ("1.3"), the client
// certificate's subject ("" without one) and whether kernel TLS carried the
// records (send+recv, send, recv or off).
struct TlsFacts {
  std::string_view version;
  std::string_view client;
  std::string_view ktls;
};
void Exit(std::string_view service, pid_t pid, std::string_view peer, int wait_status,
          int64_t duration_ms, int64_t cpu_ms, int64_t maxrss_kb, std::string_view reason,
          std::string_view via = "",
          const TlsFacts& tls = {});
// A TLS handshake that failed (or a client allow_client refused); `reason`
// is one word (handshake_timeout, no_client_cert, ...), `detail` OpenSSL's.
void TlsError(std::string_view service, pid_t pid, std::string_view peer, std::string_view reason,
              std::string_view detail);
// How many tls_error lines were kept out of the log in the last window.
void TlsErrorsSuppressed(std::string_view service, std::string_view reason, long count);
// A service's TLS context was built (`result` ok) or could not be and the
// old one serves on (`result` error, with `error`). `not_after`: the soonest
// certificate expiry, seconds since the epoch. Warns instead when that is
// within `kExpiryWarningDays`.
inline constexpr int kExpiryWarningDays = 14;
void TlsReload(std::string_view service, std::string_view trigger, int64_t not_after, int64_t now);
void TlsReloadFailed(std::string_view service, std::string_view trigger, std::string_view error,
                     bool kept_old);
// A connection closed without starting its program; `reason` is
// denied, max_children, max_connections, max_per_source, max_rate or
// max_rate_per_source; on proxy_protocol services also proxy_untrusted,
// proxy_invalid (`detail` says what was wrong), proxy_timeout,
// proxy_busy (too many headers awaited) and listener_closed (a reload
// removed the listener a header was awaited on).
void Refuse(std::string_view service, std::string_view peer, std::string_view reason,
            std::string_view via = "", std::string_view detail = "");
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
// A reload (by `trigger`: SIGHUP or watch) that kept the old config.
void ReloadError(std::string_view trigger, std::string_view file, int line, std::string_view message);
// result is ok, or partial when addresses could not be opened or changed:
// `failures` holds one "ADDR: error" each, and those keep their old socket.
void ReloadDone(std::string_view result, size_t added, size_t removed, size_t changed, size_t kept,
                const std::vector<std::string>& failures);
// One service's line of the SIGUSR1 snapshot.
void Status(std::string_view service, size_t listeners, int running, uint64_t accepted,
            uint64_t refused, uint64_t exited);
void StartupFailed(std::string_view error);
// One request on the control socket (yinetd ctl) from the peer `uid`/`pid`:
// `command` is "" for a request that could not be parsed; `result` is ok,
// denied, bad_request, incomplete or timeout.
void Control(std::string_view command, uid_t uid, pid_t pid, std::string_view result);
// The control socket could not be opened; yinetd serves without it.
void ControlUnavailable(std::string_view path, std::string_view error);
// The name `level=` shows: trace, debug, info, warn, error (as --log-level takes them).
std::string_view LevelName(Level level);
void ConfigProblem(std::string_view file, int line, int column, std::string_view message);
// A config that loads but will likely fail at run time (at startup and on
// each reload; --check prints the same as "warning:").
void ConfigWarning(std::string_view file, int line, int column, std::string_view message);

// "SIGTERM" for 15; "SIG42" for numbers without a name.
std::string SignalName(int signo);

}  // namespace yinetd::log
