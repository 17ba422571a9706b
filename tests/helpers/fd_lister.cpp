// Test helper: prints "fds=0,1,2" — every descriptor this process was
// started with — to stdout, so a test can check what a child inherited.
#include <dirent.h>

#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>

int main() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return 1;
  std::set<int> fds;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    int fd = std::atoi(entry->d_name);
    if (fd != dirfd(dir)) fds.insert(fd);
  }
  closedir(dir);
  std::string out = "fds=";
  for (int fd : fds) out += std::to_string(fd) + ",";
  out.back() = '\n';
  std::fputs(out.c_str(), stdout);
  return 0;
}
