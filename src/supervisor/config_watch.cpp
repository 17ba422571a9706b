#include "supervisor/config_watch.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "log/events.h"
#include "sys/sys_error.h"

namespace yinetd::supervisor {
namespace {

bool IsYaml(const std::string& name) {
  auto ends_with = [&](const char* suffix) {
    std::string_view s(suffix);
    return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
  };
  return ends_with(".yaml") || ends_with(".yml");
}

}  // namespace

void ConfigWatch::Watch(const std::vector<std::string>& files, const std::vector<std::string>& more_dirs) {
  fd_.Reset(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!fd_) {
    log::SyscallFailed("", "inotify_init1", "", errno);
    return;
  }
  files_ = std::set<std::string>(files.begin(), files.end());
  std::set<std::string> dirs(more_dirs.begin(), more_dirs.end());
  for (const std::string& file : files) dirs.insert(std::filesystem::path(file).parent_path().string());
  constexpr uint32_t kMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE;
  for (const std::string& dir : dirs) {
    if (inotify_add_watch(fd_.Get(), dir.c_str(), kMask) == 0) continue;
    // An include pattern may name a directory that does not exist (yet).
    bool optional = std::find(more_dirs.begin(), more_dirs.end(), dir) != more_dirs.end();
    if (!(optional && errno == ENOENT)) log::SyscallFailed("", "inotify_add_watch", dir, errno);
  }
}

bool ConfigWatch::Changed() {
  alignas(inotify_event) char buf[8192];
  bool relevant = false;
  for (;;) {
    ssize_t n = RetryOnEintr([&] { return read(fd_.Get(), buf, sizeof buf); });
    if (n <= 0) break;  // EAGAIN: drained
    for (char* p = buf; p < buf + n;) {
      auto* event = reinterpret_cast<inotify_event*>(p);
      std::string name = event->len > 0 ? event->name : "";
      // Any yaml file in a watched directory: it may be a new include.
      if (IsYaml(name)) relevant = true;
      for (const std::string& file : files_) {
        if (std::filesystem::path(file).filename() == name) relevant = true;
      }
      p += sizeof(inotify_event) + event->len;
    }
  }
  return relevant;
}

}  // namespace yinetd::supervisor
