// What `yinetd ctl` prints: pure functions from a snapshot the supervisor
// fills, so the text and JSON are tested without a running yinetd.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "config/config.h"

namespace yinetd::control {

struct ServiceSnapshot {
  std::string name;
  std::vector<std::string> listeners;  // addresses, as the log writes them
  int running = 0;
  uint64_t accepted = 0;
  uint64_t refused = 0;
  uint64_t exited = 0;
};

struct ConnectionSnapshot {
  std::string service;
  pid_t pid = 0;
  std::string peer;  // "" for a wait-mode program, which meets its clients itself
  std::string via;   // the load balancer a PROXY header came through; "" for none
  std::string user;  // as configured; "" when it runs as yinetd's user
  int64_t age_ms = 0;
  std::string tls;         // TLS version ("1.3") once the handshake is done; "" without TLS
  std::string tls_client;  // the client certificate's subject, if it showed one
};

struct Snapshot {
  std::string version;
  std::string config_file;
  pid_t pid = 0;
  int64_t uptime_ms = 0;
  int max_children = 0;
  std::vector<ServiceSnapshot> services;
  std::vector<ConnectionSnapshot> connections;
};

// status: one line per service after a summary line; or one JSON object.
std::string StatusText(const Snapshot& snapshot);
std::string StatusJson(const Snapshot& snapshot);
// connections: a header and one line per running program; or a JSON array.
std::string ConnectionsText(const Snapshot& snapshot);
std::string ConnectionsJson(const Snapshot& snapshot);

// What a reload did, or why it was refused.
struct ReloadOutcome {
  enum class Result { kOk, kPartial, kRefused };
  Result result = Result::kOk;
  std::vector<std::string> unbound;  // kPartial: "ADDR: error" for each address not bound
  std::vector<config::Problem> problems;  // kRefused: why
  size_t added = 0, removed = 0, changed = 0, kept = 0;
};

// What a reload would do: the problems of the config on disk, or the plan.
struct CheckOutcome {
  std::vector<config::Problem> problems;
  std::vector<std::string> added, changed, kept, removed;
};

// The text and the exit status (protocol.h's kExit*) for each.
struct Printed {
  int exit_status = 0;
  std::string text;
};
Printed ReloadReport(const ReloadOutcome& outcome);
Printed CheckReport(const CheckOutcome& outcome);

// `text` as a JSON string, quotes included: control characters and
// non-ASCII bytes escaped, so a peer name or a path cannot break the object.
std::string JsonString(std::string_view text);

}  // namespace yinetd::control
