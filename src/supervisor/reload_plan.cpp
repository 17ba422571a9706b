#include "supervisor/reload_plan.h"

#include <algorithm>

namespace yinetd::supervisor {
namespace {

using Action = ListenerStep::Action;
using Fate = ServiceStep::Fate;

ServiceStep PlanService(const std::vector<const config::ServiceConfig*>& old_services,
                        const config::ServiceConfig& next) {
  ServiceStep step;
  auto same_name = std::find_if(old_services.begin(), old_services.end(),
                                [&](const config::ServiceConfig* old) { return old->name == next.name; });
  if (same_name == old_services.end()) return step;  // kAdded
  const config::ServiceConfig& old = **same_name;
  step.old_index = static_cast<size_t>(same_name - old_services.begin());
  step.fate = old.SameSettings(next) ? Fate::kKept : Fate::kChanged;
  const config::Limits& had = old.limits;
  const config::Limits& wants = next.limits;
  bool same_prefixes = had.source_prefix_v4 == wants.source_prefix_v4 &&
                       had.source_prefix_v6 == wants.source_prefix_v6;
  step.keep_rate_bucket = had.max_rate == wants.max_rate;
  step.keep_source_buckets = had.max_rate_per_source == wants.max_rate_per_source && same_prefixes;
  step.recount_sources = !same_prefixes;
  return step;
}

}  // namespace

bool NeedsNewSocket(const config::SocketOptions& had, const config::SocketOptions& wants) {
  return had.ipv6_only != wants.ipv6_only || had.reuseport != wants.reuseport ||
         had.freebind != wants.freebind;
}

size_t ReloadPlan::Count(Fate fate) const {
  return std::count_if(services.begin(), services.end(), [&](const ServiceStep& s) { return s.fate == fate; });
}

size_t ReloadPlan::Count(Action action) const {
  return std::count_if(listeners.begin(), listeners.end(),
                       [&](const ListenerStep& l) { return l.action == action; });
}

ReloadPlan PlanReload(const std::vector<const config::ServiceConfig*>& old_services,
                      const std::vector<OpenListener>& open_listeners,
                      const std::vector<config::ServiceConfig>& next_services) {
  ReloadPlan plan;
  std::vector<bool> matched(open_listeners.size(), false);
  for (size_t s = 0; s < next_services.size(); ++s) {
    const config::ServiceConfig& next = next_services[s];
    plan.services.push_back(PlanService(old_services, next));
    for (size_t a = 0; a < next.listen.size(); ++a) {
      ListenerKey key{next.listen[a], next.protocol};
      ListenerStep step{Action::kOpen, std::nullopt, s, a};
      for (size_t i = 0; i < open_listeners.size(); ++i) {
        const OpenListener& open = open_listeners[i];
        if (matched[i] || !(open.key == key)) continue;
        matched[i] = true;
        step.old_index = i;
        if (key.address.IsInet() && NeedsNewSocket(open.options, next.socket)) {
          step.action = Action::kReplace;
        } else if (open.options == next.socket && open.mode == next.mode) {
          step.action = Action::kKeep;
        } else {
          step.action = Action::kUpdate;
        }
        break;
      }
      plan.listeners.push_back(step);
    }
  }
  for (size_t i = 0; i < open_listeners.size(); ++i) {
    if (!matched[i]) plan.listeners.push_back(ListenerStep{Action::kClose, i, 0, 0});
  }
  for (const config::ServiceConfig* old : old_services) {
    bool still_there = std::any_of(next_services.begin(), next_services.end(),
                                   [&](const config::ServiceConfig& next) { return next.name == old->name; });
    if (!still_there) plan.removed.push_back(old->name);
  }
  return plan;
}

}  // namespace yinetd::supervisor
