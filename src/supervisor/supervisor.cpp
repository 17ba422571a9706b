#include "supervisor/supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <limits>
#include <map>

#include "log/events.h"
#include "net/access_list.h"
#include "net/listener.h"
#include "spawn/child_env.h"
#include "supervisor/reload_plan.h"
#include "supervisor/tls_service.h"
#include "sys/sys_error.h"
#include "systemd/notify.h"
#include "tls/front.h"

namespace yinetd::supervisor {
namespace {

// Edits come in bursts (an editor writes, renames, touches): wait for quiet.
constexpr milliseconds kWatchDebounce{300};

// Errors accept() reports for one connection that went wrong; the listener
// itself is fine (accept(2), "Error handling").
bool IsTransientAcceptError(int err) {
  switch (err) {
    case ECONNABORTED: case EPROTO: case ENETDOWN: case ENOPROTOOPT: case EHOSTDOWN:
    case ENONET: case EHOSTUNREACH: case EOPNOTSUPP: case ENETUNREACH: case ETIMEDOUT:
    case EPERM:  // a firewall rule refused it
      return true;
    default:
      return false;
  }
}

bool NeedsReportPipe(const Service& service) {
  return spawn::NeedsReportPipe(service.stderr_target);
}

}  // namespace

uint64_t DescriptorBudget(uint64_t open_files) {
  // Keep a reserve for listeners, logs, the control socket and accepting.
  constexpr uint64_t kReserveFds = 64;
  return open_files > kReserveFds * 2 ? open_files - kReserveFds : open_files / 2;
}

uint64_t DescriptorBudget() {
  rlimit nofile{};
  getrlimit(RLIMIT_NOFILE, &nofile);
  return nofile.rlim_cur == RLIM_INFINITY ? std::numeric_limits<uint64_t>::max() : DescriptorBudget(nofile.rlim_cur);
}

int MaxChildrenWithin(rlimit nofile, rlimit nproc, int fds_per_child) {
  // The budget is shared by the children at `fds_per_child` each.
  // RLIMIT_NPROC bounds the processes of our uid (not enforced for root,
  // but a sane bound all the same).
  constexpr uint64_t kCeiling = 65536;
  uint64_t per_child = static_cast<uint64_t>(std::max(fds_per_child, 1));
  uint64_t bound = kCeiling;
  if (nofile.rlim_cur != RLIM_INFINITY) bound = std::min(bound, DescriptorBudget(nofile.rlim_cur) / per_child);
  if (nproc.rlim_cur != RLIM_INFINITY) bound = std::min<uint64_t>(bound, nproc.rlim_cur);
  return static_cast<int>(std::max<uint64_t>(bound, 1));
}

int DescriptorsPerChild(const config::Config& config) {
  // Every child costs its pidfd (process_starter.h) and may hold its report
  // pipe; a TLS child also holds the outcome pipe its front reports on,
  // until it is reaped.
  bool any_tls = std::any_of(config.services.begin(), config.services.end(),
                             [](const config::ServiceConfig& service) { return service.tls.has_value(); });
  return any_tls ? 3 : 2;
}

int DefaultMaxChildren(int fds_per_child) {
  rlimit nofile{}, nproc{};
  getrlimit(RLIMIT_NOFILE, &nofile);
  getrlimit(RLIMIT_NPROC, &nproc);
  return MaxChildrenWithin(nofile, nproc, fds_per_child);
}

Supervisor::Supervisor(config::Config config, ProcessStarter& processes, const Clock& clock,
                       std::optional<log::Level> cli_level)
    : clock_(clock),
      processes_(processes),
      config_(std::move(config)),
      cli_level_(cli_level),
      children_(clock_, timers_, poll_, processes_),
      listeners_(clock_, timers_, poll_),
      status_(clock_, timers_),
      started_at_(clock_.Now()) {
  devnull_.Reset(open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!devnull_) throw SysError("open /dev/null", errno);
  process_counts_.start_time =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  children_.on_ended = [this](const ChildRecord& child, int wait_status) { OnChildEnded(child, wait_status); };
  listeners_.on_ready = [this](Listener& listener) { OnListenerReady(listener); };
  listeners_.has_room = [this](const Listener& listener) { return HasRoom(listener); };
  // A sandbox that cannot be prepared is fatal here (SysError).
  for (const auto& service_config : config_.services) services_.push_back(MakeService(service_config));
  ApplyTopLevel();
}

std::shared_ptr<Service> Supervisor::MakeService(const config::ServiceConfig& service_config,
                                                 std::shared_ptr<ServiceState> state) {
  auto service = std::make_shared<Service>(service_config, std::move(state));
  service->sandbox = sandboxes_.Prepare(service->config);
  return service;
}

void Supervisor::Adopt(size_t service, size_t address, UniqueFd fd, std::string fd_name) {
  const config::ServiceConfig& config = config_.services.at(service);
  listeners_.Adopt(config.name, config.listen.at(address).ToString(), std::move(fd), std::move(fd_name));
}

void Supervisor::Bind() {
  for (const auto& service : services_) RefreshTls(*service, "start");
  listeners_.Open(services_);
  WatchConfig();
}

void Supervisor::NotifyReady() { status_.Ready(services_.size(), children_.Running()); }

int Supervisor::Run(SignalPipe& signals) {
  WatchSignals(signals);
  while (RunOnce(-1)) {
  }
  poll_.Remove(signals.ReadFd());
  log::Stop(0);
  return 0;
}

void Supervisor::WatchSignals(SignalPipe& signals) {
  // Signals (and reaping) come before accepting in every pass, as in
  // s6-tcpserverd; the listeners were added before, at Bind.
  poll_.AddFirst(signals.ReadFd(), [this, &signals](short) { HandleSignals(signals); });
}

bool Supervisor::RunOnce(int max_wait_ms) {
  if (Stopped()) return false;
  log::Flush();  // what this pass logged, in one write, before we sleep
  int timeout = PollTimeoutMs();
  if (max_wait_ms >= 0 && (timeout < 0 || timeout > max_wait_ms)) timeout = max_wait_ms;
  if (poll_.Wait(timeout) < 0) log::SyscallFailed("", "poll", "", errno);
  timers_.RunDue(clock_.Now());
  status_.Refresh(services_.size(), children_.Running());
  return !Stopped();
}

bool Supervisor::Stopped() {
  if (!stopping_ || !children_.Done()) return false;
  // Every child is reaped and every process group is gone or killed; what
  // is left in a service's cgroup left its group (setsid, a daemon's
  // double fork) and must not outlive us.
  if (!cgroups_killed_) {
    cgroups_killed_ = true;
    for (const auto& service : services_) children_.KillCgroup(*service);
  }
  return true;
}

int Supervisor::PollTimeoutMs() const {
  std::optional<TimePoint> next = timers_.Next();
  if (!next) return -1;
  TimePoint now = clock_.Now();
  if (*next <= now) return 0;
  // Round up so we never wake a millisecond early and spin; a deadline
  // years away is simply a long wait.
  auto wait = std::chrono::duration_cast<milliseconds>(*next - now).count() + 1;
  return static_cast<int>(std::min<int64_t>(wait, 1'000'000'000));
}

void Supervisor::HandleSignals(SignalPipe& signals) {
  bool reload = false;
  for (int signo : signals.Drain()) {
    switch (signo) {
      case SIGCHLD:
        break;  // reaped below, once for any number of SIGCHLDs
      case SIGTERM:
      case SIGINT:
        log::Signal(signo, stopping_ ? "already stopping" : "shutdown");
        BeginShutdown();
        break;
      case SIGHUP:
        log::Signal(signo, "reload");
        reload = true;  // once, however many arrived
        break;
      case SIGUSR1:
        log::Signal(signo, "status");
        LogStatus();
        break;
      default:
        log::Signal(signo, "ignored");
    }
  }
  ReapChildren();
  if (reload && !stopping_) Reload("SIGHUP");
}

void Supervisor::OnListenerReady(Listener& listener) {
  if (stopping_) return;
  if (listener.service->config.mode == config::Mode::kWait) {
    StartWaitChild(listener);
    return;
  }
  for (int i = 0; i < kAcceptBatch; ++i) {
    if (!AcceptOne(listener)) return;
  }
}

bool Supervisor::HasRoom(const Listener& listener) const {
  const Service& service = *listener.service;
  if (service.config.limits.overflow != config::Overflow::kQueue) return true;
  return !service.state->gate.Full(service.Running()) && !children_.Full();
}

// Accepts and serves one connection; false when the listener has no more
// for now (or must rest).
bool Supervisor::AcceptOne(Listener& listener) {
  // overflow: queue, and the service filled up within this batch: leave the
  // rest in the backlog rather than accept and refuse them.
  if (!HasRoom(listener)) {
    listeners_.Refresh(listener);
    return false;
  }
  if (!ReadyReportPipe(listener)) return false;
  net::SockAddr peer_addr;
  peer_addr.length = sizeof peer_addr.storage;
  UniqueFd connection(RetryOnEintr(
      [&] { return accept4(listener.fd.Get(), peer_addr.Get(), &peer_addr.length, SOCK_CLOEXEC); }));
  if (!connection) {
    int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK) return false;
    if (IsTransientAcceptError(err)) return true;
    listeners_.OnServeError(listener, "accept4", err);
    return false;
  }
  net::Endpoint peer = net::ToEndpoint(peer_addr.Get(), peer_addr.length);
  if (listener.service->config.proxy.Enabled()) {
    AwaitHeader(listener, std::move(connection), peer, net::IpOf(peer_addr.Get()));
  } else {
    Serve(listener, std::move(connection), peer, net::IpOf(peer_addr.Get()));
  }
  return listener.polled;
}

void Supervisor::Serve(Listener& listener, UniqueFd connection, const net::Endpoint& peer,
                       const std::optional<net::IpAddress>& client, const Forwarded* forwarded) {
  Service& service = *listener.service;
  std::string via = forwarded ? forwarded->balancer.ToString() : "";
  SourceKey source;
  if (std::optional<RefuseReason> reason = children_.Admit(service, client, source)) {
    Refuse(listener, std::move(connection), peer, *reason, via);
    return;
  }
  if (service.config.tls && !service.state->tls) {
    // No certificate could be loaded for it yet; tls_reload said why.
    children_.TlsFailed(service, 0, peer.ToString(), "no_context", "");
    return;
  }
  spawn::Connection ends{peer, listener.fixed_local ? listener.local : net::LocalEndpoint(connection.Get())};
  if (peer.is_unix) ends.credentials = net::PeerCredentialsOf(connection.Get());
  if (forwarded) {
    ends.local = forwarded->server;
    ends.proxy = forwarded->balancer;
    ends.tlvs = forwarded->tlvs;
  }
  StartChild(listener, connection.Get(), spawn::BuildEnv(service.env, ends), peer.ToString(), client, source,
             std::move(via));
  // The parent's copy is closed here, in one place: the child has its own.
}

void Supervisor::Refuse(Listener& listener, UniqueFd connection, const net::Endpoint& peer, RefuseReason reason,
                        std::string_view via) {
  const std::string& message = listener.service->config.refuse_message;
  if (!message.empty()) {
    // Best effort and never blocking: a fresh socket's send buffer takes a
    // line, and a client that is already gone does not matter.
    std::string line = message.back() == '\n' ? message : message + "\r\n";
    [[maybe_unused]] ssize_t sent = send(connection.Get(), line.data(), line.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  }
  connection.Reset();
  children_.Refused(*listener.service, peer.ToString(), ReasonName(reason), via);
}

// The report pipe the next child of `listener` needs, if any, opened before
// accept (see spawn::ReportPipe). False: none could be opened, and the
// listener rests.
bool Supervisor::ReadyReportPipe(Listener& listener) {
  if (!NeedsReportPipe(*listener.service) || spare_pipe_.read_end) return true;
  SysFailure opened = spawn::OpenReportPipe(spare_pipe_);
  if (opened.Ok()) return true;
  spare_pipe_ = spawn::ReportPipe{};
  listeners_.OnServeError(listener, opened.call, opened.err);
  return false;
}

void Supervisor::StartWaitChild(Listener& listener) {
  if (!ReadyReportPipe(listener)) return;
  // No connection: the program meets its clients itself, so there is no
  // source to admit or count; max_connections and allow/deny do not apply.
  // A datagram service names the peer whose datagram woke it.
  std::string peer;
  if (listener.service->config.protocol == config::Protocol::kUdp) {
    listener.wait_datagram = PeekDatagram(listener.fd.Get());
    if (listener.wait_datagram) peer = listener.wait_datagram->peer.ToString();
  }
  std::optional<pid_t> pid =
      StartChild(listener, listener.fd.Get(), spawn::BuildWaitEnv(listener.service->env, listener.address),
                 std::move(peer), std::nullopt, SourceKey{});
  if (pid) {
    listeners_.WaitChildStarted(listener, *pid);
  } else {
    listener.wait_datagram.reset();
  }
}

std::optional<pid_t> Supervisor::StartChild(Listener& listener, int fd, std::vector<std::string> env,
                                            std::string peer, std::optional<net::IpAddress> client,
                                            const SourceKey& source, std::string via) {
  Service& service = *listener.service;
  std::vector<char*> envp = spawn::ToExecArray(env);
  spawn::ChildSpec spec{service.config.program.c_str(),
                        service.argv_ptrs.data(),
                        envp.data(),
                        fd,
                        service.stderr_target,
                        devnull_.Get(),
                        service.credentials ? &*service.credentials : nullptr,
                        &service.controls,
                        service.builtin};
  spec.sandbox = service.sandbox.get();
  // A snapshot of the counters as they are now; the forked child serves
  // its copy while we count on.
  std::string metrics_text;
  if (service.builtin != nullptr && service.builtin->serves_metrics) {
    metrics_text = MetricsText();
    spec.prepared = metrics_text;
  }
  // TLS: the front reports its handshake on a pipe of its own, which the
  // program never holds (tls/outcome.h). The same kind of pipe as the
  // report pipe: our end non-blocking, the child's blocking.
  spawn::ReportPipe outcome;
  tls::FrontSpec front{service.state->tls.get(), -1};
  if (service.config.tls) {
    if (SysFailure opened = spawn::OpenReportPipe(outcome); !opened.Ok()) {
      listeners_.OnServeError(listener, opened.call, opened.err);
      return std::nullopt;
    }
    front.outcome_fd = outcome.write_end.Get();
    spec.tls = &front;
  }
  // Readied before accept on the listener's path; a connection served
  // later (its PROXY header complete) may find the spare taken by another.
  spawn::ReportPipe pipe;
  if (NeedsReportPipe(service)) {
    if (!ReadyReportPipe(listener)) return std::nullopt;
    pipe = std::move(spare_pipe_);
  }
  // Last before the spawn, so that every failure before it leaves the
  // range as it was, and each one after gives the uid back.
  std::optional<spawn::Credentials> dynamic_user;
  if (service.config.dynamic_user) {
    dynamic_user = sandboxes_.AcquireDynamicUser();
    if (!dynamic_user) {
      // Every uid of the range runs a connection: rest, as when out of fds;
      // a report pipe taken for this child is the next one's spare.
      if (pipe.read_end) spare_pipe_ = std::move(pipe);
      listeners_.OnServeError(listener, "dynamic_users", EUSERS);
      return std::nullopt;
    }
    spec.credentials = &*dynamic_user;
  }
  spawn::Started started;
  SysFailure spawned = processes_.Spawn(spec, pipe, started);
  outcome.write_end.Reset();
  if (!spawned.Ok()) {
    // clone or fork refused (EAGAIN, ENOMEM): this client is closed, and the
    // listener rests before the next.
    if (dynamic_user) sandboxes_.Release(dynamic_user->uid);
    listeners_.OnServeError(listener, spawned.call, spawned.err);
    return std::nullopt;
  }
  if (dynamic_user) sandboxes_.Holds(started.pid, dynamic_user->uid);
  children_.Started(listener.service, started.pid, std::move(peer), client, source, std::move(pipe.read_end),
                    std::move(outcome.read_end), std::move(via));
  if (started.failure) {
    log::ExecFailed(service.Name(), started.pid, service.program_text, started.failure->call, started.failure->err);
  }
  return started.pid;
}

void Supervisor::OnChildEnded(const ChildRecord& child, int wait_status) {
  // A dynamic user's child was the init of its pid namespace: with it, the
  // kernel ended every process of the connection, and its uid is free.
  sandboxes_.Ended(child.pid);
  if (child.service->config.mode == config::Mode::kWait) listeners_.WaitChildEnded(child.pid, wait_status);
  listeners_.RefreshQueued();
}

void Supervisor::BeginShutdown() {
  if (stopping_) return;
  stopping_ = true;
  listeners_.CloseAll();
  DropAwaitedHeaders();
  watch_reload_.Cancel();
  if (watch_.Fd() >= 0) poll_.Remove(watch_.Fd());
  watch_.Stop();
  log::Shutdown(children_.Running(), config_.shutdown_grace.count());
  status_.Stopping(children_.Running());
  children_.BeginShutdown(config_.shutdown_grace);
}

control::ReloadOutcome Supervisor::Reload(std::string_view trigger) {
  using Result = control::ReloadOutcome::Result;
  control::ReloadOutcome outcome;
  outcome.result = Result::kRefused;
  if (stopping_) {
    outcome.problems.push_back({config::Location{config_.file, 0, 0}, "yinetd is stopping"});
    return outcome;
  }
  if (!config_source_) {
    log::ReloadError(trigger, config_.file, 0, "reload is not available");
    outcome.problems.push_back({config::Location{config_.file, 0, 0}, "reload is not available"});
    return outcome;
  }
  systemd::NotifyReloading();
  config::LoadResult result = config_source_();
  for (const config::Problem& warning : result.warnings) {
    log::ConfigWarning(warning.where.file, warning.where.line, warning.where.column, warning.message);
  }
  if (!result.config) {
    // The old config keeps serving, untouched.
    for (const config::Problem& problem : result.problems) {
      log::ReloadError(trigger, problem.where.file, problem.where.line, problem.message);
    }
    ++process_counts_.reloads_failure;
    outcome.problems = std::move(result.problems);
  } else if (outcome = Apply(std::move(*result.config)); outcome.result == Result::kRefused) {
    // A sandbox could not be prepared: the old config keeps serving.
    for (const config::Problem& problem : outcome.problems) {
      log::ReloadError(trigger, problem.where.file, problem.where.line, problem.message);
    }
    ++process_counts_.reloads_failure;
  } else {
    ++process_counts_.reloads_success;
  }
  // Every TLS context is built again: its files may have changed even when
  // the config has not (a renewed certificate). One that fails keeps the
  // context it had.
  for (const auto& service : services_) RefreshTls(*service, trigger);
  // READY=1 ends the reload for systemd either way: the old or the new
  // config is serving.
  NotifyReady();
  return outcome;
}

control::ReloadOutcome Supervisor::Apply(config::Config next) {
  std::vector<const config::ServiceConfig*> old_configs;
  for (const auto& service : services_) old_configs.push_back(&service->config);
  ReloadPlan plan = PlanReload(old_configs, listeners_.Describe(), next.services);
  // Every new or changed service's sandbox first: one that cannot be
  // prepared leaves the old config serving, untouched.
  std::vector<std::unique_ptr<sandbox::Prepared>> sandboxes(next.services.size());
  for (size_t i = 0; i < next.services.size(); ++i) {
    if (plan.services[i].fate == ServiceStep::Fate::kKept) continue;
    try {
      sandboxes[i] = sandboxes_.Prepare(next.services[i]);
    } catch (const SysError& e) {
      control::ReloadOutcome refused;
      refused.result = control::ReloadOutcome::Result::kRefused;
      refused.problems.push_back({config::Location{config_.file, 0, 0},
                                  "service '" + next.services[i].name + "': unable to prepare its sandbox: " + e.what()});
      return refused;
    }
  }
  std::vector<std::shared_ptr<Service>> services;
  for (size_t i = 0; i < next.services.size(); ++i) {
    const ServiceStep& step = plan.services[i];
    if (step.fate == ServiceStep::Fate::kKept) {
      services.push_back(services_[*step.old_index]);
      continue;
    }
    if (!step.old_index) {
      services.push_back(std::make_shared<Service>(next.services[i]));
      services.back()->sandbox = std::move(sandboxes[i]);
      continue;
    }
    // Changed: the same state (running children, counts, buckets) under
    // the new settings.
    auto service = std::make_shared<Service>(next.services[i], services_[*step.old_index]->state);
    service->sandbox = std::move(sandboxes[i]);
    service->state->gate.Reconfigure(service->config.limits, step.keep_rate_bucket, step.keep_source_buckets);
    if (step.recount_sources) children_.Recount(*service);
    services.push_back(std::move(service));
  }
  services_ = std::move(services);
  config_ = std::move(next);
  // Before the listeners: applying them decides which are polled, and an
  // overflow: queue listener's room depends on the new max_children.
  ApplyTopLevel();
  std::vector<std::string> failures = listeners_.Apply(plan, services_);
  ReviseAwaitedHeaders();
  WatchConfig();
  control::ReloadOutcome outcome;
  outcome.result = failures.empty() ? control::ReloadOutcome::Result::kOk : control::ReloadOutcome::Result::kPartial;
  outcome.added = plan.Count(ServiceStep::Fate::kAdded);
  outcome.removed = plan.removed.size();
  outcome.changed = plan.Count(ServiceStep::Fate::kChanged);
  outcome.kept = plan.Count(ServiceStep::Fate::kKept);
  log::ReloadDone(failures.empty() ? "ok" : "partial", outcome.added, outcome.removed, outcome.changed,
                  outcome.kept, failures);
  outcome.unbound = std::move(failures);
  return outcome;
}

// The top-level settings as the file has them now: a key that was removed
// is its default again, and --log-level still wins.
void Supervisor::ApplyTopLevel() {
  sandboxes_.SetDynamicUsers(config_.dynamic_users);
  int fds_per_child = DescriptorsPerChild(config_);
  children_.SetMaxChildren(config_.max_children.value_or(DefaultMaxChildren(fds_per_child)));
  header_wait_.SetBounds(HeaderWait::BoundsFor(
      DescriptorBudget(), static_cast<uint64_t>(std::max(children_.MaxChildren(), 0)) * fds_per_child));
  log::SetLevel(cli_level_.value_or(config_.log_level.value_or(log::Level::kInfo)));
}

void Supervisor::WatchConfig() {
  if (!config_.watch) {
    if (watch_.Fd() >= 0) poll_.Remove(watch_.Fd());
    watch_.Stop();
    return;
  }
  // A renewed certificate, key or CA reloads too (and rebuilds the context).
  std::vector<std::string> files = config_.files;
  for (const config::ServiceConfig& service : config_.services) {
    if (service.tls) {
      for (std::string& file : service.tls->Files()) files.push_back(std::move(file));
    }
  }
  // Re-arms on the same fd: an edit made while the reload ran is still
  // queued.
  bool polled = watch_.Fd() >= 0;
  watch_.Watch(files, config_.include_dirs);
  if (!polled && watch_.Fd() >= 0) poll_.Add(watch_.Fd(), [this](short) { OnConfigChanged(); });
}

void Supervisor::OnConfigChanged() {
  if (!watch_.Changed() || stopping_) return;
  watch_reload_ = timers_.Schedule(clock_.Now() + kWatchDebounce, [this] { Reload("watch"); });
}

void Supervisor::LogStatus() const { StatusReport::LogSnapshot(services_, listeners_); }

}  // namespace yinetd::supervisor
