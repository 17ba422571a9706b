#include "supervisor/service.h"

#include "spawn/child_env.h"

namespace yinetd::supervisor {
namespace {

spawn::ServiceEnv EnvOf(const config::ServiceConfig& service) {
  return spawn::ServiceEnv{service.name, service.protocol == config::Protocol::kUdp, service.env,
                           service.process.clear_env};
}

std::optional<spawn::Credentials> CredentialsOf(const config::ServiceConfig& service) {
  if (!service.credentials) return std::nullopt;
  const config::Credentials& given = *service.credentials;
  return spawn::Credentials{given.uid, given.gid, given.set_uid, given.groups};
}

spawn::ProcessControls ControlsOf(const config::ProcessControls& process) {
  spawn::ProcessControls controls{process.chroot, process.chdir, process.umask, process.nice, {},
                                  process.no_new_privs};
  for (const config::ResourceLimit& limit : process.rlimits) controls.rlimits.push_back({limit.resource, limit.value});
  return controls;
}

spawn::StderrTarget StderrTargetOf(config::StderrMode mode) {
  switch (mode) {
    case config::StderrMode::kLog: return spawn::StderrTarget::kReportPipe;
    case config::StderrMode::kSocket: return spawn::StderrTarget::kConnection;
    case config::StderrMode::kNull: return spawn::StderrTarget::kNull;
  }
  return spawn::StderrTarget::kNull;
}

}  // namespace

Service::Service(config::ServiceConfig service_config, std::shared_ptr<ServiceState> shared_state)
    : config(std::move(service_config)),
      argv(spawn::BuildArgv(config.program, config.process.argv0, config.args)),
      builtin(builtin::Find(config.builtin)),
      program_text(config.builtin.empty() ? config.program : "builtin:" + config.builtin),
      env(EnvOf(config)),
      credentials(CredentialsOf(config)),
      controls(ControlsOf(config.process)),
      stderr_target(StderrTargetOf(config.stderr_mode)),
      state(shared_state ? std::move(shared_state) : std::make_shared<ServiceState>(config.limits)) {
  argv_ptrs = spawn::ToExecArray(argv);
}

}  // namespace yinetd::supervisor
