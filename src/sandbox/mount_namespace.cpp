#include "sandbox/mount_namespace.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <cerrno>
#include <iterator>
#include <thread>

namespace yinetd::sandbox {
namespace {

// What a hidden file is covered with: a device node, which a mount with
// MS_NODEV refuses to open (EACCES, for root too).
constexpr const char* kHiddenFileCover = "/dev/null";

// The thread's outcome. Nothing on the thread allocates: `covers` is sized
// before it starts, and a failure names its step and path by pointer.
struct Made {
  MountTemplate made;
  const char* step = nullptr;
  const std::string* path = nullptr;
  int err = 0;
};

bool Failed(Made& made, const char* step, const std::string* path = nullptr) {
  made.step = step;
  made.path = path;
  made.err = errno;
  return false;
}

bool NoteCovers(Made& made) {
  for (Cover& cover : made.made.covers) {
    struct stat info;
    if (stat(cover.path.c_str(), &info) != 0) return Failed(made, "stat hidden", &cover.path);
    cover.dev = info.st_dev;
    cover.ino = info.st_ino;
  }
  return true;
}

// Runs on its own thread, which ends in the namespace it made.
void MakeOnThisThread(const std::vector<std::string>& dirs, const std::vector<std::string>& files, Made& made) {
  if (unshare(CLONE_NEWNS) != 0) {
    Failed(made, "unshare CLONE_NEWNS");
    return;
  }
  // Slaves rather than private: what the host mounts later still appears
  // here, and nothing mounted here goes back.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0) {
    Failed(made, "mount / slave");
    return;
  }
  const std::string* failed = nullptr;
  if (SysFailure failure = CoverAll(dirs, files, &failed); !failure.Ok()) {
    errno = failure.err;
    Failed(made, failure.call, failed);
    return;
  }
  if (!NoteCovers(made)) return;
  made.made.ns.Reset(open("/proc/thread-self/ns/mnt", O_RDONLY | O_CLOEXEC));
  if (!made.made.ns) Failed(made, "open /proc/thread-self/ns/mnt");
}

}  // namespace

MountTemplate MakeMountTemplate(const std::vector<std::string>& hidden_dirs,
                                const std::vector<std::string>& hidden_files) {
  Made made;
  for (const auto* paths : {&hidden_dirs, &hidden_files}) {
    for (const std::string& path : *paths) made.made.covers.push_back(Cover{path, 0, 0});
  }
  std::thread maker(MakeOnThisThread, std::cref(hidden_dirs), std::cref(hidden_files), std::ref(made));
  maker.join();
  if (made.step != nullptr) {
    throw SysError(std::string(made.step) + (made.path != nullptr ? " " + *made.path : ""), made.err);
  }
  return std::move(made.made);
}

SysFailure CoverDirectory(const char* path) {
  if (mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=000") != 0) {
    return SysFailure{"mount hidden", errno};
  }
  return {};
}

SysFailure CoverFile(const char* path) {
  // A bind mount takes its flags only when remounted: first cover the
  // file, then make the cover read-only, nodev (so it cannot be opened),
  // nosuid and noexec.
  if (mount(kHiddenFileCover, path, nullptr, MS_BIND, nullptr) != 0) return SysFailure{"mount hidden", errno};
  if (mount(nullptr, path, nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NODEV | MS_NOSUID | MS_NOEXEC, nullptr) !=
      0) {
    return SysFailure{"mount hidden", errno};
  }
  return {};
}

SysFailure CoverAll(const std::vector<std::string>& dirs, const std::vector<std::string>& files,
                    const std::string** failed) {
  for (const auto* paths : {&dirs, &files}) {
    for (const std::string& path : *paths) {
      SysFailure failure = paths == &dirs ? CoverDirectory(path.c_str()) : CoverFile(path.c_str());
      if (failure.Ok()) continue;
      if (failed != nullptr) *failed = &path;
      return failure;
    }
  }
  return {};
}

bool CoversInPlace(const std::vector<Cover>& covers) {
  for (const Cover& cover : covers) {
    struct stat info;
    if (stat(cover.path.c_str(), &info) != 0 || info.st_dev != cover.dev || info.st_ino != cover.ino) return false;
  }
  return true;
}

SysFailure MountPrivateTmp(unsigned mask) {
  for (unsigned i = 0; i < std::size(kPrivateTmpDirs); ++i) {
    if ((mask & (1U << i)) == 0) continue;
    if (mount("tmpfs", kPrivateTmpDirs[i], "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0) {
      return SysFailure{"mount private_tmp", errno};
    }
  }
  return {};
}

}  // namespace yinetd::sandbox
