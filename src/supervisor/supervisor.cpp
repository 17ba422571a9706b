#include "supervisor/supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>

#include "log/events.h"
#include "net/listener.h"
#include "spawn/child_env.h"
#include "systemd/notify.h"
#include "sys/sys_error.h"

namespace yinetd::supervisor {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

// How long a listener rests after accept or spawn failed.
constexpr milliseconds kServeErrorPause{250};
// The least time between two STATUS= updates to systemd.
constexpr milliseconds kStatusInterval{1000};
// How long without fd exhaustion ends an episode (and logs `resume`).
constexpr milliseconds kExhaustionQuiet{1000};

int64_t MillisSince(Clock::time_point start) {
  return duration_cast<milliseconds>(Clock::now() - start).count();
}

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

// Out of descriptors or memory: accepting again at once would spin.
bool IsExhaustionError(int err) {
  return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

bool NeedsReportPipe(const Service& service) {
  const config::ServiceConfig& config = service.config;
  return spawn::NeedsReportPipe(config.stderr_mode, spawn::ClonesChild(service.builtin));
}

// Each child may cost yinetd one descriptor (its report pipe) while it runs;
// keep a reserve for listeners, logs and accepting. RLIMIT_NPROC bounds the
// processes of our uid (not enforced for root, but a sane bound all the same).
int DefaultMaxChildren() {
  constexpr rlim_t kReserveFds = 64;
  constexpr rlim_t kCeiling = 65536;
  rlimit nofile{}, nproc{};
  getrlimit(RLIMIT_NOFILE, &nofile);
  getrlimit(RLIMIT_NPROC, &nproc);
  rlim_t bound = kCeiling;
  if (nofile.rlim_cur != RLIM_INFINITY) bound = std::min(bound, nofile.rlim_cur > kReserveFds * 2 ? nofile.rlim_cur - kReserveFds : nofile.rlim_cur / 2);
  if (nproc.rlim_cur != RLIM_INFINITY) bound = std::min(bound, nproc.rlim_cur);
  return static_cast<int>(std::max<rlim_t>(bound, 1));
}

}  // namespace

Supervisor::Supervisor(config::Config config, spawn::Spawner& spawner)
    : config_(std::move(config)),
      spawner_(spawner),
      max_children_(config_.max_children.value_or(DefaultMaxChildren())),
      metrics_(std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count()) {
  devnull_.Reset(open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!devnull_) throw SysError("open /dev/null", errno);
}

void Supervisor::Adopt(size_t service, size_t address, UniqueFd fd, std::string fd_name) {
  const config::ServiceConfig& config = config_.services.at(service);
  adopted_[{config.name, config.listen.at(address).ToString()}] = Passed{std::move(fd), std::move(fd_name)};
}

void Supervisor::Bind() {
  for (const auto& service_config : config_.services) {
    services_.push_back(std::make_shared<Service>(service_config));
    metrics_.AddService(service_config.name);
  }
  std::vector<Listener> none;
  OpenListeners(services_, none, true);
  adopted_.clear();  // placed by systemd::PlaceSockets: every one was used
  WatchConfig();
}

bool Supervisor::UseAdopted(Listener& listener) {
  auto passed = adopted_.find({listener.service->config.name, listener.addr_text});
  if (passed == adopted_.end()) return false;
  listener.fd = std::move(passed->second.fd);
  listener.adopted = true;
  log::Adopt(listener.service->config.name, listener.addr_text, listener.fd.Get(), passed->second.name);
  adopted_.erase(passed);
  return true;
}

std::string Supervisor::Status() const {
  if (stopping_) return "stopping, " + std::to_string(children_.Size()) + " running";
  return systemd::StatusText(config_.services.size(), children_.Size());
}

void Supervisor::NotifyReady() {
  notified_counts_ = {config_.services.size(), children_.Size()};
  last_status_at_ = Clock::now();
  systemd::NotifyReady(Status());
}

void Supervisor::RefreshStatus() {
  // systemctl status shows the last STATUS=: keep its count of running
  // programs current, but send at most one a second however busy we are.
  // Compared as counts: the text is built only when it is sent.
  if (stopping_ || !systemd::NotifyEnabled()) return;
  std::pair<size_t, size_t> counts{config_.services.size(), children_.Size()};
  if (counts == notified_counts_) {
    status_due_.reset();
    return;
  }
  Clock::time_point now = Clock::now();
  if (now < last_status_at_ + kStatusInterval) {
    status_due_ = last_status_at_ + kStatusInterval;  // poll wakes for it
    return;
  }
  systemd::NotifyStatus(Status());
  notified_counts_ = counts;
  last_status_at_ = now;
  status_due_.reset();
}

int Supervisor::Run(SignalPipe& signals) {
  while (!ShutdownComplete()) {
    BuildPollSet(signals.ReadFd());
    log::Flush();  // what this pass logged, in one write, before we sleep
    int ready = RetryOnEintr([&] { return poll(poll_fds_.data(), poll_fds_.size(), PollTimeoutMs()); });
    if (ready < 0) {
      log::SyscallFailed("", "poll", "", errno);
      continue;
    }
    for (size_t i = 0; i < poll_fds_.size(); ++i) {
      if (poll_fds_[i].revents == 0) continue;
      const PollTarget& target = poll_targets_[i];
      if (target.kind == PollKind::kChild) {
        if (ChildRecord* child = children_.Find(target.pid)) {
          ForwardOutput(*child->service, child->pid, child->output);
        }
      } else if (target.kind == PollKind::kOrphan) {
        OrphanOutput& orphan = children_.Orphans()[target.index];
        ForwardOutput(*orphan.service, orphan.pid, orphan.output);
      }
    }
    if (poll_fds_[0].revents != 0) HandleSignals(signals);
    for (size_t i = 0; i < poll_fds_.size(); ++i) {
      if (poll_targets_[i].kind == PollKind::kListener && poll_fds_[i].revents != 0 && !stopping_) {
        AcceptBatch(listeners_[poll_targets_[i].index]);
      }
    }
    for (size_t i = 0; i < poll_fds_.size(); ++i) {
      if (poll_targets_[i].kind == PollKind::kControl && poll_fds_[i].revents != 0) ServeControl(poll_fds_[i]);
    }
    if (control_) control_->Expire(Clock::now());
    if (!stopping_ && poll_fds_.size() > 1 && poll_targets_[1].kind == PollKind::kWatch &&
        poll_fds_[1].revents != 0) {
      OnConfigChanged();
    }
    children_.PruneOrphans();
    EndQuietEpisodes();
    EnforceTimeouts();
    FlushRefusals();
    RunPendingReload();
    RefreshStatus();
  }
  log::Stop(0);
  return 0;
}

void Supervisor::BuildPollSet(int signal_fd) {
  poll_fds_.clear();
  poll_targets_.clear();
  auto add = [&](int fd, PollTarget target, short events = POLLIN) {
    poll_fds_.push_back(pollfd{fd, events, 0});
    poll_targets_.push_back(target);
  };
  add(signal_fd, {PollKind::kSignals, 0, 0});
  if (watch_.Fd() >= 0) add(watch_.Fd(), {PollKind::kWatch, 0, 0});
  Clock::time_point now = Clock::now();
  for (size_t i = 0; i < listeners_.size(); ++i) {
    const Listener& listener = listeners_[i];
    if (listener.paused_until <= now && !listener.wait_child && !ShouldQueue(listener)) {
      add(listener.fd.Get(), {PollKind::kListener, i, 0});
    }
  }
  for (auto& [pid, child] : children_.Children()) {
    // Without stderr=log the pipe (if any) only ever carries a start
    // failure, written before the child exits and read when it is reaped
    // (LogExit): polling it would cost a wake-up, for the EOF at exec.
    if (child.service->config.stderr_mode != config::StderrMode::kLog) continue;
    if (!child.output.AtEof()) add(child.output.Fd(), {PollKind::kChild, 0, pid});
  }
  auto& orphans = children_.Orphans();
  for (size_t i = 0; i < orphans.size(); ++i) add(orphans[i].output.Fd(), {PollKind::kOrphan, i, 0});
  if (control_) {
    for (const pollfd& watch : control_->Watches()) add(watch.fd, {PollKind::kControl, 0, 0}, watch.events);
  }
}

int Supervisor::PollTimeoutMs() const {
  Clock::time_point now = Clock::now();
  std::optional<Clock::time_point> next;
  auto consider = [&](Clock::time_point t) {
    if (t > now && (!next || t < *next)) next = t;
  };
  for (const Listener& listener : listeners_) {
    consider(listener.paused_until);
    if (listener.exhausted) consider(listener.last_exhausted + kExhaustionQuiet);
  }
  if (stopping_) consider(kill_deadline_);
  if (auto deadline = NextLimitDeadline()) consider(*deadline);
  if (reload_at_) consider(*reload_at_);
  if (status_due_) consider(*status_due_);
  if (control_) {
    if (auto deadline = control_->NextDeadline()) consider(*deadline);
  }
  if (!next) return -1;
  // Round up so we never wake a millisecond early and spin.
  return static_cast<int>(duration_cast<milliseconds>(*next - now).count()) + 1;
}

void Supervisor::HandleSignals(SignalPipe& signals) {
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
        reload_requested_ = true;  // after this pass: poll targets point into listeners_
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
}

void Supervisor::ReapChildren() {
  for (;;) {
    int status = 0;
    pid_t pid = RetryOnEintr([&] { return waitpid(-1, &status, WNOHANG); });
    if (pid == 0) return;  // children remain, none dead
    if (pid < 0) {
      if (errno != ECHILD) log::SyscallFailed("", "waitpid", "", errno);
      return;
    }
    std::optional<ChildRecord> record = children_.Remove(pid);
    if (!record) continue;
    record->service->gate.Release(record->source);
    record->service->totals.exited++;
    LogExit(*record, status);
    ResumeWaitListener(pid, status);
  }
}

void Supervisor::ResumeWaitListener(pid_t pid, int wait_status) {
  for (Listener& listener : listeners_) {
    if (listener.wait_child != pid) continue;
    listener.wait_child.reset();
    // A program that fails leaves its datagram or client queued, and the
    // socket would be ready again at once: rest rather than fork in a loop.
    bool failed = !WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != 0;
    if (failed) listener.paused_until = Clock::now() + kServeErrorPause;
  }
}

void Supervisor::LogExit(ChildRecord& record, int wait_status) {
  // The child wrote before it died: log its last lines before its exit.
  ForwardOutput(*record.service, record.pid, record.output);
  log::Exit(record.service->config.name, record.pid, record.peer, wait_status,
            MillisSince(record.started), record.kill_reason);
  metrics_.Exited(record.service->config.name, WIFSIGNALED(wait_status),
                  std::chrono::duration<double>(Clock::now() - record.started).count());
  if (!record.output.AtEof()) {
    children_.AddOrphan(OrphanOutput{record.service, record.pid, std::move(record.output)});
  }
}

void Supervisor::ForwardOutput(Service& service, pid_t pid, OutputReader& output) {
  for (const std::string& line : output.Read()) {
    // A forked child's failure to start (spawn::Spawner).
    if (auto failure = spawn::ParseStartFailure(line)) {
      log::ExecFailed(service.config.name, pid, service.program_text, failure->step, failure->err);
    } else {
      log::Stderr(service.config.name, pid, line);
    }
  }
}

void Supervisor::AcceptBatch(Listener& listener) {
  if (listener.service->config.mode == config::Mode::kWait) {
    StartWaitChild(listener);
    return;
  }
  for (int i = 0; i < kAcceptBatch; ++i) {
    if (!AcceptOne(listener)) return;
  }
}

// Accepts and serves one connection; false when the listener has no more
// for now (or must pause).
bool Supervisor::AcceptOne(Listener& listener) {
  // overflow: queue, and the service filled up within this batch: leave the
  // rest in the backlog rather than accept and refuse them.
  if (ShouldQueue(listener)) return false;
  if (!ReadyReportPipe(listener)) return false;
  net::SockAddr peer_addr;
  peer_addr.length = sizeof peer_addr.storage;
  UniqueFd connection(RetryOnEintr(
      [&] { return accept4(listener.fd.Get(), peer_addr.Get(), &peer_addr.length, SOCK_CLOEXEC); }));
  if (!connection) {
    int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK) return false;
    if (IsTransientAcceptError(err)) return true;
    OnServeError(listener, "accept4", err);
    return false;
  }
  net::Endpoint peer = net::ToEndpoint(peer_addr.Get(), peer_addr.length);
  SourceKey source;
  if (auto reason = Admit(listener, peer_addr.Get(), source)) {
    Refuse(listener, std::move(connection), peer, *reason);
    return true;
  }
  return StartChild(listener, std::move(connection), peer, source);
}

void Supervisor::OnServeError(Listener& listener, std::string_view call, int err) {
  Clock::time_point now = Clock::now();
  listener.paused_until = now + kServeErrorPause;
  if (!IsExhaustionError(err)) {
    log::SyscallFailed(listener.service->config.name, call, listener.addr_text, err);
    return;
  }
  // Log the first failure of an episode only; the pause keeps poll from
  // reporting the same pending connection in a tight loop.
  listener.last_exhausted = now;
  if (listener.exhausted) return;
  listener.exhausted = true;
  log::SyscallFailed(listener.service->config.name, call, listener.addr_text, err);
  log::Pause(listener.service->config.name, listener.addr_text, "fd_exhausted",
             kServeErrorPause.count());
}

void Supervisor::EndQuietEpisodes() {
  // An episode ends after a quiet spell, so a service hovering at its fd
  // limit logs one pause, not one per connection.
  Clock::time_point now = Clock::now();
  for (Listener& listener : listeners_) {
    if (!listener.exhausted || now - listener.last_exhausted < kExhaustionQuiet) continue;
    listener.exhausted = false;
    log::Resume(listener.service->config.name, listener.addr_text);
  }
}

bool Supervisor::StartChild(Listener& listener, UniqueFd connection, const net::Endpoint& peer,
                            const SourceKey& source) {
  Service& service = *listener.service;
  spawn::Connection ends{peer, listener.fixed_local ? listener.local : net::LocalEndpoint(connection.Get())};
  if (peer.is_unix) ends.credentials = net::PeerCredentialsOf(connection.Get());
  std::optional<pid_t> pid =
      SpawnChild(listener, connection.Get(), spawn::BuildEnv(service.config, ends), peer.ToString(), source);
  connection.Reset();  // the parent's copy: the child has its own
  return pid.has_value();
}

// The report pipe the next child of `listener` needs, if any, opened before
// accept (see spawn::ReportPipe). False: none could be opened, and the
// listener rests.
bool Supervisor::ReadyReportPipe(Listener& listener) {
  const Service& service = *listener.service;
  if (!NeedsReportPipe(service) || spare_pipe_.read_end) return true;
  spawn::SysResult opened = spawn::OpenReportPipe(spare_pipe_);
  if (opened.Ok()) return true;
  spare_pipe_ = spawn::ReportPipe{};
  OnServeError(listener, opened.call, opened.err);
  return false;
}

namespace {

// The sender of the datagram waiting on a UDP socket, read without taking
// it (MSG_PEEK), and without waiting (MSG_DONTWAIT: a wait-mode socket
// blocks); "" when there is none or the socket is not UDP.
std::string PeekDatagramSender(const Listener& listener) {
  if (listener.service->config.protocol != config::Protocol::kUdp) return "";
  net::SockAddr sender;
  sender.length = sizeof sender.storage;
  char byte;
  ssize_t n = RetryOnEintr([&] {
    return recvfrom(listener.fd.Get(), &byte, sizeof byte, MSG_PEEK | MSG_DONTWAIT, sender.Get(), &sender.length);
  });
  if (n < 0 || sender.length == 0) return "";
  return net::ToEndpoint(sender.Get(), sender.length).ToString();
}

}  // namespace

void Supervisor::StartWaitChild(Listener& listener) {
  if (!ReadyReportPipe(listener)) return;
  // The program meets its clients itself, so there is no source to admit
  // or count; max_connections and allow/deny do not apply. The peer named
  // in the log is that of the datagram that woke the service.
  listener.wait_child = SpawnChild(listener, listener.fd.Get(),
                                   spawn::BuildWaitEnv(listener.service->config, listener.address),
                                   PeekDatagramSender(listener), SourceKey{});
}

std::optional<pid_t> Supervisor::SpawnChild(Listener& listener, int fd, std::vector<std::string> env,
                                            std::string peer_text, const SourceKey& source) {
  Service& service = *listener.service;
  std::vector<char*> envp = spawn::ToExecArray(env);
  spawn::ChildSpec spec{service.config.program.c_str(),
                        service.argv_ptrs.data(),
                        envp.data(),
                        fd,
                        service.config.stderr_mode,
                        devnull_.Get(),
                        service.config.credentials ? &*service.config.credentials : nullptr,
                        &service.config.process,
                        service.builtin};
  // A snapshot of the counters as they are now; the forked child serves
  // its copy while we count on.
  std::string metrics_text;
  if (service.builtin != nullptr && service.builtin->serves_metrics) {
    metrics_text = metrics_.Exposition();
    spec.prepared = metrics_text;
  }
  spawn::ReportPipe pipe;
  if (NeedsReportPipe(service)) pipe = std::move(spare_pipe_);
  spawn::Started started;
  spawn::SysResult spawned = spawner_.Spawn(spec, pipe, started);
  if (!spawned.Ok()) {
    // clone or fork refused (EAGAIN, ENOMEM): this client is closed, and the
    // listener rests before the next.
    service.gate.Release(source);
    OnServeError(listener, spawned.call, spawned.err);
    return std::nullopt;
  }
  pid_t pid = started.pid;
  log::Accept(service.config.name, pid, peer_text);
  if (started.failure) {
    log::ExecFailed(service.config.name, pid, service.program_text, started.failure->step, started.failure->err);
  }
  metrics_.Accepted(service.config.name);
  service.totals.accepted++;
  ChildRecord record{listener.service, pid, std::move(peer_text), Clock::now(),
                     OutputReader(std::move(pipe.read_end)), "", source, std::nullopt, std::nullopt};
  StartTimeout(record);
  children_.Add(std::move(record));
  return pid;
}

void Supervisor::BeginShutdown() {
  if (stopping_) return;
  stopping_ = true;
  for (const Listener& listener : listeners_) {
    if (listener.address.family == net::Address::Family::kUnix && !listener.adopted) {
      unlink(listener.address.path.c_str());
    }
  }
  listeners_.clear();
  watch_.Stop();
  log::Shutdown(children_.Size(), config_.shutdown_grace.count());
  systemd::NotifyStopping(Status());
  SignalChildren(SIGTERM, "shutdown");
  kill_deadline_ = Clock::now() + config_.shutdown_grace;
}

void Supervisor::SignalChildren(int signo, const char* reason) {
  for (auto& [pid, child] : children_.Children()) {
    child.kill_reason = reason;
    SignalChild(child, signo);
    if (signo == SIGKILL) log::Kill(child.service->config.name, pid, signo);
  }
}

void Supervisor::SignalChild(const ChildRecord& child, int signo) {
  // The whole process group first (a shell's children too); the child may
  // not have called setpgid yet, so fall back to the pid alone.
  if (kill(-child.pid, signo) != 0 && kill(child.pid, signo) != 0 && errno != ESRCH) {
    log::SyscallFailed(child.service->config.name, "kill", std::to_string(child.pid), errno);
  }
}

bool Supervisor::ShutdownComplete() {
  if (!stopping_) return false;
  if (children_.Empty()) return true;
  if (!killed_ && Clock::now() >= kill_deadline_) {
    killed_ = true;
    SignalChildren(SIGKILL, "shutdown_timeout");
  }
  return false;
}

}  // namespace yinetd::supervisor
