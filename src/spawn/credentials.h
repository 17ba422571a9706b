// Credentials: whom a child runs as, in the spawner's own terms.
//
// Resolved before the child exists (getpwnam and initgroups are not
// async-signal-safe); the child only sets them, with raw system calls.
#pragma once

#include <sys/types.h>

#include <vector>

namespace yinetd::spawn {

struct Credentials {
  uid_t uid = 0;
  gid_t gid = 0;
  bool set_uid = false;       // false: keep the supervisor's uid
  std::vector<gid_t> groups;  // supplementary groups, for setgroups
};

}  // namespace yinetd::spawn
