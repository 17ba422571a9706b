// Whether a service's user can reach its program.
//
// `program` is checked when the config is loaded, but as yinetd (root)
// sees it. After the switch to `user`, exec(2) needs search permission on
// every directory on the way and execute permission on the file: a program
// under a 0700 home directory passes the check, then every connection fails
// with EACCES. This asks the same question as the user, through Host, so
// the loader stays free of syscalls.
#pragma once

#include <string>

#include "config/config.h"
#include "config/host.h"

namespace yinetd::config {

// "" if the user in `credentials` may run `program` (or the question does
// not apply: no user switch, or root), else what blocks it, like "cannot
// search /srv/x (mode 0700, owner uid 0, group gid 0)". `root` is the
// service's chroot ("" for none): directories above it are searched as
// root, before the switch. By the permission bits only: ACLs are not read.
std::string ProgramBlocked(const std::string& program, const std::string& root, const Credentials& credentials,
                           Host& host);

}  // namespace yinetd::config
