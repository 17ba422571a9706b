// CloneWatchdog: gets us out of a clone whose child was stopped before exec.
//
// We sleep in clone until a cloned child has exec'd (CLONE_VFORK). A child
// that switches user belongs to that user from its setuid to its exec, and
// any process of that user may stop it then (SIGSTOP cannot be blocked): a
// stopped child never execs, and we would wait for ever. A thread of ours,
// asleep otherwise, looks once a period: a clone in progress at two looks
// in a row whose child is stopped then gets the child killed (we may: the
// child is ours), and clone returns. A child that is merely slow to exec
// (a program on a slow disk) is left alone.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

namespace yinetd::spawn {

class CloneWatchdog {
 public:
  // Starts the thread, with every signal blocked in it: they are the
  // supervisor's loop's to handle.
  explicit CloneWatchdog(std::chrono::milliseconds period = std::chrono::seconds(1));
  ~CloneWatchdog();
  CloneWatchdog(const CloneWatchdog&) = delete;
  CloneWatchdog& operator=(const CloneWatchdog&) = delete;

  // Around each clone. Begin returns where the child's pid goes
  // (CLONE_PARENT_SETTID); End returns true if the watchdog killed it.
  pid_t* Begin();
  bool End();
  // The child of the clone in progress, once the kernel has told us; 0
  // before and after.
  pid_t Child() const { return std::atomic_ref<pid_t>(child_).load(); }

 private:
  void Run(std::chrono::milliseconds period);
  void KillIfStopped();

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  mutable pid_t child_ = 0;              // written by the kernel, read with atomic_ref
  std::atomic<uint64_t> generation_{0};  // odd while a clone is in progress
  std::atomic<bool> killed_{false};
  std::thread thread_;
};

// The state letter of /proc/PID/stat ('R', 'S', 'T' stopped, 't' traced,
// ...), or '?' if it cannot be read.
char ProcessState(pid_t pid);

}  // namespace yinetd::spawn
