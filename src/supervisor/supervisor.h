// Supervisor: the event loop, and the path of one connection through it.
//
// Run() reads like s6-tcpserverd's main loop: wait (poll), handle signals
// (reaping every dead child), handle the ready descriptors (listeners,
// child output, the config watch), fire due timers. What it owns, each in a
// file of its own: the listeners (ListenerSet), the children and every
// count (Children), what it reports (StatusReport), and the reload plan
// (PlanReload, pure). A connection goes accept → Serve (admission on the
// client's address) → StartChild (Children::Started) → reaped
// (Children::Ended) → logged.
//
// The clock and the process starter come from outside, so tests drive all
// of it without sleeping or forking. No exception leaves Run(): failures
// inside the loop are logged and the loop carries on.
#pragma once

#include <sys/resource.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "config/loader.h"
#include "control/report.h"
#include "control/server.h"
#include "net/address.h"
#include "sandbox/facilities.h"
#include "spawn/spawner.h"
#include "supervisor/children.h"
#include "supervisor/clock.h"
#include "supervisor/config_watch.h"
#include "supervisor/header_wait.h"
#include "supervisor/listener_set.h"
#include "supervisor/metrics.h"
#include "supervisor/poll_set.h"
#include "supervisor/process_starter.h"
#include "supervisor/service.h"
#include "supervisor/status_report.h"
#include "supervisor/timer_queue.h"
#include "sys/signal_pipe.h"
#include "sys/unique_fd.h"

namespace yinetd::supervisor {

// A connection a load balancer forwarded (proxy_protocol), and what its
// header said beyond the client: for the program's environment and the logs.
struct Forwarded {
  net::Endpoint balancer;
  net::Endpoint server;  // the address the client connected to
  net::ProxyTlvs tlvs;
};

class Supervisor {
 public:
  // Connections accepted from one listener per wake, at most, so that one
  // busy service cannot starve the others.
  static constexpr int kAcceptBatch = 32;

  // `cli_level`: --log-level, which wins over log.level at start and after
  // every reload.
  Supervisor(config::Config config, ProcessStarter& processes, const Clock& clock,
             std::optional<log::Level> cli_level = std::nullopt);

  // Serves services[service].listen[address] on `fd`, an already bound and
  // listening socket (socket activation), instead of binding it in Bind().
  // `fd_name` is its FileDescriptorName=, for the log.
  void Adopt(size_t service, size_t address, UniqueFd fd, std::string fd_name);

  // Binds every listener not adopted; a failure is fatal at startup
  // (throws SysError).
  void Bind();
  // READY=1 with the summary, once every listener is bound.
  void NotifyReady();

  // Where a reload (SIGHUP, or a change seen with watch: true) gets the new
  // config from. Without one, SIGHUP is logged and ignored.
  void SetConfigSource(std::function<config::LoadResult()> source) { config_source_ = std::move(source); }

  int MaxChildren() const { return children_.MaxChildren(); }

  // Serves `yinetd ctl` on `server` (control.cpp); `version` is what
  // status reports.
  void SetControl(std::unique_ptr<control::Server> server, std::string version);

  // Serves until SIGTERM or SIGINT, then shuts down; returns the exit code.
  int Run(SignalPipe& signals);

  // Handles what arrives on `signals` first in every pass, before any
  // listener (Run does this): a child that died is counted out before the
  // next connection is admitted against its count.
  void WatchSignals(SignalPipe& signals);

  // One pass of the loop, waiting at most `max_wait_ms` (-1: until
  // something happens); for tests that drive the loop by hand. False once
  // shutdown is complete.
  bool RunOnce(int max_wait_ms);
  // SIGTERM's work; SIGHUP's; SIGUSR1's; what SIGCHLD wakes.
  void BeginShutdown();
  // What it did (or why not), for `yinetd ctl reload`.
  control::ReloadOutcome Reload(std::string_view trigger);
  void LogStatus() const;
  void ReapChildren() { children_.ReapAll(); }

  // For tests: what the loop holds.
  const Children& GetChildren() const { return children_; }
  const ListenerSet& GetListeners() const { return listeners_; }
  const std::vector<std::shared_ptr<Service>>& Services() const { return services_; }
  std::string MetricsText() const { return StatusReport::MetricsText(services_, process_counts_); }
  size_t PollSize() const { return poll_.Size(); }
  size_t TimerCount() const { return timers_.Size(); }

  // The connection `fd` of `client` at `peer` reached `listener`'s service:
  // admit it on the client's address, then start its program or refuse it.
  // `forwarded`: it came through a load balancer, and `peer` and `client`
  // are from its PROXY header.
  void Serve(Listener& listener, UniqueFd connection, const net::Endpoint& peer,
             const std::optional<net::IpAddress>& client, const Forwarded* forwarded = nullptr);
  size_t HeadersAwaited() const { return header_wait_.Size(); }
  HeaderWait::Bounds HeaderWaitBounds() const { return header_wait_.GetBounds(); }

 private:
  void HandleSignals(SignalPipe& signals);
  void OnListenerReady(Listener& listener);
  bool AcceptOne(Listener& listener);
  bool HasRoom(const Listener& listener) const;
  bool ReadyReportPipe(Listener& listener);
  void Refuse(Listener& listener, UniqueFd connection, const net::Endpoint& peer, RefuseReason reason,
              std::string_view via);
  void StartWaitChild(Listener& listener);
  std::optional<pid_t> StartChild(Listener& listener, int fd, std::vector<std::string> env, std::string peer,
                                  std::optional<net::IpAddress> client, const SourceKey& source,
                                  std::string via = "");
  // proxy_stage.cpp: a proxy_protocol service's connection, from accept
  // until its header is whole (then Serve) or it is refused.
  void AwaitHeader(Listener& listener, UniqueFd connection, const net::Endpoint& peer,
                   const std::optional<net::IpAddress>& ip);
  void OnHeaderReadable(int fd);
  void OnHeaderDeadline();
  void ArmHeaderDeadline();
  void HeaderDone(HeaderWait::Done done);
  void DropAwaitedHeaders();
  // After a reload: each awaited header goes on under its service's new
  // settings, or is refused (balancer no longer trusted, or service or
  // listener gone).
  void ReviseAwaitedHeaders();
  Listener* FindListener(std::string_view service, std::string_view addr_text) const;
  void OnChildEnded(const ChildRecord& child, int wait_status);
  // kRefused, with the problem, when a sandbox cannot be prepared: the old
  // config then still serves.
  control::ReloadOutcome Apply(config::Config next);
  std::shared_ptr<Service> MakeService(const config::ServiceConfig& service_config,
                                       std::shared_ptr<ServiceState> state = nullptr);
  void ApplyTopLevel();
  // control.cpp: the control socket's descriptors in the poll set, its
  // deadline in the timer queue, and the answers to each command.
  class ControlHandler;
  void OnControlReady(int fd, short revents);
  void SyncControl();
  control::Snapshot TakeSnapshot() const;
  control::CheckOutcome CheckConfigOnDisk() const;
  std::string AnswerControl(const control::Request& request);
  void WatchConfig();
  void OnConfigChanged();
  int PollTimeoutMs() const;
  // Whether shutdown is complete; the first time it is, ends what is left
  // in each service's cgroup.
  bool Stopped();

  const Clock& clock_;
  ProcessStarter& processes_;
  config::Config config_;
  std::optional<log::Level> cli_level_;
  // Declared before everything that holds a Timer or a poll entry.
  TimerQueue timers_;
  PollSet poll_;
  Children children_;
  ListenerSet listeners_;
  StatusReport status_;
  std::vector<std::shared_ptr<Service>> services_;
  std::function<config::LoadResult()> config_source_;
  HeaderWait header_wait_;
  Timer header_deadline_;  // the earliest deadline in header_wait_
  std::optional<TimePoint> header_deadline_at_;
  ConfigWatch watch_;
  Timer watch_reload_;  // debounced reload after an edit
  UniqueFd devnull_;
  spawn::ReportPipe spare_pipe_;  // opened before accept; see ReportPipe
  ProcessCounts process_counts_;
  sandbox::Facilities sandboxes_;
  std::unique_ptr<control::Server> control_;
  std::map<int, short> control_polled_;  // what of control_ is in poll_, with its events
  Timer control_deadline_;                // the earliest client deadline
  std::string version_;
  TimePoint started_at_;
  bool stopping_ = false;
  bool cgroups_killed_ = false;
};

// Descriptors yinetd may spend on connections (children's report pipes,
// connections awaiting a PROXY header) out of `open_files`
// (RLIMIT_NOFILE): all but a reserve of 64, or half when there are fewer
// than 128. Without an argument, of the limit in force.
uint64_t DescriptorBudget(uint64_t open_files);
uint64_t DescriptorBudget();

// The bound on all children together when the config sets none: each may
// cost `fds_per_child` descriptors of RLIMIT_NOFILE (beyond a reserve), and
// RLIMIT_NPROC bounds our processes. MaxChildrenWithin is the arithmetic,
// DefaultMaxChildren applies it to our own limits.
int MaxChildrenWithin(rlimit nofile, rlimit nproc, int fds_per_child);
int DefaultMaxChildren(int fds_per_child);
// What a child may cost in descriptors under `config`: its pidfd and its
// report pipe, and a third when a service speaks TLS (its front's outcome
// pipe).
int DescriptorsPerChild(const config::Config& config);

}  // namespace yinetd::supervisor
