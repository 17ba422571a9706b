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
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "config/loader.h"
#include "control/report.h"
#include "control/server.h"
#include "net/address.h"
#include "spawn/spawner.h"
#include "supervisor/child_table.h"
#include "supervisor/metrics.h"
#include "supervisor/config_watch.h"
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
  bool adopted = false;      // passed by systemd, which owns its unix socket file
  bool fixed_local = false;  // bound to one address: no getsockname needed
  net::Endpoint local;       // valid when fixed_local
  Clock::time_point paused_until{};
  bool exhausted = false;    // in an EMFILE/ENFILE episode (logged once)
  Clock::time_point last_exhausted{};
  std::optional<pid_t> wait_child;  // mode wait: the program holding the socket
};

class Supervisor {
 public:
  // Connections accepted from one listener per wake, at most.
  static constexpr int kAcceptBatch = 32;

  Supervisor(config::Config config, spawn::Spawner& spawner);

  // Serves services[service].listen[address] on `fd`, an already bound and
  // listening socket (socket activation), instead of binding it in Bind().
  // `fd_name` is its FileDescriptorName=, for the log.
  void Adopt(size_t service, size_t address, UniqueFd fd, std::string fd_name);

  // Binds every listener not adopted; a failure is fatal at startup
  // (throws SysError).
  void Bind();

  // The one-line summary for systemd's STATUS=.
  std::string Status() const;
  // READY=1 with the summary: every listener is bound (after Bind, and
  // after each reload).
  void NotifyReady();

  // Where a reload (SIGHUP, or a change seen with watch: true) gets the new
  // config from. Without one, SIGHUP is logged and ignored.
  void SetConfigSource(std::function<config::LoadResult()> source) { config_source_ = std::move(source); }

  // The bound on all children together: the config's max_children, or one
  // derived from RLIMIT_NOFILE and RLIMIT_NPROC.
  int MaxChildren() const { return max_children_; }

  // Counters of accepts, refusals, exits and reloads. The reload code
  // records each reload with GetMetrics().Reloaded(success).
  Metrics& GetMetrics() { return metrics_; }

  // Serves `yinetd ctl` on `server` from the next pass on (control.cpp);
  // `version` is what status reports.
  void SetControl(std::unique_ptr<control::Server> server, std::string version);

  // Serves until SIGTERM or SIGINT, then shuts down; returns the exit code.
  int Run(SignalPipe& signals);

 private:
  enum class PollKind { kSignals, kListener, kChild, kOrphan, kWatch, kControl };
  struct PollTarget {
    PollKind kind;
    size_t index;  // listener or orphan index
    pid_t pid;     // for kChild
  };

  void BuildPollSet(int signal_fd);

  // reload.cpp: SIGHUP and watch: true, and the SIGUSR1 status.
  // Opens listeners for `services`, reusing any of `old` with the same
  // address; returns the addresses that failed to bind.
  // Takes the socket systemd passed for `listener`'s service and address,
  // if there is one.
  bool UseAdopted(Listener& listener);
  std::vector<std::string> OpenListeners(const std::vector<std::shared_ptr<Service>>& services,
                                         std::vector<Listener>& old, bool fatal);
  control::ReloadOutcome Reload(std::string_view trigger);
  control::ReloadOutcome Apply(config::Config next);
  void WatchConfig();
  void OnConfigChanged();
  void RunPendingReload();
  void LogStatus();
  void RefreshStatus();
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
  bool ReadyReportPipe(Listener& listener);
  // Mode wait: hands the listening socket to one program and stops polling
  // it until that program is reaped.
  void StartWaitChild(Listener& listener);
  // Forks the service's program (or builtin) on `fd` with `env`; logs and
  // records it. nullopt when it could not start (the listener is paused).
  std::optional<pid_t> SpawnChild(Listener& listener, int fd, std::vector<std::string> env,
                                  std::string peer_text, const SourceKey& source);
  // Polls a wait-mode listener again once its program (`pid`) is reaped.
  void ResumeWaitListener(pid_t pid, int wait_status);
  // False when the child could not be started (the listener is paused).
  bool StartChild(Listener& listener, UniqueFd connection, const net::Endpoint& peer,
                  const SourceKey& source);

  // control.cpp: the control socket's commands, answered from the state
  // of this moment.
  class ControlHandler;
  void ServeControl(const pollfd& ready);
  void AnswerControlReloads(std::optional<control::ReloadOutcome> done);
  control::Snapshot TakeSnapshot() const;
  control::CheckOutcome CheckConfigOnDisk() const;
  std::string AnswerControl(const control::Request& request);

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
  struct Passed {
    UniqueFd fd;
    std::string name;
  };
  std::map<std::pair<std::string, std::string>, Passed> adopted_;  // (service, addr), until Bind()
  std::function<config::LoadResult()> config_source_;
  std::vector<std::shared_ptr<Service>> services_;
  std::vector<Listener> listeners_;
  ConfigWatch watch_;
  std::optional<Clock::time_point> reload_at_;  // debounced watch reload
  // STATUS= updates (RefreshStatus): what systemd was told last (services,
  // running), when, and when a changed summary is due.
  std::pair<size_t, size_t> notified_counts_;
  Clock::time_point last_status_at_{};
  std::optional<Clock::time_point> status_due_;
  bool reload_requested_ = false;
  ChildTable children_;
  UniqueFd devnull_;
  spawn::ReportPipe spare_pipe_;  // opened before accept; see ReportPipe
  std::vector<pollfd> poll_fds_;
  std::vector<PollTarget> poll_targets_;
  int max_children_;
  RefusalLog refusals_;
  Metrics metrics_;
  std::unique_ptr<control::Server> control_;
  std::string version_;
  Clock::time_point started_at_ = Clock::now();
  bool stopping_ = false;
  bool killed_ = false;
  Clock::time_point kill_deadline_{};
};

}  // namespace yinetd::supervisor
