#include <fcntl.h>
#include <glob.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "config/host.h"
#include "sandbox/probe.h"
#include "sys/sys_error.h"
#include "sys/unique_fd.h"

namespace yinetd::config {

std::optional<Host::User> SystemHost::LookupUser(const std::string& name) {
  std::vector<char> buf(16384);
  passwd entry;
  passwd* found = nullptr;
  if (getpwnam_r(name.c_str(), &entry, buf.data(), buf.size(), &found) != 0 || found == nullptr) {
    return std::nullopt;
  }
  return User{found->pw_uid, found->pw_gid};
}

std::optional<gid_t> SystemHost::LookupGroup(const std::string& name) {
  std::vector<char> buf(16384);
  group entry;
  group* found = nullptr;
  if (getgrnam_r(name.c_str(), &entry, buf.data(), buf.size(), &found) != 0 || found == nullptr) {
    return std::nullopt;
  }
  return found->gr_gid;
}

std::vector<gid_t> SystemHost::GroupsOf(const std::string& user, gid_t gid) {
  int count = 32;
  std::vector<gid_t> groups(count);
  while (getgrouplist(user.c_str(), gid, groups.data(), &count) == -1) groups.resize(count);
  groups.resize(count);
  return groups;
}

std::string SystemHost::WhyNotExecutable(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return ErrnoText(errno);
  if (!S_ISREG(st.st_mode)) return "not a regular file";
  if (access(path.c_str(), X_OK) != 0) return "not executable (" + ErrnoText(errno) + ")";
  return "";
}

uid_t SystemHost::EffectiveUid() { return geteuid(); }

std::optional<Host::FileMode> SystemHost::ModeOf(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileMode{st.st_mode, st.st_uid, st.st_gid};
}

std::string SystemHost::RealPath(const std::string& path) {
  char* resolved = realpath(path.c_str(), nullptr);
  if (resolved == nullptr) return "";
  std::string result(resolved);
  free(resolved);
  return result;
}

std::vector<std::string> SystemHost::Glob(const std::string& pattern) {
  glob_t matches{};
  std::vector<std::string> paths;
  if (glob(pattern.c_str(), GLOB_ERR, nullptr, &matches) == 0) {
    for (size_t i = 0; i < matches.gl_pathc; ++i) paths.emplace_back(matches.gl_pathv[i]);
  }
  globfree(&matches);
  return paths;  // glob sorts them
}

// A reload reads these on the supervisor's loop thread, so nothing here may
// wait: O_NONBLOCK makes opening a FIFO return at once (a FIFO with no writer
// would otherwise block open forever), and only a regular file is read, which
// never blocks on data that is not there.
std::optional<std::string> SystemHost::ReadFile(const std::string& path, std::string& error) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (!fd) {
    error = ErrnoText(errno);
    return std::nullopt;
  }
  struct stat st;
  if (fstat(fd.Get(), &st) != 0) {
    error = ErrnoText(errno);
    return std::nullopt;
  }
  if (!S_ISREG(st.st_mode)) {
    error = "not a regular file (a directory, FIFO, socket or device is never read)";
    return std::nullopt;
  }
  std::string text;
  char buf[16384];
  for (;;) {
    ssize_t n = RetryOnEintr([&] { return read(fd.Get(), buf, sizeof buf); });
    if (n < 0) {
      error = ErrnoText(errno);
      return std::nullopt;
    }
    if (n == 0) return text;
    // Checked while reading, not from st_size: the file may grow meanwhile.
    if (text.size() + static_cast<size_t>(n) > kMaxConfigFileBytes) {
      error = "larger than " + std::to_string(kMaxConfigFileBytes / (1024 * 1024)) + " MiB";
      return std::nullopt;
    }
    text.append(buf, static_cast<size_t>(n));
  }
}

const KernelSupport& SystemHost::Kernel() {
  if (!kernel_) kernel_ = sandbox::ProbeKernel();
  return *kernel_;
}

bool SystemHost::IsSystemCall(const std::string& name) { return sandbox::IsSystemCall(name); }

bool SystemHost::HasCapability(int capability) {
  // capget(2) directly: glibc does not wrap it, and libcap would be a
  // dependency for two words of data.
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capget, &header, data) != 0) return false;
  if (capability < 0 || capability >= 32 * _LINUX_CAPABILITY_U32S_3) return false;
  return (data[capability / 32].effective & (1u << (capability % 32))) != 0;
}

uint64_t SystemHost::HardLimit(int resource) {
  rlimit limit{};
  if (getrlimit(static_cast<__rlimit_resource>(resource), &limit) != 0) return RLIM_INFINITY;
  return limit.rlim_max;
}

}  // namespace yinetd::config
