#include "spawn/clone_watchdog.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <thread>

namespace yinetd::spawn {
namespace {

using namespace std::chrono_literals;

// A child of ours that waits to be killed.
pid_t SleepingChild() {
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    for (;;) pause();
  }
  return pid;
}

bool WaitForState(pid_t pid, char state) {
  for (int i = 0; i < 500; ++i) {
    if (ProcessState(pid) == state) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

// The child's wait status once it has died, within `timeout`.
std::optional<int> Reaped(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) return status;
    std::this_thread::sleep_for(10ms);
  }
  return std::nullopt;
}

TEST_CASE("the process state letter comes from /proc") {
  CHECK(ProcessState(getpid()) == 'R');
  CHECK(ProcessState(0x3fffffff) == '?');
  pid_t child = SleepingChild();
  CHECK(WaitForState(child, 'S'));
  kill(child, SIGSTOP);
  CHECK(WaitForState(child, 'T'));
  kill(child, SIGKILL);
  CHECK(Reaped(child, 5s).has_value());
}

TEST_CASE("a clone in progress at two looks whose child is stopped gets the child killed") {
  pid_t child = SleepingChild();
  kill(child, SIGSTOP);
  REQUIRE(WaitForState(child, 'T'));
  CloneWatchdog watchdog(100ms);
  std::atomic_ref<pid_t>(*watchdog.Begin()).store(child);  // as CLONE_PARENT_SETTID would
  std::optional<int> status = Reaped(child, 5s);
  REQUIRE(status.has_value());
  CHECK(WIFSIGNALED(*status));
  CHECK(WTERMSIG(*status) == SIGKILL);
  CHECK(watchdog.End());
}

TEST_CASE("a child that is only slow, or a clone that is over, is left alone") {
  pid_t child = SleepingChild();
  REQUIRE(WaitForState(child, 'S'));
  {
    CloneWatchdog watchdog(50ms);
    std::atomic_ref<pid_t>(*watchdog.Begin()).store(child);
    std::this_thread::sleep_for(300ms);  // several looks: it is sleeping, not stopped
    CHECK_FALSE(watchdog.End());
    kill(child, SIGSTOP);
    REQUIRE(WaitForState(child, 'T'));
    std::this_thread::sleep_for(300ms);  // stopped, but no clone in progress
  }
  CHECK_FALSE(Reaped(child, 10ms).has_value());
  kill(child, SIGKILL);
  CHECK(Reaped(child, 5s).has_value());
}

}  // namespace
}  // namespace yinetd::spawn
