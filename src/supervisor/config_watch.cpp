#include "supervisor/config_watch.h"

#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <filesystem>
#include <string_view>

#include "log/events.h"
#include "sys/sys_error.h"

namespace yinetd::supervisor {
namespace {

namespace fs = std::filesystem;

// The kernel's own bound on the links in one path resolution (ELOOP); a
// loop of links ends the walk instead of recursing forever.
constexpr int kMaxLinks = 40;

constexpr uint32_t kMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ONLYDIR |
                           IN_DONT_FOLLOW;

bool IsYaml(const std::string& name) {
  auto ends_with = [&](std::string_view suffix) {
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ends_with(".yaml") || ends_with(".yml");
}

std::string Join(const std::string& dir, const std::string& name) {
  return dir == "/" ? "/" + name : dir + "/" + name;
}

// Walks `path` from the root, one entry at a time, noting in `plan` each
// directory whose entries decide where the path leads.
void Follow(const fs::path& path, bool is_dir, std::map<std::string, ConfigWatch::Interest>& plan, int& links) {
  std::error_code error;
  fs::path absolute = fs::absolute(path, error).lexically_normal();
  if (error) return;
  std::vector<std::string> parts;
  for (const fs::path& part : absolute.relative_path()) {
    if (!part.empty()) parts.push_back(part.string());
  }
  std::string dir = "/";
  for (size_t i = 0; i < parts.size(); ++i) {
    std::string entry = Join(dir, parts[i]);
    struct stat st;
    if (lstat(entry.c_str(), &st) != 0) {
      // Missing (or unreadable): its creation in `dir` is what to wait for.
      plan[dir].names.insert(parts[i]);
      return;
    }
    bool last = i + 1 == parts.size();
    if (S_ISLNK(st.st_mode)) {
      // The link may be switched to point elsewhere.
      plan[dir].names.insert(parts[i]);
      if (++links > kMaxLinks) return;
      std::vector<char> target(static_cast<size_t>(st.st_size > 0 ? st.st_size : PATH_MAX) + 1);
      ssize_t n = readlink(entry.c_str(), target.data(), target.size());
      if (n <= 0 || static_cast<size_t>(n) >= target.size()) return;
      fs::path next = fs::path(dir) / std::string(target.data(), static_cast<size_t>(n));
      for (size_t j = i + 1; j < parts.size(); ++j) next /= parts[j];
      Follow(next, is_dir, plan, links);
      return;
    }
    if (last) {
      // Replaced by a new file, or a new directory under the same name.
      plan[dir].names.insert(parts[i]);
      if (is_dir && S_ISDIR(st.st_mode)) plan[entry].any_yaml = true;
      return;
    }
    dir = std::move(entry);
  }
}

}  // namespace

std::map<std::string, ConfigWatch::Interest> ConfigWatch::Plan(const std::vector<std::string>& files,
                                                               const std::vector<std::string>& include_dirs) {
  std::map<std::string, Interest> plan;
  for (const std::string& file : files) {
    int links = 0;
    Follow(file, false, plan, links);
  }
  for (const std::string& dir : include_dirs) {
    int links = 0;
    Follow(dir, true, plan, links);
  }
  return plan;
}

void ConfigWatch::Watch(const std::vector<std::string>& files, const std::vector<std::string>& include_dirs) {
  files_ = files;
  include_dirs_ = include_dirs;
  if (!fd_) {
    fd_.Reset(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    if (!fd_) {
      log::SyscallFailed("", "inotify_init1", "", errno);
      return;
    }
  }
  Arm();
}

void ConfigWatch::Stop() {
  fd_.Reset();
  watches_.clear();
}

void ConfigWatch::Arm() {
  std::map<int, Interest> armed;
  for (auto& [dir, interest] : Plan(files_, include_dirs_)) {
    // The same directory reached two ways has one descriptor: merge.
    int wd = inotify_add_watch(fd_.Get(), dir.c_str(), kMask);
    if (wd < 0) {
      // Gone since the walk looked: the event that removed it is queued.
      if (errno != ENOENT && errno != ENOTDIR) log::SyscallFailed("", "inotify_add_watch", dir, errno);
      continue;
    }
    Interest& merged = armed[wd];
    merged.names.insert(interest.names.begin(), interest.names.end());
    merged.any_yaml = merged.any_yaml || interest.any_yaml;
  }
  for (const auto& [wd, interest] : watches_) {
    if (!armed.count(wd)) inotify_rm_watch(fd_.Get(), wd);  // its IN_IGNORED is dropped below
  }
  watches_ = std::move(armed);
}

bool ConfigWatch::Changed() {
  alignas(inotify_event) char buf[8192];
  bool relevant = false;
  for (;;) {
    ssize_t n = RetryOnEintr([&] { return read(fd_.Get(), buf, sizeof buf); });
    if (n <= 0) break;  // EAGAIN: drained
    for (char* p = buf; p < buf + n;) {
      auto* event = reinterpret_cast<inotify_event*>(p);
      p += sizeof(inotify_event) + event->len;
      // Events were dropped: anything may have changed.
      if (event->mask & IN_Q_OVERFLOW) relevant = true;
      auto watch = watches_.find(event->wd);
      if (watch == watches_.end()) continue;  // one we removed
      if (event->mask & IN_IGNORED) {
        // The directory is gone; re-arming watches whatever replaces it.
        watches_.erase(watch);
        relevant = true;
        continue;
      }
      std::string name = event->len > 0 ? event->name : "";
      if (watch->second.names.count(name) || (watch->second.any_yaml && IsYaml(name))) relevant = true;
    }
  }
  if (relevant) Arm();
  return relevant;
}

}  // namespace yinetd::supervisor
