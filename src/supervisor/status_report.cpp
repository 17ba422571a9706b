#include "supervisor/status_report.h"

#include <map>

#include "log/events.h"
#include "systemd/notify.h"

namespace yinetd::supervisor {

void StatusReport::Ready(size_t services, size_t running) {
  told_ = {services, running};
  told_at_ = clock_.Now();
  due_.Cancel();
  systemd::NotifyReady(systemd::StatusText(services, running));
}

void StatusReport::Stopping(size_t running) {
  stopping_ = true;
  due_.Cancel();
  systemd::NotifyStopping("stopping, " + std::to_string(running) + " running");
}

void StatusReport::Refresh(size_t services, size_t running) {
  // systemctl status shows the last STATUS=: keep its count of running
  // programs current, but send at most one a second however busy we are.
  // Compared as counts: the text is built only when it is sent.
  if (stopping_ || !systemd::NotifyEnabled()) return;
  std::pair<size_t, size_t> counts{services, running};
  if (counts == told_) {
    due_.Cancel();
    return;
  }
  TimePoint now = clock_.Now();
  if (now < told_at_ + kStatusInterval) {
    // The loop wakes for it, and refreshes again then.
    if (!due_.Armed()) due_ = timers_.Schedule(told_at_ + kStatusInterval, [] {});
    return;
  }
  systemd::NotifyStatus(systemd::StatusText(services, running));
  told_ = counts;
  told_at_ = now;
  due_.Cancel();
}

void StatusReport::LogSnapshot(const std::vector<std::shared_ptr<Service>>& services, const ListenerSet& listeners) {
  std::map<const ServiceState*, size_t> listening;
  for (const auto& listener : listeners.All()) ++listening[listener->service->state.get()];
  for (const auto& service : services) {
    const ServiceCounts& counts = service->state->counts;
    log::Status(service->Name(), listening[service->state.get()], counts.running, counts.accepted,
                counts.Refused(), counts.Exited());
  }
}

std::string StatusReport::MetricsText(const std::vector<std::shared_ptr<Service>>& services,
                                      const ProcessCounts& process) {
  std::vector<std::pair<std::string, const ServiceCounts*>> counts;
  // A cgroup's few small files, read at each scrape: kernel memory, never
  // a wait.
  std::map<std::string, sandbox::CgroupUsage, std::less<>> cgroups;
  for (const auto& service : services) {
    counts.emplace_back(service->Name(), &service->state->counts);
    if (service->sandbox && service->sandbox->cgroup) {
      cgroups[service->Name()] = sandbox::ReadUsage(service->sandbox->cgroup.Get());
    }
  }
  std::sort(counts.begin(), counts.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return Exposition(counts, process, cgroups);
}

}  // namespace yinetd::supervisor
