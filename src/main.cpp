// yinetd: command line, wiring, exit codes; nothing else.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>

#include "config/host.h"
#include "config/loader.h"
#include "log/events.h"
#include "spawn/spawner.h"
#include "supervisor/supervisor.h"
#include "sys/signal_pipe.h"
#include "sys/sys_error.h"
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
  std::string log_level;
};

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

int Check(const config::LoadResult& result) {
  for (const config::Problem& problem : result.problems) {
    std::cout << problem.where.ToString() << ": error: " << problem.message << "\n";
  }
  if (!result.config) {
    std::cout << result.problems.size() << " problem(s) found\n";
    return kExitConfig;
  }
  std::cout << result.config->file << ": OK, " << result.config->services.size() << " service(s)\n";
  return kExitOk;
}

int Serve(config::Config config, std::optional<log::Level> cli_level) {
  if (!cli_level && config.log_level) log::SetLevel(*config.log_level);
  try {
    SignalPipe signals({SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1});
    spawn::ForkSpawner spawner;
    std::string file = config.file;
    size_t services = config.services.size();
    supervisor::Supervisor supervisor(std::move(config), spawner);
    supervisor.Bind();
    log::Start(kVersion, file, services, supervisor.MaxChildren());
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
  app.add_option("--log-level", options.log_level, "trace, debug, info, warn or error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  app.set_version_flag("--version", std::string("yinetd ") + kVersion);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version are "errors" that exit 0; the rest are usage.
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }

  EnsureStandardFds();
  std::optional<log::Level> cli_level;
  if (!options.log_level.empty()) cli_level = log::ParseLevel(options.log_level);
  log::Setup(cli_level.value_or(log::Level::kInfo));

  // Absolute, so that ./program paths in it survive the child's chdir("/").
  std::string config_file = std::filesystem::absolute(options.config_file).lexically_normal();
  config::SystemHost host;
  config::LoadResult result = config::LoadConfigFile(config_file, host);
  if (options.check) return Check(result);
  if (!result.config) {
    for (const config::Problem& problem : result.problems) log::ConfigProblem(problem.where.file,
        problem.where.line, problem.where.column, problem.message);
    return kExitConfig;
  }
  return Serve(std::move(*result.config), cli_level);
}
