// A service's mount namespace, made once when the config is loaded (or
// reloaded) and kept as an fd, as its network namespace is: the host's
// mounts made slaves (nothing mounted in it, or in a copy of it, reaches
// the host), and every hidden path covered. Each child enters it with
// setns; one that needs mounts of its own (private_tmp, a pid namespace's
// /proc) unshares a copy of it and mounts those.
//
// Why not a namespace per connection, as before: clone(CLONE_NEWNS) copies
// every mount of the host, and the last process to leave a mount namespace
// tears it down in its exit, waiting for an RCU grace period
// (namespace_unlock's synchronize_rcu_expedited) before its descriptors
// are closed, so the client's end waits for it too (docs/benchmarks.md).
// Entering the template costs neither.
//
// The covers are mounted on the hidden paths as they were at load. The
// kernel detaches a mount whose mountpoint is removed or replaced (a file
// renamed over a hidden file, a hidden directory removed and made again),
// so each child checks that every cover is still what the path shows
// (device and inode) and, when one is not, covers every hidden path again
// in a namespace of its own, as each child did before there were templates.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "sys/sys_error.h"
#include "sys/unique_fd.h"

namespace yinetd::sandbox {

// What stat shows, inside the template, at a covered path.
struct Cover {
  std::string path;
  dev_t dev = 0;
  ino_t ino = 0;
};

struct MountTemplate {
  UniqueFd ns;
  std::vector<Cover> covers;  // one per hidden directory, then per hidden file
};

// Made on a thread of ours (a mount namespace belongs to a thread's file
// system context, so the rest of yinetd stays in the host's). Throws
// SysError naming the step and the path.
MountTemplate MakeMountTemplate(const std::vector<std::string>& hidden_dirs,
                                const std::vector<std::string>& hidden_files);

// The directories a private_tmp gets a fresh tmpfs on, as bits of a mask
// (Prepared::private_tmp).
inline constexpr const char* kPrivateTmpDirs[] = {"/tmp", "/var/tmp"};

// Async-signal-safe: an empty tmpfs (mode 1777) on each directory of
// `mask`, in a child's copy of its service's namespace.
SysFailure MountPrivateTmp(unsigned mask);

// Async-signal-safe: the template's maker and a child covering again.
// An empty, read-only tmpfs over a directory.
SysFailure CoverDirectory(const char* path);
// /dev/null bound over a file, on a nodev mount: opening it fails with
// EACCES, for root too.
SysFailure CoverFile(const char* path);
// Each of `dirs` and `files` covered as above; the first failure, with
// the path it was on in `failed` (when given).
SysFailure CoverAll(const std::vector<std::string>& dirs, const std::vector<std::string>& files,
                    const std::string** failed = nullptr);
// Whether every cover is still on its path.
bool CoversInPlace(const std::vector<Cover>& covers);

}  // namespace yinetd::sandbox
