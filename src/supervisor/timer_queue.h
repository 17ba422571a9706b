// TimerQueue: every deadline the loop has, in one ordered queue.
//
// A child's timeout, a paused listener, the refusal-log window, a debounced
// reload, the next STATUS= update: each is a timer here, so a pass of the
// loop asks the queue for the next deadline (O(1)) and fires only those that
// are due (O(log n) each), however many children and services exist.
// A Timer is the handle of one scheduled callback; destroying or resetting
// it cancels the callback, so a record that goes away takes its deadlines
// with it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "supervisor/clock.h"

namespace yinetd::supervisor {

class TimerQueue;

class Timer {
 public:
  Timer() = default;
  ~Timer() { Cancel(); }
  Timer(Timer&& other) noexcept { *this = std::move(other); }
  Timer& operator=(Timer&& other) noexcept;
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  bool Armed() const;
  void Cancel();

 private:
  friend class TimerQueue;
  Timer(TimerQueue* queue, uint64_t id) : queue_(queue), id_(id) {}
  TimerQueue* queue_ = nullptr;
  uint64_t id_ = 0;
};

class TimerQueue {
 public:
  TimerQueue() = default;
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  // Calls `fire` once `when` has come (from RunDue). The queue must outlive
  // the returned handle.
  [[nodiscard]] Timer Schedule(TimePoint when, std::function<void()> fire);
  // The earliest deadline, if any.
  std::optional<TimePoint> Next() const;
  // Fires every timer due at `now`, earliest first. A callback may schedule
  // or cancel timers; one scheduled at or before `now` fires in this call.
  void RunDue(TimePoint now);
  size_t Size() const { return callbacks_.size(); }

 private:
  friend class Timer;
  bool Pending(uint64_t id) const { return callbacks_.count(id) != 0; }
  void Cancel(uint64_t id);

  struct Entry {
    TimePoint when;
    std::function<void()> fire;
  };
  std::set<std::pair<TimePoint, uint64_t>> order_;
  std::map<uint64_t, Entry> callbacks_;
  uint64_t next_id_ = 1;
};

}  // namespace yinetd::supervisor
