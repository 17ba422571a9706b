// ReloadPlan: what a reload keeps, changes, adds and removes.
//
// A pure function of the old and the new services, in the spirit of OpenBSD
// inetd's mark-and-sweep but without the sockets: the Supervisor applies
// the plan. Services are matched by name; listeners by address, separately,
// so a socket survives even when its service is renamed or changed.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"

namespace yinetd::supervisor {

struct ReloadPlan {
  enum class Fate { kKept, kChanged, kAdded };
  std::vector<Fate> next;            // one per new service, in order
  std::vector<std::string> removed;  // names of old services that are gone

  size_t Count(Fate fate) const;
};

ReloadPlan Diff(const std::vector<const config::ServiceConfig*>& old_services,
                const std::vector<config::ServiceConfig>& next_services);

}  // namespace yinetd::supervisor
