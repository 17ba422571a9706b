// Service: one configured service as the supervisor runs it.
//
// Holds what every connection needs, prepared once at load (argv and its
// pointer array), and the live count of its children. Children keep a
// shared_ptr to the Service they started under, so their exit is logged
// under that name whatever happens to the config later.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "supervisor/limits.h"

namespace yinetd::supervisor {

struct Service {
  explicit Service(config::ServiceConfig service_config);
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  const config::ServiceConfig config;
  std::vector<std::string> argv;
  std::vector<char*> argv_ptrs;  // points into argv; NULL-terminated
  int running = 0;
  ServiceGate gate;
};

}  // namespace yinetd::supervisor
