// StatusReport: what yinetd tells about itself.
//
// systemd's STATUS= line (kept current, at most one update a second), the
// SIGUSR1 snapshot in the log, and the metrics text a scrape's child serves.
// It reads the counts where they live (ServiceState, Children) and stores
// none of its own, but what systemd was told last.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "supervisor/children.h"
#include "supervisor/clock.h"
#include "supervisor/listener_set.h"
#include "supervisor/metrics.h"
#include "supervisor/service.h"
#include "supervisor/timer_queue.h"

namespace yinetd::supervisor {

class StatusReport {
 public:
  // The least time between two STATUS= updates to systemd.
  static constexpr milliseconds kStatusInterval{1000};

  StatusReport(const Clock& clock, TimerQueue& timers) : clock_(clock), timers_(timers) {}

  // READY=1 with the summary: every listener is bound (at start and after
  // each reload, whichever config serves).
  void Ready(size_t services, size_t running);
  // STOPPING=1.
  void Stopping(size_t running);
  // Called once a loop pass: sends a changed summary, or arms a timer for
  // it when the last one was sent less than kStatusInterval ago.
  void Refresh(size_t services, size_t running);

  // One `event=status` line per service (SIGUSR1).
  static void LogSnapshot(const std::vector<std::shared_ptr<Service>>& services, const ListenerSet& listeners);
  // The Prometheus text of every service and the process.
  static std::string MetricsText(const std::vector<std::shared_ptr<Service>>& services,
                                 const ProcessCounts& process);

 private:
  const Clock& clock_;
  TimerQueue& timers_;
  std::pair<size_t, size_t> told_;  // (services, running) systemd was told last
  TimePoint told_at_{};
  Timer due_;
  bool stopping_ = false;
};

}  // namespace yinetd::supervisor
