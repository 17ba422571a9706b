// Fakes for driving the supervisor without sleeping or forking: a clock
// moved by hand, and a process starter that records what it would start
// and signal (the model is ninja's FakeCommandRunner).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <deque>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "supervisor/clock.h"
#include "supervisor/process_starter.h"
#include "sys/unique_fd.h"

namespace yinetd::supervisor {

class FakeClock final : public Clock {
 public:
  TimePoint Now() const override { return now_; }
  void Advance(milliseconds by) { now_ += by; }

 private:
  TimePoint now_ = TimePoint(std::chrono::hours(1000));
};

class FakeProcesses final : public ProcessStarter {
 public:
  struct Spawned {
    pid_t pid;
    std::string program;
    std::vector<std::string> env;
    bool report_pipe = false;  // its stderr pipe (stderr: log) was open
  };

  SysFailure Spawn(const spawn::ChildSpec& spec, spawn::ReportPipe& pipe, spawn::Started& started) override {
    bool report_pipe = pipe.write_end.Valid();
    pipe.write_end.Reset();
    if (fail_with != 0) return SysFailure{"clone", fail_with};
    started.pid = next_pid++;
    Spawned record{started.pid, spec.program ? spec.program : "", {}, report_pipe};
    for (char* const* e = spec.envp; e && *e; ++e) record.env.emplace_back(*e);
    spawned.push_back(std::move(record));
    live.insert(started.pid);
    groups.insert(started.pid);
    return {};
  }
  std::optional<Reaped> Reap(ReapScope scope) override {
    if (scope == ReapScope::kAny) {
      if (strays.empty() && dead.empty()) ++scans;
      if (!strays.empty()) {
        Reaped reaped = strays.front();
        strays.pop_front();
        return reaped;
      }
    }
    if (dead.empty()) {
      DrainReapFd();
      return std::nullopt;
    }
    Reaped reaped = dead.front();
    dead.pop_front();
    return reaped;
  }
  int ReapFd() const override { return reap_read_.Get(); }

  // From now on, a reap fd tells of every child that exits, as pidfds do.
  // Before the supervisor is made: it registers the fd once.
  void UsePidfds() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) throw std::runtime_error("pipe2");
    reap_read_.Reset(fds[0]);
    reap_write_.Reset(fds[1]);
  }
  bool Signal(pid_t pid, int signo) override {
    if (!groups.count(pid) && !live.count(pid)) {
      errno = ESRCH;
      return false;
    }
    signals.emplace_back(pid, signo);
    if (exit_on_term && (signo == SIGTERM || signo == SIGKILL)) {
      if (live.count(pid)) Exit(pid, W_EXITCODE(0, signo));
      if (signo == SIGKILL || !group_ignores_term) groups.erase(pid);
    }
    return true;
  }
  bool GroupAlive(pid_t pgid) override { return groups.count(pgid) != 0; }
  bool KillCgroup(int group_dir) override {
    cgroup_kills.push_back(group_dir);
    return true;
  }

  // The child `pid` dies with `wait_status`; its group stays alive while
  // `leaves_group` (something it started lives on).
  void Exit(pid_t pid, int wait_status, bool leaves_group = false) {
    live.erase(pid);
    if (!leaves_group) groups.erase(pid);
    dead.push_back(Reaped{pid, wait_status, {}, std::nullopt});
    if (reap_write_) [[maybe_unused]] ssize_t n = write(reap_write_.Get(), "x", 1);
  }
  // A dead child that no reap fd tells of (one we did not start, or one
  // without a pidfd): only the scan (ReapScope::kAny) finds it.
  void StrayExit(pid_t pid, int wait_status) { strays.push_back(Reaped{pid, wait_status, {}, std::nullopt}); }
  std::vector<int> SignalsTo(pid_t pid) const {
    std::vector<int> sent;
    for (const auto& [target, signo] : signals) {
      if (target == pid) sent.push_back(signo);
    }
    return sent;
  }

  pid_t next_pid = 100000;
  int fail_with = 0;
  bool exit_on_term = false;
  bool group_ignores_term = false;
  std::vector<Spawned> spawned;
  std::set<pid_t> live;
  std::set<pid_t> groups;
  std::vector<int> cgroup_kills;  // the group directory fds, in order
  std::deque<Reaped> dead;
  std::deque<Reaped> strays;
  int scans = 0;  // scans of every child (ReapScope::kAny) run to the end
  std::vector<std::pair<pid_t, int>> signals;

 private:
  void DrainReapFd() {
    char buf[64];
    if (reap_read_) {
      while (read(reap_read_.Get(), buf, sizeof buf) > 0) {
      }
    }
  }
  UniqueFd reap_read_, reap_write_;
};

}  // namespace yinetd::supervisor
