#include "sandbox/cgroup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

#include "sys/sys_error.h"

namespace yinetd::sandbox {
namespace {

constexpr int kCpuPeriodUs = 100'000;

// Writes `value` as a whole: cgroup files take one value per write.
bool WriteValue(const std::string& path, std::string_view value) {
  UniqueFd file(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!file) return false;
  return write(file.Get(), value.data(), value.size()) == static_cast<ssize_t>(value.size());
}

void MustWrite(const std::string& path, std::string_view value) {
  if (!WriteValue(path, value)) throw SysError("write " + path, errno);
}

void MakeDirectory(const std::string& path) {
  if (mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) throw SysError("mkdir " + path, errno);
}

// A small cgroup file, whole: the files read here are a few lines.
std::optional<std::string> ReadAt(int dir, const char* name) {
  UniqueFd file(openat(dir, name, O_RDONLY | O_CLOEXEC));
  if (!file) return std::nullopt;
  std::string text;
  char buf[512];
  for (;;) {
    ssize_t n = RetryOnEintr([&] { return read(file.Get(), buf, sizeof buf); });
    if (n < 0) return std::nullopt;
    if (n == 0) return text;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > 4096) return std::nullopt;  // not a file of ours
  }
}

std::optional<uint64_t> ParseNumber(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::string CpuMaxValue(int percent) {
  return std::to_string(static_cast<int64_t>(percent) * kCpuPeriodUs / 100) + " " + std::to_string(kCpuPeriodUs);
}

std::optional<uint64_t> FlatKeyedValue(std::string_view text, std::string_view key) {
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == ' ') {
      return ParseNumber(line.substr(key.size() + 1));
    }
  }
  return std::nullopt;
}

CgroupTree::CgroupTree(std::string root, pid_t self) : root_(std::move(root)) {
  std::string leaf = root_ + "/supervisor";
  MakeDirectory(leaf);
  MustWrite(leaf + "/cgroup.procs", std::to_string(self));
  MustWrite(root_ + "/cgroup.subtree_control", "+memory +pids +cpu");
}

std::string CgroupTree::ServiceDir(std::string_view service) const {
  return root_ + "/service." + std::string(service);
}

UniqueFd CgroupTree::PrepareService(std::string_view service, const config::SandboxConfig& sandbox) {
  std::string dir = ServiceDir(service);
  MakeDirectory(dir);
  // Every limit is written, set or not, so that a reload that drops one
  // lifts it.
  MustWrite(dir + "/memory.max", sandbox.memory_max ? std::to_string(*sandbox.memory_max) : "max");
  MustWrite(dir + "/pids.max", sandbox.tasks_max ? std::to_string(*sandbox.tasks_max) : "max");
  MustWrite(dir + "/cpu.max", sandbox.cpu_max_percent ? CpuMaxValue(*sandbox.cpu_max_percent)
                                                      : "max " + std::to_string(kCpuPeriodUs));
  UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throw SysError("open " + dir, errno);
  return fd;
}

bool KillGroup(int group_dir) {
  UniqueFd file(openat(group_dir, "cgroup.kill", O_WRONLY | O_CLOEXEC));
  if (!file) return false;
  return write(file.Get(), "1", 1) == 1;
}

CgroupUsage ReadUsage(int group_dir) {
  CgroupUsage usage;
  if (auto peak = ReadAt(group_dir, "memory.peak")) usage.memory_peak = ParseNumber(*peak);
  if (auto events = ReadAt(group_dir, "memory.events")) usage.oom_kills = FlatKeyedValue(*events, "oom_kill");
  return usage;
}

bool CgroupTree::RemoveService(std::string_view service) { return rmdir(ServiceDir(service).c_str()) == 0; }

}  // namespace yinetd::sandbox
