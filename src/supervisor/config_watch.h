// ConfigWatch: notices edits to the config files (watch: true).
//
// Watches the directories holding the files, not the files themselves:
// editors save by writing a new file and renaming it over the old one, which
// a watch on the old inode would miss. Also picks up new files in an
// include directory.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "sys/unique_fd.h"

namespace yinetd::supervisor {

class ConfigWatch {
 public:
  // Starts watching the directories of `files`, and `more_dirs`; logs and
  // gives up quietly (Fd() < 0) if inotify is unavailable.
  void Watch(const std::vector<std::string>& files, const std::vector<std::string>& more_dirs);
  void Stop() { fd_.Reset(); }

  int Fd() const { return fd_.Get(); }
  // Reads pending events; true if one concerns a .yaml/.yml file or a
  // watched file.
  bool Changed();

 private:
  UniqueFd fd_;
  std::set<std::string> files_;
};

}  // namespace yinetd::supervisor
