#include "log/events.h"

#include <string.h>
#include <sys/wait.h>

#include <spdlog/details/null_mutex.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/spdlog.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

#include "log/logfmt.h"
#include "sys/sys_error.h"

namespace yinetd::log {
namespace {

spdlog::level::level_enum ToSpdlog(Level level) {
  switch (level) {
    case Level::kTrace: return spdlog::level::trace;
    case Level::kDebug: return spdlog::level::debug;
    case Level::kInfo: return spdlog::level::info;
    case Level::kWarn: return spdlog::level::warn;
    case Level::kError: return spdlog::level::err;
  }
  return spdlog::level::info;
}

Output output = Output::kStderr;

Level FromSpdlog(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace: return Level::kTrace;
    case spdlog::level::debug: return Level::kDebug;
    case spdlog::level::info: return Level::kInfo;
    case spdlog::level::warn: return Level::kWarn;
    default: return Level::kError;
  }
}

void Emit(spdlog::level::level_enum level, const Line& line) {
  if (output == Output::kJournal) {
    spdlog::log(level, "{}{}", PriorityPrefix(FromSpdlog(level)), line.Text());
    return;
  }
  spdlog::log(level, "{}", line.Text());
}

// Lines for stderr, held until Flush(): the loop flushes once a pass,
// before it sleeps, so a busy pass costs one write(2) instead of one per
// line. Warnings and errors flush at once (flush_on), with what came before.
class PassBufferedStderr : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
 public:
  ~PassBufferedStderr() override { flush_(); }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    formatter_->format(msg, pending_);
    if (pending_.size() >= kMaxPending) flush_();
  }

  void flush_() override {
    const char* data = pending_.data();
    size_t left = pending_.size();
    while (left > 0) {
      ssize_t n = write(STDERR_FILENO, data, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // nowhere to report a broken stderr
      data += n;
      left -= static_cast<size_t>(n);
    }
    pending_.clear();
  }

 private:
  static constexpr size_t kMaxPending = 64 * 1024;
  spdlog::memory_buf_t pending_;
};

// `level=` in our own words: spdlog would print warning and critical,
// where --log-level, log.level and the README say warn and error.
class LevelFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    std::string_view name = LevelName(FromSpdlog(msg.level));
    dest.append(name.data(), name.data() + name.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<LevelFlag>(); }
};

Line ServiceLine(std::string_view event, std::string_view service) {
  Line line(event);
  if (!service.empty()) line.Add("service", service);
  return line;
}

}  // namespace

std::optional<Level> ParseLevel(std::string_view name) {
  if (name == "trace") return Level::kTrace;
  if (name == "debug") return Level::kDebug;
  if (name == "info") return Level::kInfo;
  if (name == "warn" || name == "warning") return Level::kWarn;
  if (name == "error") return Level::kError;
  return std::nullopt;
}

void Setup(Level level, Output to) {
  output = to;
  std::shared_ptr<spdlog::logger> logger;
  if (to == Output::kSyslog) {
    logger = std::make_shared<spdlog::logger>(
        "yinetd", std::make_shared<spdlog::sinks::syslog_sink_st>("yinetd", LOG_PID, LOG_DAEMON, true));
    logger->set_pattern("%v");  // syslog stamps and ranks each line itself
  } else {
    logger = std::make_shared<spdlog::logger>("yinetd", std::make_shared<PassBufferedStderr>());
    if (to == Output::kJournal) {
      logger->set_pattern("%v");
    } else {
      auto formatter = std::make_unique<spdlog::pattern_formatter>();
      formatter->add_flag<LevelFlag>('*').set_pattern("ts=%Y-%m-%dT%H:%M:%S.%e%z level=%* %v");
      logger->set_formatter(std::move(formatter));
    }
    logger->flush_on(spdlog::level::warn);
  }
  spdlog::set_default_logger(logger);
  SetLevel(level);
  // A descriptor that will not close is worth a line (it may be leaking);
  // src/sys reports it through this, since it cannot log itself.
  SetCloseFailureReporter(
      [](int fd, int err) { SyscallFailed("", "close", "fd=" + std::to_string(fd), err); });
}

std::string_view PriorityPrefix(Level level) {
  switch (level) {
    case Level::kTrace:
    case Level::kDebug: return "<7>";
    case Level::kInfo: return "<6>";
    case Level::kWarn: return "<4>";
    case Level::kError: return "<3>";
  }
  return "<6>";
}

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kTrace: return "trace";
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "info";
}

namespace {
Level current_level = Level::kInfo;
}  // namespace

void SetLevel(Level level) {
  current_level = level;
  spdlog::set_level(ToSpdlog(level));
}

Level CurrentLevel() { return current_level; }

void Flush() { spdlog::default_logger_raw()->flush(); }

void Start(std::string_view version, std::string_view config_file, size_t services,
           int max_children, std::string_view sandbox) {
  Emit(spdlog::level::info, Line("start")
                                .Add("version", version)
                                .Add("config", config_file)
                                .Add("services", services)
                                .Add("max_children", max_children)
                                .Add("sandbox", sandbox));
}

void Listen(std::string_view service, std::string_view addr) {
  Emit(spdlog::level::info, ServiceLine("listen", service).Add("addr", addr));
}

void Adopt(std::string_view service, std::string_view addr, int fd, std::string_view name) {
  Emit(spdlog::level::info,
       ServiceLine("adopt", service).Add("addr", addr).Add("fd", fd).Add("fdname", name));
}

void UnmatchedSocket(int fd, std::string_view name, std::string_view addr, std::string_view reason) {
  Line line("unmatched_socket");
  line.Add("fd", fd).Add("fdname", name);
  if (!addr.empty()) line.Add("addr", addr);
  Emit(spdlog::level::err, line.Add("reason", reason));
}

void Accept(std::string_view service, pid_t pid, std::string_view peer, std::string_view via) {
  Line line = ServiceLine("accept", service);
  line.Add("pid", pid).Add("peer", peer);
  if (!via.empty()) line.Add("via", via);
  Emit(spdlog::level::info, line);
}

void BacklogClamped(std::string_view service, std::string_view addr, int requested, int used) {
  Emit(spdlog::level::warn, ServiceLine("backlog_clamped", service)
                                .Add("addr", addr)
                                .Add("backlog", requested)
                                .Add("somaxconn", used));
}

void Exit(std::string_view service, pid_t pid, std::string_view peer, int wait_status,
          int64_t duration_ms, int64_t cpu_ms, int64_t maxrss_kb, std::string_view reason,
          std::string_view via, const TlsFacts& tls) {
  Line line = ServiceLine("exit", service);
  line.Add("pid", pid).Add("peer", peer);
  if (!via.empty()) line.Add("via", via);
  if (WIFSIGNALED(wait_status)) {
    line.Add("signal", SignalName(WTERMSIG(wait_status)));
  } else {
    line.Add("status", WEXITSTATUS(wait_status));
  }
  line.Add("duration_ms", duration_ms).Add("cpu_ms", cpu_ms).Add("maxrss_kb", maxrss_kb);
  if (!reason.empty()) line.Add("reason", reason);
  if (!tls.version.empty()) line.Add("tls", tls.version).Add("ktls", tls.ktls);
  if (!tls.client.empty()) line.Add("client", tls.client);
  Emit(spdlog::level::info, line);
}

void TlsError(std::string_view service, pid_t pid, std::string_view peer, std::string_view reason,
              std::string_view detail) {
  Line line = ServiceLine("tls_error", service);
  line.Add("pid", pid).Add("peer", peer).Add("reason", reason);
  if (!detail.empty()) line.Add("detail", detail);
  Emit(spdlog::level::warn, line);
}

void TlsErrorsSuppressed(std::string_view service, std::string_view reason, long count) {
  Emit(spdlog::level::warn,
       ServiceLine("tls_error", service).Add("reason", reason).Add("suppressed", count));
}

void TlsReload(std::string_view service, std::string_view trigger, int64_t not_after, int64_t now) {
  time_t t = static_cast<time_t>(not_after);
  tm utc{};
  gmtime_r(&t, &utc);
  char when[32];
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &utc);
  int64_t days = (not_after - now) / 86400;
  Line line = ServiceLine("tls_reload", service);
  line.Add("result", "ok").Add("trigger", trigger).Add("not_after", std::string_view(when));
  if (days < kExpiryWarningDays) {
    Emit(spdlog::level::warn, line.Add("expires_in_days", days));
  } else {
    Emit(spdlog::level::info, line);
  }
}

void TlsReloadFailed(std::string_view service, std::string_view trigger, std::string_view error,
                     bool kept_old) {
  Emit(spdlog::level::err, ServiceLine("tls_reload", service)
                               .Add("result", "error")
                               .Add("trigger", trigger)
                               .Add("error", error)
                               .Add("kept", kept_old ? "old" : "none"));
}

void Refuse(std::string_view service, std::string_view peer, std::string_view reason, std::string_view via,
            std::string_view detail) {
  Line line = ServiceLine("refuse", service);
  line.Add("peer", peer);
  if (!via.empty()) line.Add("via", via);
  line.Add("reason", reason);
  if (!detail.empty()) line.Add("detail", detail);
  Emit(spdlog::level::warn, line);
}

void RefusalsSuppressed(std::string_view service, std::string_view reason, long count) {
  Emit(spdlog::level::warn,
       ServiceLine("refuse", service).Add("reason", reason).Add("suppressed", count));
}

void Stderr(std::string_view service, pid_t pid, std::string_view text) {
  Emit(spdlog::level::info, ServiceLine("stderr", service).Add("pid", pid).Add("line", text));
}

void ExecFailed(std::string_view service, pid_t pid, std::string_view program,
                std::string_view step, int err) {
  Emit(spdlog::level::err, ServiceLine("exec_error", service)
                               .Add("pid", pid)
                               .Add("program", program)
                               .Add("step", step)
                               .Add("error", ErrnoText(err)));
}

void SyscallFailed(std::string_view service, std::string_view call, std::string_view target,
                   int err) {
  Line line = ServiceLine("error", service);
  line.Add("call", call);
  if (!target.empty()) line.Add("target", target);
  line.Add("error", ErrnoText(err));
  Emit(spdlog::level::err, line);
}

void Pause(std::string_view service, std::string_view addr, std::string_view reason,
           int64_t for_ms) {
  Emit(spdlog::level::warn,
       ServiceLine("pause", service).Add("addr", addr).Add("reason", reason).Add("for_ms", for_ms));
}

void Resume(std::string_view service, std::string_view addr) {
  Emit(spdlog::level::info, ServiceLine("resume", service).Add("addr", addr));
}

void Signal(int signo, std::string_view action) {
  Emit(spdlog::level::info, Line("signal").Add("signal", SignalName(signo)).Add("action", action));
}

void Shutdown(size_t children, int64_t grace_ms) {
  Emit(spdlog::level::info, Line("shutdown").Add("children", children).Add("grace_ms", grace_ms));
}

void Kill(std::string_view service, pid_t pid, int signo) {
  Emit(spdlog::level::warn,
       ServiceLine("kill", service).Add("pid", pid).Add("signal", SignalName(signo)));
}

void Stop(int exit_code) { Emit(spdlog::level::info, Line("stop").Add("exit_code", exit_code)); }

void ReloadError(std::string_view trigger, std::string_view file, int line, std::string_view message) {
  Emit(spdlog::level::err, Line("reload")
                               .Add("result", "error")
                               .Add("trigger", trigger)
                               .Add("file", file)
                               .Add("line", line)
                               .Add("msg", message));
}

void ReloadDone(std::string_view result, size_t added, size_t removed, size_t changed, size_t kept,
                const std::vector<std::string>& failures) {
  Line line("reload");
  line.Add("result", result).Add("added", added).Add("removed", removed).Add("changed", changed).Add("kept", kept);
  if (!failures.empty()) {
    std::string failed;
    for (const std::string& failure : failures) failed += (failed.empty() ? "" : "; ") + failure;
    line.Add("bind_failures", failures.size()).Add("failed", failed);
  }
  Emit(failures.empty() ? spdlog::level::info : spdlog::level::warn, line);
}

void Status(std::string_view service, size_t listeners, int running, uint64_t accepted,
            uint64_t refused, uint64_t exited) {
  Emit(spdlog::level::info, ServiceLine("status", service)
                                .Add("listeners", listeners)
                                .Add("running", running)
                                .Add("accepted", accepted)
                                .Add("refused", refused)
                                .Add("exited", exited));
}

void StartupFailed(std::string_view error) {
  Emit(spdlog::level::err, Line("startup_failed").Add("error", error));
}

void Control(std::string_view command, uid_t uid, pid_t pid, std::string_view result) {
  Line line("control");
  line.Add("command", command).Add("uid", static_cast<int64_t>(uid)).Add("pid", static_cast<int64_t>(pid)).Add("result", result);
  Emit(result == "ok" ? spdlog::level::info : spdlog::level::warn, line);
}

void ControlUnavailable(std::string_view path, std::string_view error) {
  Emit(spdlog::level::warn, Line("control_unavailable").Add("path", path).Add("error", error));
}

void ConfigProblem(std::string_view file, int line, int column, std::string_view message) {
  Emit(spdlog::level::err, Line("config_error")
                               .Add("file", file)
                               .Add("line", line)
                               .Add("column", column)
                               .Add("msg", message));
}

void ConfigWarning(std::string_view file, int line, int column, std::string_view message) {
  Emit(spdlog::level::warn, Line("config_warning")
                                .Add("file", file)
                                .Add("line", line)
                                .Add("column", column)
                                .Add("msg", message));
}

std::string SignalName(int signo) {
  const char* abbrev = sigabbrev_np(signo);
  if (abbrev == nullptr) return "SIG" + std::to_string(signo);
  return std::string("SIG") + abbrev;
}

}  // namespace yinetd::log
