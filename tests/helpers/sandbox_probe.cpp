// Test helper: reports what its sandbox lets it do (and which mount
// namespace it is in), one "key=value" line each, then "ready". Then it reads commands until EOF:
//   "kill PID"  → "kill=ok" or "kill=<errno name>" (signal 0 to PID)
// Arguments: a directory it should be able to write, one that should be
// hidden from it (with a file "secret" in it), and a hidden file, all
// optional ("-" skips).
#include <dirent.h>
#include <fcntl.h>
#include <net/if.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>

namespace {

std::string Outcome(bool ok) {
  if (ok) return "ok";
  const char* name = strerrorname_np(errno);
  return name != nullptr ? name : std::to_string(errno);
}

std::string TryCreate(const std::string& dir) {
  std::string path = dir + "/probe-" + std::to_string(getpid());
  int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  std::string outcome = Outcome(fd >= 0);
  if (fd >= 0) {
    close(fd);
    unlink(path.c_str());
  }
  return outcome;
}

std::string Interfaces() {
  std::string names;
  struct if_nameindex* list = if_nameindex();
  if (list == nullptr) return Outcome(false);
  for (struct if_nameindex* at = list; at->if_index != 0; ++at) names += (names.empty() ? "" : ",") + std::string(at->if_name);
  if_freenameindex(list);
  return names;
}

// The mark this probe leaves in /tmp while it runs, removed at exit.
std::string mark;

// Entries of /tmp other than . and .., and whether another probe's mark is
// among them; then leaves a mark of its own.
void ReportTmp() {
  int entries = 0;
  bool foreign_mark = false;
  if (DIR* dir = opendir("/tmp")) {
    while (dirent* entry = readdir(dir)) {
      std::string name = entry->d_name;
      if (name == "." || name == "..") continue;
      ++entries;
      foreign_mark = foreign_mark || name.rfind("probe-mark-", 0) == 0;
    }
    closedir(dir);
  }
  std::printf("tmp_entries=%d\ntmp_foreign_mark=%s\n", entries, foreign_mark ? "yes" : "no");
  mark = "/tmp/probe-mark-" + std::to_string(getpid());
  int fd = open(mark.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  std::printf("tmp_write=%s\n", Outcome(fd >= 0).c_str());
  if (fd >= 0) close(fd);
}

// The lines of /proc/self/status that say how we are confined.
void ReportStatus() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    for (const char* key : {"Seccomp:", "Seccomp_filters:", "NoNewPrivs:"}) {
      if (line.rfind(key, 0) != 0) continue;
      std::string value = line.substr(std::strlen(key));
      value.erase(0, value.find_first_not_of(" \t"));
      std::string name(key, std::strlen(key) - 1);
      std::printf("%s=%s\n", name.c_str(), value.c_str());
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string writable = argc > 1 ? argv[1] : "-";
  std::string hidden = argc > 2 ? argv[2] : "-";
  std::string hidden_file = argc > 3 ? argv[3] : "-";
  std::printf("uid=%d\ngid=%d\npid=%d\n", static_cast<int>(getuid()), static_cast<int>(getgid()),
              static_cast<int>(getpid()));
  std::printf("interfaces=%s\n", Interfaces().c_str());
  char mount_namespace[64] = {};
  if (readlink("/proc/self/ns/mnt", mount_namespace, sizeof mount_namespace - 1) < 0) {
    std::strcpy(mount_namespace, Outcome(false).c_str());
  }
  std::printf("mnt_ns=%s\n", mount_namespace);
  char ipc_namespace[64] = {};
  if (readlink("/proc/self/ns/ipc", ipc_namespace, sizeof ipc_namespace - 1) < 0) {
    std::strcpy(ipc_namespace, Outcome(false).c_str());
  }
  std::printf("ipc_ns=%s\n", ipc_namespace);
  std::printf("write_etc=%s\nwrite_usr=%s\n", TryCreate("/etc").c_str(), TryCreate("/usr").c_str());
  if (writable != "-") std::printf("write_writable=%s\n", TryCreate(writable).c_str());
  if (hidden != "-") {
    int fd = open((hidden + "/secret").c_str(), O_RDONLY | O_CLOEXEC);
    std::printf("read_hidden=%s\n", Outcome(fd >= 0).c_str());
    if (fd >= 0) close(fd);
  }
  if (hidden_file != "-") {
    int fd = open(hidden_file.c_str(), O_RDONLY | O_CLOEXEC);
    std::printf("read_hidden_file=%s\n", Outcome(fd >= 0).c_str());
    if (fd >= 0) close(fd);
  }
  ReportTmp();
  // syslog(SYSLOG_ACTION_SIZE_BUFFER): harmless, and not in the service set.
  long denied = syscall(SYS_syslog, 10, nullptr, 0);
  std::printf("syslog_call=%s\n", Outcome(denied >= 0).c_str());
  int inet = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  std::printf("socket_inet=%s\n", Outcome(inet >= 0).c_str());
  int local = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  std::printf("socket_unix=%s\n", Outcome(local >= 0).c_str());
  ReportStatus();
  std::printf("ready\n");
  std::fflush(stdout);
  std::string command;
  while (std::getline(std::cin, command)) {
    if (command.rfind("kill ", 0) == 0) {
      pid_t target = static_cast<pid_t>(std::stol(command.substr(5)));
      std::printf("kill=%s\n", Outcome(kill(target, 0) == 0).c_str());
      std::fflush(stdout);
    }
  }
  unlink(mark.c_str());
  std::fflush(stdout);
  // Ends with the raw call, not by returning: in a sanitized build the
  // return would run LeakSanitizer's exit check, whose calls (ptrace, a
  // thread to stop the world) the seccomp filter under test denies, and the
  // exit status would be the sanitizer's instead of the probe's.
  syscall(SYS_exit_group, 0);
  return 0;
}
