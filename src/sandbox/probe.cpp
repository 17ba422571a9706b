#include "sandbox/probe.h"

#include <linux/capability.h>
#include <linux/landlock.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <vector>

namespace yinetd::sandbox {
namespace {

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    size_t end = text.find('\n');
    lines.push_back(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
  }
  return lines;
}

std::vector<std::string_view> Words(std::string_view line) {
  std::vector<std::string_view> words;
  size_t at = 0;
  while (at < line.size()) {
    size_t start = line.find_first_not_of(' ', at);
    if (start == std::string_view::npos) break;
    size_t end = line.find(' ', start);
    if (end == std::string_view::npos) end = line.size();
    words.push_back(line.substr(start, end - start));
    at = end;
  }
  return words;
}

// CAP_SYS_ADMIN in our effective set: what unshare and mount need.
bool HasSysAdmin() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) return false;
  return (data[CAP_SYS_ADMIN / 32].effective & (1U << (CAP_SYS_ADMIN % 32))) != 0;
}

// The controllers the per-service limits need.
constexpr std::string_view kControllers[] = {"memory", "pids", "cpu"};

void ProbeCgroup(config::KernelSupport& support) {
  std::string mount = CgroupV2Mount(ReadText("/proc/self/mountinfo"));
  std::string path = CgroupV2Path(ReadText("/proc/self/cgroup"));
  const std::string enable = "boot with systemd.unified_cgroup_hierarchy=1 and run yinetd with Delegate=yes";
  if (mount.empty() || path.empty()) {
    support.cgroup_why_not = "no cgroup v2 hierarchy is mounted: " + enable;
    return;
  }
  std::string dir = path == "/" ? mount : mount + path;
  if (access(dir.c_str(), W_OK) != 0) {
    support.cgroup_why_not = "cgroup " + dir + " is not writable by yinetd: " + enable;
    return;
  }
  std::string controllers = ReadText(dir + "/cgroup.controllers");
  std::vector<std::string_view> lines = Lines(controllers);
  std::vector<std::string_view> have = lines.empty() ? std::vector<std::string_view>{} : Words(lines[0]);
  std::string missing;
  for (std::string_view wanted : kControllers) {
    bool found = false;
    for (std::string_view word : have) found = found || word == wanted;
    if (!found) missing += (missing.empty() ? "" : ", ") + std::string(wanted);
  }
  if (!missing.empty()) {
    support.cgroup_why_not = "cgroup v2 at " + dir + " lacks the " + missing +
                             " controller(s) (a hybrid hierarchy keeps them in v1): " + enable;
    return;
  }
  support.cgroup_root = dir;
}

}  // namespace

int LandlockAbi() {
  long abi = syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  return abi > 0 ? static_cast<int>(abi) : 0;
}

std::string CgroupV2Mount(std::string_view mountinfo) {
  // "36 25 0:30 / /sys/fs/cgroup rw,... - cgroup2 cgroup2 rw": the mount
  // point is the 5th field, the type the first after " - ".
  for (std::string_view line : Lines(mountinfo)) {
    size_t dash = line.find(" - ");
    if (dash == std::string_view::npos) continue;
    std::vector<std::string_view> after = Words(line.substr(dash + 3));
    std::vector<std::string_view> before = Words(line.substr(0, dash));
    if (!after.empty() && after[0] == "cgroup2" && before.size() >= 5) return std::string(before[4]);
  }
  return "";
}

std::string CgroupV2Path(std::string_view proc_self_cgroup) {
  for (std::string_view line : Lines(proc_self_cgroup)) {
    if (line.substr(0, 3) == "0::") return std::string(line.substr(3));
  }
  return "";
}

config::KernelSupport ProbeKernel() {
  config::KernelSupport support;
  support.landlock_abi = LandlockAbi();
  support.seccomp = prctl(PR_GET_SECCOMP) >= 0;
  support.namespaces = HasSysAdmin();
  ProbeCgroup(support);
  return support;
}

bool IsSystemCall(const std::string& name) { return seccomp_syscall_resolve_name(name.c_str()) != __NR_SCMP_ERROR; }

}  // namespace yinetd::sandbox
