// ReloadPlan: everything a reload will do, decided before it does any of it.
//
// A pure function of what runs now (the open listeners and the services)
// and the new config, in the spirit of OpenBSD inetd's mark-and-sweep but
// without the sockets: the Supervisor only carries the plan out.
//
// Services are matched by name. A service that keeps its name keeps its
// live state (running children, per-source counts, totals) whatever else
// changes, so limits hold across a reload exactly as if none had happened;
// rate buckets carry over while their rate is unchanged.
//
// Listeners are matched by their identity, address and protocol, apart
// from services: a TCP and a UDP socket on one port are two listeners, and
// adding, removing or reordering one never touches the other. A matched
// listener keeps its socket; options that can change on a bound socket are
// changed in place, and only those that cannot (ipv6_only, reuseport,
// freebind) need a new one.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"

namespace yinetd::supervisor {

// What makes a listener the same listener across a reload.
struct ListenerKey {
  net::Address address;
  config::Protocol protocol = config::Protocol::kTcp;
  bool operator==(const ListenerKey&) const = default;
};

// An open listener as the plan sees it.
struct OpenListener {
  ListenerKey key;
  config::Mode mode = config::Mode::kNowait;
  config::SocketOptions options;
};

// Socket options that only a new socket can change.
bool NeedsNewSocket(const config::SocketOptions& had, const config::SocketOptions& wants);

struct ListenerStep {
  enum class Action {
    kKeep,     // same socket, nothing to change
    kUpdate,   // same socket, options changed in place (mode, backlog, ...)
    kReplace,  // a new socket, opened before the old one is closed
    kOpen,     // a new address
    kClose,    // an address no service has any more
  };
  Action action = Action::kOpen;
  std::optional<size_t> old_index;  // into the open listeners; not for kOpen
  size_t service = 0;               // into the new services; not for kClose
  size_t address = 0;               // into that service's listen list
};

struct ServiceStep {
  enum class Fate { kKept, kChanged, kAdded };
  Fate fate = Fate::kAdded;
  std::optional<size_t> old_index;    // the service of the same name, if any
  bool keep_rate_bucket = false;      // max_rate unchanged
  bool keep_source_buckets = false;   // max_rate_per_source and the prefixes unchanged
  bool recount_sources = false;       // source prefixes changed: count running children anew
};

struct ReloadPlan {
  std::vector<ServiceStep> services;  // one per new service, in order
  std::vector<std::string> removed;   // names of old services that are gone
  std::vector<ListenerStep> listeners;

  size_t Count(ServiceStep::Fate fate) const;
  size_t Count(ListenerStep::Action action) const;
};

ReloadPlan PlanReload(const std::vector<const config::ServiceConfig*>& old_services,
                      const std::vector<OpenListener>& open_listeners,
                      const std::vector<config::ServiceConfig>& next_services);

}  // namespace yinetd::supervisor
