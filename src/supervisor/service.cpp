#include "supervisor/service.h"

#include "spawn/child_env.h"

namespace yinetd::supervisor {

Service::Service(config::ServiceConfig service_config, std::shared_ptr<ServiceState> shared_state)
    : config(std::move(service_config)),
      argv(spawn::BuildArgv(config)),
      builtin(builtin::Find(config.builtin)),
      program_text(config.builtin.empty() ? config.program : "builtin:" + config.builtin),
      state(shared_state ? std::move(shared_state) : std::make_shared<ServiceState>(config.limits)) {
  argv_ptrs = spawn::ToExecArray(argv);
}

}  // namespace yinetd::supervisor
