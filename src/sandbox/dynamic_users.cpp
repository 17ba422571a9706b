#include "sandbox/dynamic_users.h"

namespace yinetd::sandbox {

DynamicUsers::DynamicUsers(config::DynamicUserRange range)
    : range_(range), held_(static_cast<size_t>(range.last - range.first) + 1, false) {}

std::optional<uid_t> DynamicUsers::Acquire() {
  if (held_count_ == held_.size()) return std::nullopt;
  for (size_t i = 0; i < held_.size(); ++i) {
    size_t slot = (next_ + i) % held_.size();
    if (held_[slot]) continue;
    held_[slot] = true;
    ++held_count_;
    next_ = (slot + 1) % held_.size();
    return range_.first + static_cast<uid_t>(slot);
  }
  return std::nullopt;
}

bool DynamicUsers::Hold(uid_t uid) {
  if (uid < range_.first || uid > range_.last) return false;
  size_t slot = uid - range_.first;
  if (!held_[slot]) ++held_count_;
  held_[slot] = true;
  return true;
}

void DynamicUsers::Release(uid_t uid) {
  if (uid < range_.first || uid > range_.last) return;
  size_t slot = uid - range_.first;
  if (!held_[slot]) return;
  held_[slot] = false;
  --held_count_;
}

}  // namespace yinetd::sandbox
