#include "sandbox/landlock.h"

#include <fcntl.h>
#include <linux/landlock.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "sys/sys_error.h"

namespace yinetd::sandbox {
namespace {

// Rights of later ABIs than Debian 12's header knows (values from the
// kernel's uapi landlock.h).
constexpr uint64_t kRefer = 1ULL << 13;     // ABI 2
constexpr uint64_t kTruncate = 1ULL << 14;  // ABI 3
constexpr uint64_t kIoctlDev = 1ULL << 15;  // ABI 5

constexpr uint64_t kAbi1Rights = (1ULL << 13) - 1;  // EXECUTE .. MAKE_SYM

// The paths beneath which the program's writes are the device's business.
constexpr const char* kDevices = "/dev";

struct RulesetAttr {
  uint64_t handled_access_fs;
};

struct PathBeneath {
  uint64_t allowed_access;
  int32_t parent_fd;
} __attribute__((packed));

void AddRule(int ruleset, const std::string& path, uint64_t rights) {
  UniqueFd parent(open(path.c_str(), O_PATH | O_CLOEXEC));
  if (!parent) throw SysError("landlock open " + path, errno);
  PathBeneath rule{rights, parent.Get()};
  if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0) != 0) {
    throw SysError("landlock_add_rule " + path, errno);
  }
}

}  // namespace

uint64_t HandledFsRights(int abi) {
  uint64_t rights = kAbi1Rights;
  if (abi >= 2) rights |= kRefer;
  if (abi >= 3) rights |= kTruncate;
  if (abi >= 5) rights |= kIoctlDev;
  return rights;
}

uint64_t ReadRights() {
  return LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;
}

std::vector<std::string> WritablePaths(const config::SandboxConfig& sandbox) {
  std::vector<std::string> paths = sandbox.writable;
  if (sandbox.private_tmp) {
    paths.emplace_back("/tmp");
    paths.emplace_back("/var/tmp");
  }
  return paths;
}

UniqueFd MakeLandlockRuleset(const config::SandboxConfig& sandbox, int abi) {
  uint64_t handled = HandledFsRights(abi);
  RulesetAttr attr{handled};
  UniqueFd ruleset(static_cast<int>(syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0)));
  if (!ruleset) throw SysError("landlock_create_ruleset", errno);
  // Without read_only, only the listed paths were meant: everything stays
  // writable, and the ruleset adds nothing but is still a Landlock domain.
  uint64_t everywhere = sandbox.read_only ? ReadRights() : handled;
  AddRule(ruleset.Get(), "/", everywhere);
  // Devices: writing /dev/null or a tty is not writing the file system.
  uint64_t device_rights = ReadRights() | LANDLOCK_ACCESS_FS_WRITE_FILE | (abi >= 3 ? kTruncate : 0) |
                           (abi >= 5 ? kIoctlDev : 0);
  if (access(kDevices, F_OK) == 0) AddRule(ruleset.Get(), kDevices, device_rights & handled);
  for (const std::string& path : WritablePaths(sandbox)) AddRule(ruleset.Get(), path, handled);
  return ruleset;
}

}  // namespace yinetd::sandbox
