#include "log/events.h"

#include <string.h>
#include <sys/wait.h>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

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

void Emit(spdlog::level::level_enum level, const Line& line) {
  spdlog::log(level, "{}", line.Text());
}

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

void Setup(Level level) {
  // Unbuffered stderr, one write per line: lines from a crash are not lost.
  auto logger = spdlog::stderr_logger_st("yinetd");
  logger->set_pattern("ts=%Y-%m-%dT%H:%M:%S.%e%z level=%l %v");
  spdlog::set_default_logger(logger);
  SetLevel(level);
}

void SetLevel(Level level) { spdlog::set_level(ToSpdlog(level)); }

void Start(std::string_view version, std::string_view config_file, size_t services,
           int max_children) {
  Emit(spdlog::level::info, Line("start")
                                .Add("version", version)
                                .Add("config", config_file)
                                .Add("services", services)
                                .Add("max_children", max_children));
}

void Listen(std::string_view service, std::string_view addr) {
  Emit(spdlog::level::info, ServiceLine("listen", service).Add("addr", addr));
}

void Accept(std::string_view service, pid_t pid, std::string_view peer) {
  Emit(spdlog::level::info, ServiceLine("accept", service).Add("pid", pid).Add("peer", peer));
}

void Exit(std::string_view service, pid_t pid, std::string_view peer, int wait_status,
          int64_t duration_ms, std::string_view reason) {
  Line line = ServiceLine("exit", service);
  line.Add("pid", pid).Add("peer", peer);
  if (WIFSIGNALED(wait_status)) {
    line.Add("signal", SignalName(WTERMSIG(wait_status)));
  } else {
    line.Add("status", WEXITSTATUS(wait_status));
  }
  line.Add("duration_ms", duration_ms);
  if (!reason.empty()) line.Add("reason", reason);
  Emit(spdlog::level::info, line);
}

void Refuse(std::string_view service, std::string_view peer, std::string_view reason) {
  Emit(spdlog::level::warn, ServiceLine("refuse", service).Add("peer", peer).Add("reason", reason));
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

void StartupFailed(std::string_view error) {
  Emit(spdlog::level::critical, Line("startup_failed").Add("error", error));
}

void ConfigProblem(std::string_view file, int line, int column, std::string_view message) {
  Emit(spdlog::level::err, Line("config_error")
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
