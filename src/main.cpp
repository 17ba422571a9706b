// yinetd: command line, wiring, exit codes; nothing else.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "config/capabilities.h"
#include "config/host.h"
#include "config/loader.h"
#include "log/events.h"
#include "spawn/spawner.h"
#include "supervisor/supervisor.h"
#include "sys/signal_pipe.h"
#include "sys/sys_error.h"
#include "systemd/activation.h"
#include "systemd/journal.h"
#include "systemd/notify.h"
#include "tls/context.h"
#include "version.h"

namespace {

using namespace yinetd;

// Exit codes, documented in README.md.
constexpr int kExitOk = 0;
constexpr int kExitConfig = 1;
constexpr int kExitUsage = 2;
constexpr int kExitStartup = 3;

struct Options {
  std::string config_file = "/etc/yinetd/yinetd.yaml";
  bool check = false;
  bool reload = false;
  std::string log_level;
  std::string pidfile;
};

// Writes our pid to `path` and removes the file again when destroyed.
class PidFile {
 public:
  explicit PidFile(std::string path) : path_(std::move(path)) {
    if (path_.empty()) return;
    std::ofstream out(path_);
    out << getpid() << "\n";
    if (!out) throw SysError("write pidfile " + path_, errno);
  }
  ~PidFile() {
    if (!path_.empty()) unlink(path_.c_str());
  }
  PidFile(const PidFile&) = delete;
  PidFile& operator=(const PidFile&) = delete;

 private:
  std::string path_;
};

// --reload: SIGHUP to the instance named by the pidfile.
int SendReload(const std::string& pidfile) {
  std::ifstream in(pidfile);
  pid_t pid = 0;
  if (!(in >> pid) || pid <= 0) {
    std::cerr << "yinetd: --reload: cannot read a pid from " << pidfile << "\n";
    return kExitStartup;
  }
  if (kill(pid, SIGHUP) != 0) {
    std::cerr << "yinetd: --reload: kill -HUP " << pid << ": " << ErrnoText(errno) << "\n";
    return kExitStartup;
  }
  return kExitOk;
}

// With 0, 1 or 2 closed, the first socket we open would take its number,
// and dup2 onto itself in a child would leave it close-on-exec.
void EnsureStandardFds() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    // open() takes the lowest free number, which is `fd`. Deliberately
    // not close-on-exec: it stands in for a standard descriptor.
    [[maybe_unused]] int null_fd = open("/dev/null", O_RDWR);
  }
}

// The config, and every TLS service's certificates and keys read and
// checked (a reload checks them again, service by service, keeping the old
// context of one that fails: supervisor/tls_service.h).
config::LoadResult LoadAndCheck(const std::string& config_file, config::Host& host) {
  config::LoadResult result = config::LoadConfigFile(config_file, host);
  if (!result.config) return result;
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch()).count();
  result.problems = tls::CheckContexts(*result.config, now);
  if (!result.problems.empty()) result.config.reset();
  return result;
}

// --check's report on stdout. Under systemd (the unit's ExecStartPre) stdout
// is the journal, which ranks a line by its "<N>" prefix and would file the
// rest at info: errors carry <3> so `journalctl -p err` finds them.
int Check(const config::LoadResult& result, config::Host& host) {
  bool journal = systemd::IsJournal(STDOUT_FILENO);
  auto prefix = [journal](log::Level level) { return journal ? log::PriorityPrefix(level) : ""; };
  for (const config::Problem& problem : result.problems) {
    std::cout << prefix(log::Level::kError) << problem.where.ToString() << ": error: "
              << problem.message << "\n";
  }
  if (!result.config) {
    std::cout << prefix(log::Level::kError) << result.problems.size() << " problem(s) found\n";
    return kExitConfig;
  }
  for (const config::Problem& warning : config::MissingCapabilities(*result.config, host)) {
    std::cout << prefix(log::Level::kWarn) << warning.where.ToString() << ": warning: "
              << warning.message << "\n";
  }
  std::cout << prefix(log::Level::kInfo) << result.config->file << ": OK, "
            << result.config->services.size() << " service(s)\n";
  return kExitOk;
}

int Serve(config::Config config, std::optional<log::Level> cli_level, const std::string& pidfile) {
  log::Level level = cli_level.value_or(config.log_level.value_or(log::Level::kInfo));
  if (config.log_output == log::Output::kSyslog) log::Setup(level, log::Output::kSyslog);
  try {
    SignalPipe signals({SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1});
    spawn::ForkSpawner spawner;
    supervisor::SystemProcesses processes(spawner);
    supervisor::SteadyClock clock;
    std::string file = config.file;
    size_t services = config.services.size();
    std::vector<systemd::Adopted> passed = systemd::TakeListenSockets(config.services);
    supervisor::Supervisor supervisor(std::move(config), processes, clock, cli_level);
    for (systemd::Adopted& socket : passed) {
      supervisor.Adopt(socket.placement.service, socket.placement.address, std::move(socket.fd),
                       socket.name);
    }
    supervisor.SetConfigSource([file] {
      config::SystemHost host;
      return config::LoadConfigFile(file, host);
    });
    supervisor.Bind();
    PidFile pid_file(pidfile);
    log::Start(kVersion, file, services, supervisor.MaxChildren());
    supervisor.NotifyReady();
    return supervisor.Run(signals);
  } catch (const SysError& e) {
    log::StartupFailed(e.what());
    return kExitStartup;
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  CLI::App app{"yinetd: a superserver that runs a program for each connection"};
  app.add_option("-c,--config", options.config_file, "YAML config file")->capture_default_str();
  app.add_flag("--check", options.check, "validate the config, print every problem, start nothing");
  app.add_option("--pidfile", options.pidfile, "write our pid here (and remove it on exit)");
  app.add_flag("--reload", options.reload, "send SIGHUP to the yinetd whose pid is in --pidfile, then exit")
      ->needs(app.get_option("--pidfile"));
  app.add_option("--log-level", options.log_level, "trace, debug, info, warn or error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  app.set_version_flag("--version", std::string("yinetd ") + kVersion);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version are "errors" that exit 0; the rest are usage.
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }

  if (options.reload) return SendReload(options.pidfile);
  EnsureStandardFds();
  // An exception nothing catches ends us through terminate: write the lines
  // held since the last pass first, they are the ones nearest the cause.
  std::set_terminate([] {
    log::Flush();
    std::abort();
  });
  std::optional<log::Level> cli_level;
  if (!options.log_level.empty()) cli_level = log::ParseLevel(options.log_level);
  log::Setup(cli_level.value_or(log::Level::kInfo),
             systemd::StderrIsJournal() ? log::Output::kJournal : log::Output::kStderr);

  // Absolute, so that ./program paths in it survive the child's chdir("/").
  std::string config_file = std::filesystem::absolute(options.config_file).lexically_normal();
  config::SystemHost host;
  config::LoadResult result = LoadAndCheck(config_file, host);
  if (options.check) return Check(result, host);
  if (!result.config) {
    for (const config::Problem& problem : result.problems) log::ConfigProblem(problem.where.file,
        problem.where.line, problem.where.column, problem.message);
    return kExitConfig;
  }
  int exit_code = Serve(std::move(*result.config), cli_level, options.pidfile);
  log::Flush();  // the last lines, held since the loop's last pass
  return exit_code;
}
