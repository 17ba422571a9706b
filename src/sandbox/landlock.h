// Landlock: a service's read_only and writable, as a ruleset made once.
//
// Landlock only grants: a ruleset handles every file system right the
// kernel knows, then gives read and execute beneath / and every right
// beneath each writable path (and /dev's write, so that /dev/null still
// works; and /tmp, /var/tmp with private_tmp, whose fresh tmpfs is the
// connection's own). The child calls landlock_restrict_self on the fd.
// hidden is not Landlock's (it cannot take back beneath what it granted
// above): sandbox.h hides paths in the mount namespace instead.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/config.h"
#include "sys/unique_fd.h"

namespace yinetd::sandbox {

// Every file system right Landlock `abi` handles.
uint64_t HandledFsRights(int abi);

// The rights granted beneath / (read, execute).
uint64_t ReadRights();

// The paths granted every right, in order: the writable ones, then those
// the sandbox adds (see above). Pure, for tests.
std::vector<std::string> WritablePaths(const config::SandboxConfig& sandbox);

// Throws SysError naming the step (and the path) that failed.
UniqueFd MakeLandlockRuleset(const config::SandboxConfig& sandbox, int abi);

}  // namespace yinetd::sandbox
