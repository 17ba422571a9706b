#include "supervisor/service.h"

#include "spawn/child_env.h"

namespace yinetd::supervisor {

Service::Service(config::ServiceConfig service_config)
    : config(std::move(service_config)), argv(spawn::BuildArgv(config)), gate(config.limits) {
  argv_ptrs = spawn::ToExecArray(argv);
}

}  // namespace yinetd::supervisor
