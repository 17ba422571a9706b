// DynamicUsers: the pool `user: dynamic` draws from (top-level
// dynamic_users: FIRST-LAST). A uid is held by one running connection at a
// time, its gid equal to it; it is released when that connection's child
// is reaped, and since a dynamic user's child is the init of its own pid
// namespace, its every process is gone by then. Handed out in rotation, so
// that a uid just freed is the last to be used again.
#pragma once

#include <sys/types.h>

#include <optional>
#include <vector>

#include "config/config.h"

namespace yinetd::sandbox {

class DynamicUsers {
 public:
  explicit DynamicUsers(config::DynamicUserRange range);

  // A uid no running connection holds; nullopt when all are held.
  std::optional<uid_t> Acquire();
  void Release(uid_t uid);
  // Marks `uid` held (a connection kept across a reload that changed the
  // range); false if it is outside the range.
  bool Hold(uid_t uid);
  size_t Held() const { return held_count_; }
  const config::DynamicUserRange& Range() const { return range_; }

 private:
  config::DynamicUserRange range_;
  std::vector<bool> held_;  // by uid - first
  size_t held_count_ = 0;
  size_t next_ = 0;         // where the search starts
};

}  // namespace yinetd::sandbox
