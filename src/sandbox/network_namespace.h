// A service's private network: one empty network namespace (loopback only,
// up) made when the config is loaded, kept as an fd, and entered by each
// child with setns. Making one per connection would cost far more than
// the connection (the kernel sets up and tears down a whole stack).
#pragma once

#include "sys/unique_fd.h"

namespace yinetd::sandbox {

// A thread of ours makes the namespace (a namespace is per thread, so the
// rest of yinetd stays where it is), brings lo up and opens it. Throws
// SysError naming the step.
UniqueFd MakeLoopbackNamespace();

}  // namespace yinetd::sandbox
