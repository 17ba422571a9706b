#include "supervisor/reload_plan.h"

#include <algorithm>

namespace yinetd::supervisor {

size_t ReloadPlan::Count(Fate fate) const { return std::count(next.begin(), next.end(), fate); }

ReloadPlan Diff(const std::vector<const config::ServiceConfig*>& old_services,
                const std::vector<config::ServiceConfig>& next_services) {
  ReloadPlan plan;
  for (const config::ServiceConfig& next : next_services) {
    auto same_name = std::find_if(old_services.begin(), old_services.end(),
                                  [&](const config::ServiceConfig* old) { return old->name == next.name; });
    if (same_name == old_services.end()) {
      plan.next.push_back(ReloadPlan::Fate::kAdded);
    } else if ((*same_name)->SameSettings(next)) {
      plan.next.push_back(ReloadPlan::Fate::kKept);
    } else {
      plan.next.push_back(ReloadPlan::Fate::kChanged);
    }
  }
  for (const config::ServiceConfig* old : old_services) {
    bool still_there = std::any_of(next_services.begin(), next_services.end(),
                                   [&](const config::ServiceConfig& next) { return next.name == old->name; });
    if (!still_there) plan.removed.push_back(old->name);
  }
  return plan;
}

}  // namespace yinetd::supervisor
