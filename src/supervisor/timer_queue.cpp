#include "supervisor/timer_queue.h"

namespace yinetd::supervisor {

TimePoint SaturatingAdd(TimePoint start, milliseconds length) {
  if (length <= milliseconds::zero()) return start;
  TimePoint far = TimePoint::max();
  // Compare in the clock's own unit: length converted to it may itself overflow.
  auto room = std::chrono::duration_cast<milliseconds>(far - start);
  return length >= room ? far : start + length;
}

Timer& Timer::operator=(Timer&& other) noexcept {
  if (this != &other) {
    Cancel();
    queue_ = std::exchange(other.queue_, nullptr);
    id_ = std::exchange(other.id_, 0);
  }
  return *this;
}

bool Timer::Armed() const { return queue_ != nullptr && queue_->Pending(id_); }

void Timer::Cancel() {
  if (queue_ != nullptr) queue_->Cancel(id_);
  queue_ = nullptr;
  id_ = 0;
}

Timer TimerQueue::Schedule(TimePoint when, std::function<void()> fire) {
  uint64_t id = next_id_++;
  order_.emplace(when, id);
  callbacks_.emplace(id, Entry{when, std::move(fire)});
  return Timer(this, id);
}

std::optional<TimePoint> TimerQueue::Next() const {
  if (order_.empty()) return std::nullopt;
  return order_.begin()->first;
}

void TimerQueue::Cancel(uint64_t id) {
  auto it = callbacks_.find(id);
  if (it == callbacks_.end()) return;
  order_.erase({it->second.when, id});
  callbacks_.erase(it);
}

void TimerQueue::RunDue(TimePoint now) {
  while (!order_.empty() && order_.begin()->first <= now) {
    uint64_t id = order_.begin()->second;
    order_.erase(order_.begin());
    auto it = callbacks_.find(id);
    std::function<void()> fire = std::move(it->second.fire);
    // Erased before the call: the handle reads as not armed inside it, and
    // the callback may re-arm the same Timer.
    callbacks_.erase(it);
    fire();
  }
}

}  // namespace yinetd::supervisor
