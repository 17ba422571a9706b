#include "spawn/clone_watchdog.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace yinetd::spawn {

namespace {

// Blocks every signal for its lifetime; a thread started meanwhile keeps
// them blocked.
class AllSignalsBlocked {
 public:
  AllSignalsBlocked() {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous_);
  }
  ~AllSignalsBlocked() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }
  AllSignalsBlocked(const AllSignalsBlocked&) = delete;
  AllSignalsBlocked& operator=(const AllSignalsBlocked&) = delete;

 private:
  sigset_t previous_;
};

}  // namespace

CloneWatchdog::CloneWatchdog(std::chrono::milliseconds period) {
  AllSignalsBlocked blocked;
  thread_ = std::thread([this, period] { Run(period); });
}

CloneWatchdog::~CloneWatchdog() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

// Begin and End take the lock the watchdog holds while it looks: a clone
// cannot end, nor the next begin, in the middle of a look.
pid_t* CloneWatchdog::Begin() {
  std::lock_guard lock(mutex_);
  std::atomic_ref<pid_t>(child_).store(0);
  killed_.store(false);
  generation_.fetch_add(1);  // odd: in progress
  return &child_;
}

bool CloneWatchdog::End() {
  std::lock_guard lock(mutex_);
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

// Called with the lock held, so the clone is still in progress: the child
// cannot have been reaped, and its pid is its own. The pidfd makes sure.
void CloneWatchdog::KillIfStopped() {
  pid_t child = Child();
  if (child <= 0 || ProcessState(child) != 'T') return;  // 't' (traced) is a debugger's
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, child, 0));
  bool sent = pidfd >= 0 ? syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0) == 0
                         : errno == ENOSYS && kill(child, SIGKILL) == 0;  // before Linux 5.3
  if (pidfd >= 0) close(pidfd);
  if (sent) killed_.store(true);
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
