#include "supervisor/timer_queue.h"

#include <doctest/doctest.h>

#include <vector>

namespace yinetd::supervisor {
namespace {

const TimePoint kT0 = TimePoint(std::chrono::hours(1));

TEST_CASE("timers fire in deadline order, only once due") {
  TimerQueue queue;
  std::vector<int> fired;
  Timer late = queue.Schedule(kT0 + milliseconds(20), [&] { fired.push_back(2); });
  Timer early = queue.Schedule(kT0 + milliseconds(10), [&] { fired.push_back(1); });
  CHECK(queue.Next() == kT0 + milliseconds(10));
  queue.RunDue(kT0 + milliseconds(5));
  CHECK(fired.empty());
  queue.RunDue(kT0 + milliseconds(20));
  CHECK(fired == std::vector<int>{1, 2});
  CHECK_FALSE(queue.Next().has_value());
  CHECK_FALSE(early.Armed());
}

TEST_CASE("a destroyed or cancelled handle takes its timer with it") {
  TimerQueue queue;
  int fired = 0;
  {
    Timer gone = queue.Schedule(kT0, [&] { ++fired; });
    CHECK(gone.Armed());
  }
  Timer cancelled = queue.Schedule(kT0, [&] { ++fired; });
  cancelled.Cancel();
  CHECK(queue.Size() == 0);
  queue.RunDue(kT0 + std::chrono::hours(1));
  CHECK(fired == 0);
}

TEST_CASE("a callback may re-arm its own timer, and moving a handle moves the timer") {
  TimerQueue queue;
  int fired = 0;
  Timer ticker;
  std::function<void()> tick = [&] {
    if (++fired < 3) ticker = queue.Schedule(kT0 + milliseconds(fired), tick);
  };
  ticker = queue.Schedule(kT0, tick);
  queue.RunDue(kT0 + milliseconds(10));
  CHECK(fired == 3);
  Timer first = queue.Schedule(kT0 + milliseconds(50), [&] { ++fired; });
  Timer second = std::move(first);
  CHECK_FALSE(first.Armed());
  CHECK(second.Armed());
  queue.RunDue(kT0 + milliseconds(50));
  CHECK(fired == 4);
}

TEST_CASE("adding a huge duration saturates instead of wrapping into the past") {
  CHECK(SaturatingAdd(kT0, milliseconds::max()) == TimePoint::max());
  CHECK(SaturatingAdd(kT0, milliseconds(std::chrono::hours(24 * 365 * 1000))) > kT0);
  CHECK(SaturatingAdd(kT0, milliseconds(5)) == kT0 + milliseconds(5));
  CHECK(SaturatingAdd(kT0, milliseconds(-5)) == kT0);
}

}  // namespace
}  // namespace yinetd::supervisor
