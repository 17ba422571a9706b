#include "spawn/clone_watchdog.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace yinetd::spawn {

CloneWatchdog::CloneWatchdog(std::chrono::milliseconds period) {
  // The thread inherits our mask: block everything while creating it.
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  thread_ = std::thread([this, period] { Run(period); });
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

CloneWatchdog::~CloneWatchdog() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

pid_t* CloneWatchdog::Begin() {
  std::atomic_ref<pid_t>(child_).store(0);
  killed_.store(false);
  generation_.fetch_add(1);  // odd: in progress
  return &child_;
}

bool CloneWatchdog::End() {
  generation_.fetch_add(1);  // even: done
  std::atomic_ref<pid_t>(child_).store(0);  // its pid is no longer ours to name
  return killed_.load();
}

void CloneWatchdog::Run(std::chrono::milliseconds period) {
  std::unique_lock lock(mutex_);
  uint64_t seen = 0;
  while (!wake_.wait_for(lock, period, [this] { return stopping_; })) {
    uint64_t now = generation_.load();
    // The same clone in progress at two looks: it has lasted a period.
    if (now % 2 == 1 && now == seen) KillIfStopped();
    seen = now;
  }
}

void CloneWatchdog::KillIfStopped() {
  pid_t child = Child();
  if (child <= 0) return;
  // A pidfd names this process and no other: if the clone ends and the pid
  // is reaped and reused meanwhile, the signal reaches no one else.
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, child, 0));
  if (pidfd < 0) return;
  char state = ProcessState(child);
  if ((state == 'T' || state == 't') && Child() == child) {
    killed_.store(true);
    syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
  }
  close(pidfd);
}

char ProcessState(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/stat";
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return '?';
  char buf[512];
  ssize_t n;
  do {
    n = read(fd, buf, sizeof buf - 1);
  } while (n < 0 && errno == EINTR);
  close(fd);
  if (n <= 0) return '?';
  std::string_view stat(buf, static_cast<size_t>(n));
  // "pid (comm) S ...": comm may hold spaces and parentheses; the state
  // follows the last ')'.
  size_t close_paren = stat.rfind(')');
  if (close_paren == std::string_view::npos || close_paren + 2 >= stat.size()) return '?';
  return stat[close_paren + 2];
}

}  // namespace yinetd::spawn
