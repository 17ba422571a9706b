#include "supervisor/refusal_log.h"

namespace yinetd::supervisor {

bool RefusalLog::Record(const std::string& service, const std::string& reason, Clock::time_point now) {
  auto [it, inserted] = windows_.try_emplace({service, reason}, Window{now, 0, 0});
  Window& window = it->second;
  if (now - window.start >= kWindow && window.suppressed == 0) window = Window{now, 0, 0};
  if (window.logged < kBurst && window.suppressed == 0) {
    window.logged++;
    return true;
  }
  window.suppressed++;
  return false;
}

std::vector<RefusalLog::Suppressed> RefusalLog::Flush(Clock::time_point now) {
  std::vector<Suppressed> out;
  for (auto it = windows_.begin(); it != windows_.end();) {
    Window& window = it->second;
    if (now - window.start < kWindow) {
      ++it;
      continue;
    }
    if (window.suppressed > 0) out.push_back({it->first.first, it->first.second, window.suppressed});
    it = windows_.erase(it);
  }
  return out;
}

std::optional<RefusalLog::Clock::time_point> RefusalLog::NextFlush() const {
  std::optional<Clock::time_point> next;
  for (const auto& [key, window] : windows_) {
    if (window.suppressed == 0) continue;
    Clock::time_point end = window.start + kWindow;
    if (!next || end < *next) next = end;
  }
  return next;
}

}  // namespace yinetd::supervisor
