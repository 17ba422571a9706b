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

#include "builtin/builtin.h"
#include "config/config.h"
#include "supervisor/limits.h"
#include "tls/context.h"

namespace yinetd::supervisor {

struct Service {
  explicit Service(config::ServiceConfig service_config);
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  const config::ServiceConfig config;
  std::vector<std::string> argv;
  std::vector<char*> argv_ptrs;  // points into argv; NULL-terminated
  const builtin::Builtin* builtin;  // nullptr: runs config.program
  std::string program_text;         // the program, or "builtin:NAME", for logs
  int running = 0;
  ServiceGate gate;
  // With tls:, the context every connection's front uses; replaced at each
  // reload (supervisor/tls_service.h), while fronts already running keep the
  // one they were forked with. nullptr: none could be built yet.
  std::shared_ptr<const tls::ServerContext> tls;

  // Since yinetd started; carried over when a reload changes the service.
  struct Totals {
    uint64_t accepted = 0;
    uint64_t refused = 0;
    uint64_t exited = 0;
  } totals;
};

}  // namespace yinetd::supervisor
