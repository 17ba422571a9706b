#include "supervisor/service.h"

#include "spawn/child_env.h"

namespace yinetd::supervisor {

Service::Service(config::ServiceConfig service_config)
    : config(std::move(service_config)),
      argv(spawn::BuildArgv(config)),
      builtin(builtin::Find(config.builtin)),
      program_text(config.builtin.empty() ? config.program : "builtin:" + config.builtin),
      gate(config.limits) {
  argv_ptrs = spawn::ToExecArray(argv);
}

}  // namespace yinetd::supervisor
