// RefusalLog: keeps a flood of refusals from flooding the log.
//
// Per service and reason, the first kBurst refusals of each second are
// logged; the rest are counted, and one line with `suppressed=N` reports
// them once the second is over. Pure: time comes in as an argument.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace yinetd::supervisor {

class RefusalLog {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr int kBurst = 5;
  static constexpr std::chrono::seconds kWindow{1};

  struct Suppressed {
    std::string service;
    std::string reason;
    long count;
  };

  // True if this refusal should be logged now.
  bool Record(const std::string& service, const std::string& reason, Clock::time_point now);
  // Windows that are over: their suppressed counts, to log. Forgets idle keys.
  std::vector<Suppressed> Flush(Clock::time_point now);
  // When the next Flush has something to report, if ever.
  std::optional<Clock::time_point> NextFlush() const;

 private:
  struct Window {
    Clock::time_point start;
    int logged = 0;
    long suppressed = 0;
  };
  std::map<std::pair<std::string, std::string>, Window> windows_;
};

}  // namespace yinetd::supervisor
