// Supervisor: the event loop.
//
// One poll() over the self-pipe, every listening socket, and every child's
// report pipe. Each pass handles signals first (reaping every dead child),
// then child output, then accepts on the listeners that are ready, a bounded
// number per listener so that one busy service cannot starve the others.
// No exception leaves Run(): failures inside the loop are logged and the
// loop carries on.
#pragma once

#include <poll.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "net/address.h"
#include "spawn/spawner.h"
#include "supervisor/child_table.h"
#include "supervisor/limits.h"
#include "supervisor/refusal_log.h"
#include "supervisor/service.h"
#include "sys/signal_pipe.h"
#include "sys/unique_fd.h"

namespace yinetd::supervisor {

struct Listener {
  std::shared_ptr<Service> service;
  net::Address address;
  std::string addr_text;
  UniqueFd fd;
  bool fixed_local = false;  // bound to one address: no getsockname needed
  net::Endpoint local;       // valid when fixed_local
  Clock::time_point paused_until{};
  bool exhausted = false;    // in an EMFILE/ENFILE episode (logged once)
  Clock::time_point last_exhausted{};
};

class Supervisor {
 public:
  // Connections accepted from one listener per wake, at most.
  static constexpr int kAcceptBatch = 32;

  Supervisor(config::Config config, spawn::Spawner& spawner);

  // Binds every listener; a failure is fatal at startup (throws SysError).
  void Bind();

  // The bound on all children together: the config's max_children, or one
  // derived from RLIMIT_NOFILE and RLIMIT_NPROC.
  int MaxChildren() const { return max_children_; }

  // Serves until SIGTERM or SIGINT, then shuts down; returns the exit code.
  int Run(SignalPipe& signals);

 private:
  enum class PollKind { kSignals, kListener, kChild, kOrphan };
  struct PollTarget {
    PollKind kind;
    size_t index;  // listener or orphan index
    pid_t pid;     // for kChild
  };

  void BuildPollSet(int signal_fd);
  int PollTimeoutMs() const;
  void HandleSignals(SignalPipe& signals);
  void ReapChildren();
  void LogExit(ChildRecord& record, int wait_status);
  void ForwardOutput(Service& service, pid_t pid, OutputReader& output);
  void AcceptBatch(Listener& listener);
  bool AcceptOne(Listener& listener);
  // A failure to accept or to start a child: logs it and pauses the
  // listener briefly, so that a lasting cause (no fds, no processes) is
  // neither retried in a tight loop nor logged on every attempt.
  void OnServeError(Listener& listener, std::string_view call, int err);
  void EndQuietEpisodes();
  // False when the child could not be started (the listener is paused).
  bool StartChild(Listener& listener, UniqueFd connection, const net::Endpoint& peer,
                  const SourceKey& source);

  // admission.cpp: limits, access lists, refusals and timeouts.
  std::optional<RefuseReason> Admit(Listener& listener, const sockaddr* peer, SourceKey& source);
  void Refuse(Listener& listener, UniqueFd connection, const net::Endpoint& peer, RefuseReason reason);
  bool ShouldQueue(const Listener& listener) const;
  void StartTimeout(ChildRecord& record);
  void EnforceTimeouts();
  void FlushRefusals();
  std::optional<Clock::time_point> NextLimitDeadline() const;
  void BeginShutdown();
  void SignalChildren(int signo, const char* reason);
  void SignalChild(const ChildRecord& child, int signo);
  bool ShutdownComplete();

  config::Config config_;
  spawn::Spawner& spawner_;
  std::vector<Listener> listeners_;
  ChildTable children_;
  UniqueFd devnull_;
  spawn::ReportPipe spare_pipe_;  // opened before accept; see ReportPipe
  std::vector<pollfd> poll_fds_;
  std::vector<PollTarget> poll_targets_;
  int max_children_;
  RefusalLog refusals_;
  bool stopping_ = false;
  bool killed_ = false;
  Clock::time_point kill_deadline_{};
};

}  // namespace yinetd::supervisor
