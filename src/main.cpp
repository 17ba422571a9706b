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
#include "control/client.h"
#include "control/server.h"
#include "import/reader.h"
#include "log/events.h"
#include "spawn/spawner.h"
#include "supervisor/supervisor.h"
#include "sys/signal_pipe.h"
#include "sandbox/probe.h"
#include "sandbox/sandbox.h"
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
  std::string control_socket;  // overrides the config's `control:`
  // yinetd ctl
  std::string ctl_socket = config::kDefaultControlSocket;
  std::string ctl_command;
  bool ctl_json = false;
  // yinetd import
  std::string import_path;
};

// `yinetd ctl` cannot reach yinetd, or gets no answer.
constexpr int kExitUnreachable = 3;

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

// Sends `request` to the control socket at `path` and prints the answer;
// returns the answer's exit status.
int AskControl(const std::string& path, const control::Request& request) {
  auto answer = control::Ask(path, request);
  if (auto* error = std::get_if<std::string>(&answer)) {
    std::cerr << "yinetd ctl: " << *error << "\n";
    return kExitUnreachable;
  }
  const control::Answer& got = std::get<control::Answer>(answer);
  (got.exit_status == control::kExitOk ? std::cout : std::cerr) << got.text << std::flush;
  return got.exit_status;
}

int RunCtl(const Options& options) {
  control::Request request{*control::CommandNamed(options.ctl_command), options.ctl_json};
  if (request.json && !control::HasJson(request.command)) {
    std::cerr << "yinetd ctl: --json is for status and connections\n";
    return kExitUsage;
  }
  return AskControl(options.ctl_socket, request);
}

// Whether `pid` is a yinetd serving `config_file`: its executable is
// named yinetd and its command line names that config (or none, for the
// default). A stale pid file may name any process.
bool ServesConfig(pid_t pid, const std::string& config_file) {
  std::string proc = "/proc/" + std::to_string(pid);
  std::error_code error;
  std::filesystem::path exe = std::filesystem::read_symlink(proc + "/exe", error);
  if (error || exe.filename() != "yinetd") return false;
  std::ifstream in(proc + "/cmdline");
  std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> args;
  for (size_t start = 0; start < cmdline.size();) {
    size_t end = cmdline.find('\0', start);
    if (end == std::string::npos) end = cmdline.size();
    args.push_back(cmdline.substr(start, end - start));
    start = end + 1;
  }
  std::string named = "/etc/yinetd/yinetd.yaml";
  for (size_t i = 1; i < args.size(); ++i) {
    if ((args[i] == "-c" || args[i] == "--config") && i + 1 < args.size()) named = args[i + 1];
    if (args[i].rfind("--config=", 0) == 0) named = args[i].substr(9);
  }
  // A relative name is relative to that process's working directory.
  std::filesystem::path cwd = std::filesystem::read_symlink(proc + "/cwd", error);
  std::filesystem::path full = std::filesystem::path(named).is_absolute() ? std::filesystem::path(named) : cwd / named;
  return std::filesystem::weakly_canonical(full, error) == std::filesystem::weakly_canonical(config_file, error);
}

// Whether the yinetd answering on `socket` serves `config_file` (its
// status names the file).
bool ControlServes(const std::string& socket, const std::string& config_file) {
  auto answer = control::Ask(socket, control::Request{control::Command::kStatus, false}, std::chrono::seconds(10));
  auto* got = std::get_if<control::Answer>(&answer);
  if (got == nullptr) return false;
  std::string first_line = got->text.substr(0, got->text.find('\n'));
  std::string_view marker = ", config ";
  size_t at = first_line.rfind(marker);
  return at != std::string::npos && first_line.substr(at + marker.size()) == config_file;
}

// --reload: through the control socket when yinetd has one (the outcome is
// printed, exit status as `yinetd ctl reload`); otherwise SIGHUP to the pid
// in --pidfile, once that pid is known to be a yinetd serving this config.
int SendReload(const Options& options, const std::string& config_file) {
  std::string socket = options.control_socket;
  if (socket.empty()) {
    config::SystemHost host;
    config::LoadResult result = config::LoadConfigFile(config_file, host);
    socket = result.config ? result.config->control_socket : config::kDefaultControlSocket;
  }
  if (!socket.empty() && access(socket.c_str(), F_OK) == 0) {
    if (ControlServes(socket, config_file)) return AskControl(socket, control::Request{control::Command::kReload, false});
    std::cerr << "yinetd: --reload: the yinetd at " << socket << " does not serve " << config_file << "\n";
    if (options.pidfile.empty()) return kExitStartup;
  }
  if (options.pidfile.empty()) {
    std::cerr << "yinetd: --reload: no control socket at " << (socket.empty() ? "(control: false)" : socket)
              << ", and no --pidfile\n";
    return kExitStartup;
  }
  std::ifstream in(options.pidfile);
  pid_t pid = 0;
  if (!(in >> pid) || pid <= 0) {
    std::cerr << "yinetd: --reload: cannot read a pid from " << options.pidfile << "\n";
    return kExitStartup;
  }
  if (!ServesConfig(pid, config_file)) {
    std::cerr << "yinetd: --reload: pid " << pid << " (from " << options.pidfile
              << ") is not a yinetd serving " << config_file << "; not signalled\n";
    return kExitStartup;
  }
  if (kill(pid, SIGHUP) != 0) {
    std::cerr << "yinetd: --reload: kill -HUP " << pid << ": " << ErrnoText(errno) << "\n";
    return kExitStartup;
  }
  return kExitOk;
}

int RunImport(const std::string& path) {
  std::string error;
  std::optional<std::string> yaml = import::ImportPath(path, error);
  if (!yaml) {
    std::cerr << "yinetd import: " << error << "\n";
    return kExitConfig;
  }
  std::cout << *yaml;
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
  std::vector<config::Problem> warnings = result.warnings;
  for (config::Problem& warning : config::MissingCapabilities(*result.config, host)) {
    warnings.push_back(std::move(warning));
  }
  for (const config::Problem& warning : warnings) {
    std::cout << prefix(log::Level::kWarn) << warning.where.ToString() << ": warning: "
              << warning.message << "\n";
  }
  std::cout << prefix(log::Level::kInfo) << result.config->file << ": OK, "
            << result.config->services.size() << " service(s)\n";
  return kExitOk;
}

// The control socket, or none: with `control: false`, or when the default
// path cannot be used (yinetd not run as root, say), which is logged. A
// path written in the config or on the command line that fails is fatal.
std::unique_ptr<control::Server> OpenControl(const std::string& path) {
  if (path.empty()) return nullptr;
  try {
    return std::make_unique<control::Server>(path);
  } catch (const SysError& e) {
    if (path != config::kDefaultControlSocket) throw;
    log::ControlUnavailable(path, e.what());
    return nullptr;
  }
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
    std::string config_socket = config.control_socket;
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
    supervisor.SetControl(OpenControl(config_socket), kVersion);
    PidFile pid_file(pidfile);
    log::Start(kVersion, file, services, supervisor.MaxChildren(),
               sandbox::OfferedMechanisms(sandbox::ProbeKernel()));
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
  app.add_flag("--reload", options.reload,
               "reload the running yinetd through its control socket (or SIGHUP to the pid in --pidfile)");
  app.add_option("--control-socket", options.control_socket,
                 "serve the control socket here (overrides the config's control:)");
  app.add_option("--log-level", options.log_level, "trace, debug, info, warn or error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  app.set_version_flag("--version", std::string("yinetd ") + kVersion);
  CLI::App* ctl = app.add_subcommand("ctl", "ask a running yinetd, over its control socket");
  ctl->add_option("--socket", options.ctl_socket, "the control socket")->capture_default_str();
  ctl->add_option("command", options.ctl_command, "status, connections, reload, check or dump")
      ->required()
      ->check(CLI::IsMember({"status", "connections", "reload", "check", "dump"}));
  ctl->add_flag("--json", options.ctl_json, "status and connections as JSON");
  CLI::App* import = app.add_subcommand("import", "print yinetd YAML for an inetd.conf or xinetd config");
  import->add_option("path", options.import_path, "inetd.conf, xinetd.conf, a file or directory of xinetd.d")
      ->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version are "errors" that exit 0; the rest are usage.
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }

  if (ctl->parsed()) return RunCtl(options);
  if (import->parsed()) return RunImport(options.import_path);
  if (options.reload) {
    return SendReload(options, std::filesystem::absolute(options.config_file).lexically_normal());
  }
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
  if (result.config && !options.control_socket.empty()) result.config->control_socket = options.control_socket;
  if (!result.config) {
    for (const config::Problem& problem : result.problems) log::ConfigProblem(problem.where.file,
        problem.where.line, problem.where.column, problem.message);
    return kExitConfig;
  }
  for (const config::Problem& warning : result.warnings) {
    log::ConfigWarning(warning.where.file, warning.where.line, warning.where.column, warning.message);
  }
  int exit_code = Serve(std::move(*result.config), cli_level, options.pidfile);
  log::Flush();  // the last lines, held since the loop's last pass
  return exit_code;
}
