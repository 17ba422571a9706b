// Test helper: prints "fds=0,1,2" — every descriptor this process was
// started with — to stdout, so a test can check what a child inherited.
// With --parent it first reads one byte from stdin (behind a TLS front,
// the front forwards it only once it has started us and closed what it
// kept for us), then adds what its parent (the front) holds from fd 3 up,
// as kinds: " parent=socket,socket".
#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

namespace {

// fd → where it points, for every fd listed in `dir_path` (without the
// one reading it, when that is our own list).
std::map<int, std::string> ListFds(const std::string& dir_path, bool skip_own_dir) {
  std::map<int, std::string> fds;
  DIR* dir = opendir(dir_path.c_str());
  if (dir == nullptr) return fds;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    int fd = std::atoi(entry->d_name);
    if (skip_own_dir && fd == dirfd(dir)) continue;
    char target[256] = {};
    ssize_t n = readlink((dir_path + "/" + entry->d_name).c_str(), target, sizeof target - 1);
    fds[fd] = n > 0 ? std::string(target, static_cast<size_t>(n)) : "?";
  }
  closedir(dir);
  return fds;
}

// "socket:[123]" → "socket", "pipe:[9]" → "pipe", a path stays a path.
std::string Kind(const std::string& target) {
  size_t colon = target.find(":[");
  return colon == std::string::npos ? target : target.substr(0, colon);
}

}  // namespace

int main(int argc, char** argv) {
  bool parent = argc > 1 && std::strcmp(argv[1], "--parent") == 0;
  char byte;
  if (parent && read(0, &byte, 1) != 1) return 1;
  std::map<int, std::string> own = ListFds("/proc/self/fd", true);
  if (own.empty()) return 1;
  std::string out = "fds=";
  for (const auto& [fd, target] : own) out += std::to_string(fd) + ",";
  out.pop_back();
  if (parent) {
    std::map<int, std::string> theirs = ListFds("/proc/" + std::to_string(getppid()) + "/fd", false);
    out += " parent=";
    for (const auto& [fd, target] : theirs) {
      if (fd > 2) out += Kind(target) + ",";
    }
    if (out.back() == ',') out.pop_back();
  }
  std::fputs((out + "\n").c_str(), stdout);
  return 0;
}
