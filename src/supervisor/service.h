// Service: one configured service as the supervisor runs it.
//
// A Service holds what every connection needs, prepared once at load (argv
// and its pointer array, the config in the spawner's terms), and shares its
// ServiceState with the Services of the same name before and after a
// reload. Children keep a shared_ptr to
// the Service they started under, so their exit is logged and counted
// under it whatever happens to the config later.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "builtin/builtin.h"
#include "config/config.h"
#include "sandbox/sandbox.h"
#include "spawn/child_env.h"
#include "spawn/credentials.h"
#include "spawn/process_controls.h"
#include "spawn/spawner.h"
#include "supervisor/limits.h"
#include "supervisor/metrics.h"
#include "tls/context.h"

namespace yinetd::supervisor {

// What lives as long as the service's name does: its admission state and
// its counts. Written only by Children::Started, Children::Ended and
// Children::Refused.
struct ServiceState {
  explicit ServiceState(const config::Limits& limits) : gate(limits) {}
  ServiceGate gate;
  ServiceCounts counts;
  // With tls:, the context every connection's front is forked with;
  // replaced at each reload (supervisor/tls_service.h) while fronts already
  // running keep theirs. nullptr: none could be built yet.
  std::shared_ptr<const tls::ServerContext> tls;
};

struct Service {
  // A new service with a state of its own, or (`state` set) the next config
  // of a service that keeps its state across a reload.
  explicit Service(config::ServiceConfig service_config, std::shared_ptr<ServiceState> state = nullptr);
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  const std::string& Name() const { return config.name; }
  int Running() const { return state->counts.running; }

  const config::ServiceConfig config;
  std::vector<std::string> argv;
  std::vector<char*> argv_ptrs;  // points into argv; NULL-terminated
  const builtin::Builtin* builtin;  // nullptr: runs config.program
  std::string program_text;         // the program, or "builtin:NAME", for logs
  // The config as the spawner takes it (spawn/), translated here once
  // rather than for each connection.
  const spawn::ServiceEnv env;
  const std::optional<spawn::Credentials> credentials;  // unset: keep ours
  const spawn::ProcessControls controls;
  const spawn::StderrTarget stderr_target;
  // Its sandbox, prepared by the supervisor right after construction;
  // nullptr when it has none.
  std::unique_ptr<sandbox::Prepared> sandbox;
  const std::shared_ptr<ServiceState> state;
};

}  // namespace yinetd::supervisor
