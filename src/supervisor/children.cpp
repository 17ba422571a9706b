#include "supervisor/children.h"

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>

#include "log/events.h"
#include "supervisor/tls_service.h"

namespace yinetd::supervisor {
namespace {

int64_t MillisBetween(TimePoint start, TimePoint end) {
  return std::chrono::duration_cast<milliseconds>(end - start).count();
}

// A front writes its one record and closes the pipe as soon as its
// handshake is over, in one write below PIPE_BUF: a read finds all of it or
// nothing yet (the pipe is non-blocking). Once it has come, the pipe has
// nothing more to say and is closed.
void TakeTlsOutcome(ChildRecord& record) {
  if (!record.tls_outcome) return;
  tls::Outcome outcome = ReadOutcome(record.tls_outcome.Get());
  if (!outcome.received) return;
  record.tls = std::move(outcome);
  record.tls_outcome.Reset();
}

}  // namespace

Children::Children(const Clock& clock, TimerQueue& timers, PollSet& poll, ProcessStarter& processes)
    : clock_(clock), timers_(timers), poll_(poll), processes_(processes) {
  if (int fd = processes_.ReapFd(); fd >= 0) poll_.AddFirst(fd, [this](short) { ReapExited(); });
}

Children::~Children() {
  if (int fd = processes_.ReapFd(); fd >= 0) poll_.Remove(fd);
}

std::optional<RefuseReason> Children::Admit(Service& service, const std::optional<net::IpAddress>& client,
                                            SourceKey& source) {
  if (client && !service.config.access.Permits(*client)) return RefuseReason::kDenied;
  if (Full()) return RefuseReason::kMaxChildren;
  source = SourceOf(client, service.config.limits);
  return service.state->gate.Check(source, service.Running(), clock_.Now());
}

void Children::Refused(Service& service, std::string_view peer, std::string_view reason, std::string_view via,
                       std::string_view detail) {
  service.state->counts.CountRefusal(reason);
  if (refusals_.Record(service.Name(), std::string(reason), clock_.Now())) {
    log::Refuse(service.Name(), peer, reason, via, detail);
  } else {
    ScheduleRefusalFlush();
  }
}

void Children::ScheduleRefusalFlush() {
  if (refusal_flush_.Armed()) return;
  if (std::optional<TimePoint> at = refusals_.NextFlush()) {
    refusal_flush_ = timers_.Schedule(*at, [this] { FlushRefusals(); });
  }
}

// tls_error lines share the refusals' rate limit, under keys of their own.
constexpr std::string_view kTlsReasonPrefix = "tls:";

void Children::TlsFailed(Service& service, pid_t pid, std::string_view peer, const std::string& reason,
                         std::string_view detail) {
  service.state->counts.CountTlsFailure(reason);
  if (refusals_.Record(service.Name(), std::string(kTlsReasonPrefix) + reason, clock_.Now())) {
    log::TlsError(service.Name(), pid, peer, reason, detail);
  } else {
    ScheduleRefusalFlush();
  }
}

void Children::FlushRefusals() {
  for (const auto& suppressed : refusals_.Flush(clock_.Now())) {
    std::string_view reason = suppressed.reason;
    if (reason.substr(0, kTlsReasonPrefix.size()) == kTlsReasonPrefix) {
      log::TlsErrorsSuppressed(suppressed.service, reason.substr(kTlsReasonPrefix.size()), suppressed.count);
    } else {
      log::RefusalsSuppressed(suppressed.service, suppressed.reason, suppressed.count);
    }
  }
  ScheduleRefusalFlush();
}

void Children::Started(std::shared_ptr<Service> service, pid_t pid, std::string peer,
                       std::optional<net::IpAddress> client, const SourceKey& source, UniqueFd report_pipe,
                       UniqueFd tls_outcome, std::string via) {
  ServiceState& state = *service->state;
  ++state.counts.running;
  ++state.counts.accepted;
  state.gate.CountIn(source);
  // A pid in use again means the group it once led is gone.
  lingering_.erase(pid);
  log::Accept(service->Name(), pid, peer, via);
  ChildRecord& record = children_[pid];
  record.service = std::move(service);
  record.pid = pid;
  record.peer = std::move(peer);
  record.via = std::move(via);
  record.client = client;
  record.source = source;
  record.started = clock_.Now();
  if (report_pipe) record.output = std::make_unique<OutputReader>(std::move(report_pipe));
  record.tls_outcome = std::move(tls_outcome);
  ArmTimeout(record);
  WatchOutput(record);
}

void Children::ReapAll() {
  ReapExited();
  if (processes_.ReapFd() < 0) {
    ScanAll();
    return;
  }
  // The SIGCHLD was most likely for a child the reap fd reported, and
  // scanning 5,000 children for each costs more than the rest of a
  // connection. But SIGCHLDs merge, and one may also have come from a
  // child without a pidfd: a scan later keeps that from staying a zombie,
  // at most one scan per scan_delay_.
  if (scan_.Armed()) return;
  scan_ = timers_.Schedule(clock_.Now() + scan_delay_, [this] {
    scan_delay_ = ScanAll() > 0 ? kScanDelay : std::min(scan_delay_ * 2, kMaxScanDelay);
  });
}

void Children::ReapExited() {
  while (std::optional<Reaped> reaped = processes_.Reap(ReapScope::kExited)) Ended(*reaped);
}

size_t Children::ScanAll() {
  size_t found = 0;
  for (; std::optional<Reaped> reaped = processes_.Reap(ReapScope::kAny); ++found) Ended(*reaped);
  return found;
}

void Children::Ended(const Reaped& reaped) {
  auto it = children_.find(reaped.pid);
  if (it == children_.end()) return;  // not ours (a test helper's, say)
  ChildRecord record = std::move(it->second);
  children_.erase(it);
  Service& service = *record.service;
  ServiceState& state = *service.state;
  --state.counts.running;
  state.gate.CountOut(record.source);
  TimePoint now = clock_.Now();
  ChildUsage used = UsageOf(reaped.usage);
  state.counts.CountExit(WIFSIGNALED(reaped.status), std::chrono::duration<double>(now - record.started).count(),
                         static_cast<double>(used.cpu_ms) / 1000);
  if (reaped.start_failure) {
    log::ExecFailed(service.Name(), record.pid, service.program_text, reaped.start_failure->call,
                    reaped.start_failure->err);
  }
  if (record.output) {
    // What the child wrote before it died comes before its exit line.
    int fd = record.output->Fd();
    ForwardOutput(service, record.pid, *record.output);
    poll_.Remove(fd);
    if (!record.output->AtEof()) KeepOrphanOutput(record.service, record.pid, std::move(record.output));
  }
  // A TLS child's front said how its handshake went: a failure is its one
  // line (tls_error), a success adds to the exit line.
  TakeTlsOutcome(record);
  const tls::Outcome& outcome = record.tls;
  if (!outcome.failure.empty()) {
    TlsFailed(service, record.pid, record.peer, outcome.failure, outcome.detail);
  } else {
    log::Exit(service.Name(), record.pid, record.peer, reaped.status, MillisBetween(record.started, now),
              used.cpu_ms, used.maxrss_kb, record.kill_reason, record.via,
              log::TlsFacts{outcome.version, outcome.client, outcome.ktls});
  }
  if (processes_.GroupAlive(record.pid)) {
    Linger(record);
  } else if (record.kill_reason == "timeout" && HeldOf(service) == 0) {
    // Ended by its timeout, its group gone: what is left in the service's
    // cgroup left the group (setsid), and no other connection's is there.
    KillCgroup(service);
  }
  if (on_ended) on_ended(record, reaped.status);
}

void Children::CollectTlsOutcomes() {
  for (auto& [pid, record] : children_) TakeTlsOutcome(record);
}

void Children::Recount(Service& service) {
  ServiceGate& gate = service.state->gate;
  gate.ClearSourceCounts();
  for (auto& [pid, record] : children_) {
    if (record.service->state != service.state) continue;
    record.source = SourceOf(record.client, service.config.limits);
    gate.CountIn(record.source);
  }
}

void Children::ArmTimeout(ChildRecord& record) {
  const std::optional<milliseconds>& timeout = record.service->config.timeout;
  if (!timeout) return;
  record.term_at = SaturatingAdd(record.started, *timeout);
  pid_t pid = record.pid;
  record.deadline = timers_.Schedule(*record.term_at, [this, pid] { OnTimeout(pid); });
}

void Children::OnTimeout(pid_t pid) {
  TimePoint now = clock_.Now();
  Timer* deadline = nullptr;
  std::shared_ptr<Service> service;
  if (auto child = children_.find(pid); child != children_.end()) {
    child->second.kill_reason = "timeout";
    deadline = &child->second.deadline;
    service = child->second.service;
  } else if (auto group = lingering_.find(pid); group != lingering_.end()) {
    deadline = &group->second.deadline;
    service = group->second.service;
  } else {
    return;
  }
  SignalGroup(service->Name(), pid, SIGTERM);
  *deadline = timers_.Schedule(SaturatingAdd(now, service->config.kill_grace), [this, pid] { OnKillGrace(pid); });
}

void Children::OnKillGrace(pid_t pid) {
  std::shared_ptr<Service> service;
  if (auto child = children_.find(pid); child != children_.end()) {
    service = child->second.service;
  } else if (auto group = lingering_.find(pid); group != lingering_.end()) {
    service = group->second.service;
  } else {
    return;
  }
  SignalGroup(service->Name(), pid, SIGKILL);
  log::Kill(service->Name(), pid, SIGKILL);
  // The service's cgroup holds this connection's whole tree, also what left
  // its process group, but only while no other connection of the service
  // runs or lingers: theirs is in the same group.
  if (HeldOf(*service) == 1) KillCgroup(*service);
}

int Children::HeldOf(const Service& service) const {
  int held = 0;
  for (const auto& entry : children_) held += entry.second.service->state == service.state ? 1 : 0;
  for (const auto& entry : lingering_) held += entry.second.service->state == service.state ? 1 : 0;
  return held;
}

void Children::KillCgroup(const Service& service) {
  if (!service.sandbox || !service.sandbox->cgroup) return;
  if (!processes_.KillCgroup(service.sandbox->cgroup.Get())) {
    log::SyscallFailed(service.Name(), "write", "cgroup.kill", errno);
  }
}

void Children::SignalGroup(std::string_view service, pid_t pid, int signo) {
  if (!processes_.Signal(pid, signo) && errno != ESRCH) {
    log::SyscallFailed(service, "kill", std::to_string(pid), errno);
  }
}

void Children::Linger(const ChildRecord& record) {
  Lingering& group = lingering_[record.pid];
  group.service = record.service;
  pid_t pid = record.pid;
  // The program's timeout goes on for what it left behind.
  if (record.term_at && record.kill_reason != "timeout") {
    group.deadline = timers_.Schedule(*record.term_at, [this, pid] { OnTimeout(pid); });
  } else if (record.kill_reason == "timeout") {
    group.deadline = timers_.Schedule(SaturatingAdd(clock_.Now(), record.service->config.kill_grace),
                                      [this, pid] { OnKillGrace(pid); });
  }
  if (stopping_) SignalGroup(group.service->Name(), pid, killed_ ? SIGKILL : SIGTERM);
  group.check = timers_.Schedule(clock_.Now() + (stopping_ ? milliseconds(50) : kLingerCheck),
                                 [this, pid] { CheckLingering(pid); });
}

void Children::CheckLingering(pid_t pgid) {
  auto it = lingering_.find(pgid);
  if (it == lingering_.end()) return;
  if (!processes_.GroupAlive(pgid)) {
    lingering_.erase(it);
    return;
  }
  it->second.check = timers_.Schedule(clock_.Now() + (stopping_ ? milliseconds(50) : kLingerCheck),
                                      [this, pgid] { CheckLingering(pgid); });
}

void Children::WatchOutput(ChildRecord& record) {
  // Without stderr=log the pipe (if any) only ever carries a start failure,
  // written before the child exits and read when it is reaped: polling it
  // would cost a wake-up, for the EOF at exec.
  if (!record.output || record.service->config.stderr_mode != config::StderrMode::kLog) return;
  pid_t pid = record.pid;
  int fd = record.output->Fd();
  poll_.Add(fd, [this, pid, fd](short) {
    auto it = children_.find(pid);
    if (it == children_.end()) return;
    ForwardOutput(*it->second.service, pid, *it->second.output);
    if (it->second.output->AtEof()) poll_.Remove(fd);
  });
}

void Children::KeepOrphanOutput(std::shared_ptr<Service> service, pid_t pid, std::unique_ptr<OutputReader> output) {
  int fd = output->Fd();
  orphans_[fd] = Orphan{std::move(service), pid, std::move(output)};
  poll_.Add(fd, [this, fd](short) {
    auto it = orphans_.find(fd);
    if (it == orphans_.end()) return;
    ForwardOutput(*it->second.service, it->second.pid, *it->second.output);
    if (!it->second.output->AtEof()) return;
    poll_.Remove(fd);
    orphans_.erase(it);
  });
}

void Children::ForwardOutput(Service& service, pid_t pid, OutputReader& output) {
  // Only ever the program's output: start failures come another way
  // (Reaped::start_failure), so nothing a program prints can pass for one.
  for (const std::string& line : output.Read()) log::Stderr(service.Name(), pid, line);
}

void Children::BeginShutdown(milliseconds grace) {
  if (stopping_) return;
  stopping_ = true;
  for (auto& [pid, child] : children_) {
    child.kill_reason = "shutdown";
    child.deadline.Cancel();
    SignalGroup(child.service->Name(), pid, SIGTERM);
  }
  for (auto& [pgid, group] : lingering_) {
    group.deadline.Cancel();
    SignalGroup(group.service->Name(), pgid, SIGTERM);
    group.check = timers_.Schedule(clock_.Now() + milliseconds(50), [this, pgid = pgid] { CheckLingering(pgid); });
  }
  shutdown_kill_ = timers_.Schedule(SaturatingAdd(clock_.Now(), grace), [this] {
    killed_ = true;
    for (auto& [pid, child] : children_) {
      child.kill_reason = "shutdown_timeout";
      SignalGroup(child.service->Name(), pid, SIGKILL);
      log::Kill(child.service->Name(), pid, SIGKILL);
    }
    for (auto& [pgid, group] : lingering_) SignalGroup(group.service->Name(), pgid, SIGKILL);
  });
}

bool Children::Done() const { return stopping_ && children_.empty() && (lingering_.empty() || killed_); }

}  // namespace yinetd::supervisor
