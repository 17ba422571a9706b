// The configuration as yinetd uses it: every value checked, every name
// resolved. Produced by the loader (loader.h); the rest of yinetd never sees
// YAML. Later keys are a field here plus a row in the loader's key table.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "log/events.h"
#include "net/access_list.h"
#include "net/address.h"

namespace yinetd::config {

// Where a value was written, for error messages. Lines and columns count
// from 1; 0 means "the file as a whole".
struct Location {
  std::string file;
  int line = 0;
  int column = 0;

  std::string ToString() const;  // "file:line:column"
  bool operator==(const Location&) const = default;
};

struct Problem {
  Location where;
  std::string message;

  std::string ToString() const;  // "file:line:column: message"
};

enum class StderrMode { kLog, kSocket, kNull };

// Whom the program runs as: resolved once at load, because getpwnam and
// initgroups are not async-signal-safe and must not run in the child.
struct Credentials {
  std::string user;  // as written, for logs
  uid_t uid = 0;
  gid_t gid = 0;
  bool set_uid = false;          // false: keep the supervisor's uid
  std::vector<gid_t> groups;     // supplementary groups for setgroups
  bool operator==(const Credentials&) const = default;
};

// What happens to a connection that arrives while its service (or yinetd as
// a whole) is at its limit: accepted and closed at once, or left waiting in
// the kernel's backlog until a child exits.
enum class Overflow { kRefuse, kQueue };

struct Limits {
  std::optional<int> max_connections;        // running children
  std::optional<int> max_per_source;         // running children per source
  std::optional<double> max_rate;            // connections a second
  std::optional<double> max_rate_per_source;
  int source_prefix_v4 = 32;                 // how sources are grouped
  int source_prefix_v6 = 64;
  Overflow overflow = Overflow::kRefuse;
  bool operator==(const Limits&) const = default;
};

struct ServiceConfig {
  std::string name;
  std::vector<net::Address> listen;
  std::string program;  // absolute
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  std::optional<Credentials> credentials;
  StderrMode stderr_mode = StderrMode::kLog;
  Limits limits;
  net::AccessList access;
  std::string refuse_message;  // written to a refused client; "" for none
  std::optional<std::chrono::milliseconds> timeout;  // wall clock per child
  std::chrono::milliseconds kill_grace{2'000};       // SIGTERM → SIGKILL
  Location where;  // the service's entry, for messages

  bool SameSettings(const ServiceConfig& other) const;
};

struct Config {
  std::string file;
  std::optional<log::Level> log_level;
  std::chrono::milliseconds shutdown_grace{10'000};
  std::optional<int> max_children;  // all services together; unset: derived from rlimits
  std::vector<ServiceConfig> services;
};

}  // namespace yinetd::config
