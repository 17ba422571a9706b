// ConfigWatch: notices edits to the config files (watch: true).
//
// Watches the directories holding the files, not the files themselves:
// editors save by writing a new file and renaming it over the old one, which
// a watch on the old inode would miss. Also picks up new files in an
// include directory.
//
// A path is followed link by link: for each symlink on the way (a
// Kubernetes ConfigMap mount is `config.yaml -> ..data/config.yaml` and
// `..data -> ..2026_12_02_...`, switched by renaming a new `..data` over
// the old) the directory holding the link is watched for that name, and
// the walk goes on at the target. A directory that does not exist yet is
// watched for through its nearest existing parent. Every event that
// matters re-arms the watches, since the paths may lead elsewhere now.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "sys/unique_fd.h"

namespace yinetd::supervisor {

class ConfigWatch {
 public:
  // Watches what `files` and the include directories `include_dirs` are
  // reached through. The first call opens the inotify fd (logs and gives up
  // quietly, Fd() < 0, if inotify is unavailable); later calls re-arm on the
  // same fd, so events already queued are not lost.
  void Watch(const std::vector<std::string>& files, const std::vector<std::string>& include_dirs);
  void Stop();

  int Fd() const { return fd_.Get(); }
  // Reads pending events; true if one concerns a watched file, a link or
  // directory on the way to one, or a .yaml/.yml file in an include
  // directory. Then the watches have been re-armed already.
  bool Changed();

  // What a directory is watched for: these entry names, and in an include
  // directory any .yaml/.yml file.
  struct Interest {
    std::set<std::string> names;
    bool any_yaml = false;
  };
  // Directory → interest, for `files` and `include_dirs` as the file
  // system has them now. Reads links (lstat, readlink) but watches nothing.
  static std::map<std::string, Interest> Plan(const std::vector<std::string>& files,
                                              const std::vector<std::string>& include_dirs);

 private:
  void Arm();

  UniqueFd fd_;
  std::vector<std::string> files_, include_dirs_;
  std::map<int, Interest> watches_;  // by watch descriptor
};

}  // namespace yinetd::supervisor
