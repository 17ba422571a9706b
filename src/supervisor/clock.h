// Clock: where the loop reads the time, so that tests can set it.
//
// Everything in the supervisor that waits (timeouts, pauses, rate buckets,
// STATUS= updates) takes its time from a Clock passed in from outside; the
// tests pass a FakeClock and move it by hand instead of sleeping.
#pragma once

#include <chrono>

namespace yinetd::supervisor {

using TimePoint = std::chrono::steady_clock::time_point;
using std::chrono::milliseconds;

class Clock {
 public:
  using time_point = TimePoint;
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

// The monotonic clock: never jumps when the wall clock is set.
class SteadyClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::steady_clock::now(); }
};

// `start + length`, or the farthest time there is when that would overflow:
// a huge configured duration means "never", not "at once".
TimePoint SaturatingAdd(TimePoint start, milliseconds length);

}  // namespace yinetd::supervisor
