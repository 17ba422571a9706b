// Which services ask for a privilege yinetd does not hold.
//
// A config can be valid and still fail at every connection: a `chroot`
// service under a unit whose CapabilityBoundingSet= lacks CAP_SYS_CHROOT
// passes the loader, then each child dies at chroot(2) with EPERM. The
// loader checks what a file says; this checks it against the capabilities
// yinetd runs with (read through Host, so it stays syscall-free), and
// `yinetd --check` prints the result as warnings.
#pragma once

#include <vector>

#include "config/config.h"
#include "config/host.h"

namespace yinetd::config {

// One warning per service and missing capability, at the service's entry.
std::vector<Problem> MissingCapabilities(const Config& config, Host& host);

}  // namespace yinetd::config
