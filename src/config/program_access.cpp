#include "config/program_access.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <vector>

namespace yinetd::config {
namespace {

// The execute/search bit that applies to `credentials` for this file: the
// kernel picks the owner's bits if the uid matches, else the group's if any
// of the user's groups matches, else the others', and looks no further.
bool MaySearchOrExecute(const Host::FileMode& file, const Credentials& credentials) {
  if (file.uid == credentials.uid) return (file.mode & S_IXUSR) != 0;
  bool member = file.gid == credentials.gid ||
                std::find(credentials.groups.begin(), credentials.groups.end(), file.gid) != credentials.groups.end();
  if (member) return (file.mode & S_IXGRP) != 0;
  return (file.mode & S_IXOTH) != 0;
}

std::string Describe(const Host::FileMode& file) {
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(file.mode & 07777));
  return std::string("mode ") + mode + ", owner uid " + std::to_string(file.uid) + ", group gid " +
         std::to_string(file.gid);
}

// Every directory `path` passes through, from "/" down, starting at `top`
// (the directories above it are searched by root, before the switch).
std::vector<std::string> DirectoriesBelow(const std::string& path, const std::string& top) {
  std::vector<std::string> dirs;
  std::filesystem::path so_far = "/";
  std::filesystem::path normal = std::filesystem::path(path).lexically_normal();
  for (const auto& part : normal.relative_path().parent_path()) {
    so_far /= part;
    if (so_far.string().size() >= top.size()) dirs.push_back(so_far.string());
  }
  if (top.empty()) dirs.insert(dirs.begin(), "/");
  return dirs;
}

}  // namespace

std::string ProgramBlocked(const std::string& program, const std::string& root, const Credentials& credentials,
                           Host& host) {
  if (!credentials.set_uid || credentials.uid == 0 || program.empty()) return "";
  std::string top = root == "/" ? "" : root;
  std::string path = top + program;
  std::vector<std::string> dirs = DirectoriesBelow(path, top);
  // A link on the way is resolved through its target's directories, which
  // need search permission too (inside a chroot, links resolve against the
  // new root: left to the lexical path).
  if (top.empty()) {
    std::string real = host.RealPath(path);
    if (!real.empty() && real != path) {
      for (std::string& dir : DirectoriesBelow(real, "")) {
        if (std::find(dirs.begin(), dirs.end(), dir) == dirs.end()) dirs.push_back(std::move(dir));
      }
    }
  }
  for (const std::string& dir : dirs) {
    std::optional<Host::FileMode> mode = host.ModeOf(dir);
    if (mode && S_ISDIR(mode->mode) && !MaySearchOrExecute(*mode, credentials)) {
      return "cannot search " + dir + " (" + Describe(*mode) + ")";
    }
  }
  std::optional<Host::FileMode> mode = host.ModeOf(path);
  if (mode && !MaySearchOrExecute(*mode, credentials)) {
    return "cannot execute " + path + " (" + Describe(*mode) + ")";
  }
  return "";
}

}  // namespace yinetd::config
