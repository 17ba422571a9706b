// The Supervisor's admission control: access lists, max_children, each
// service's gate (limits.h), refusals and per-child timeouts. Kept apart
// from the loop in supervisor.cpp; the rules themselves are pure and live
// in limits.* and net/access_list.*.
#include <signal.h>
#include <sys/socket.h>

#include <cerrno>

#include "log/events.h"
#include "supervisor/supervisor.h"

namespace yinetd::supervisor {

std::optional<RefuseReason> Supervisor::Admit(Listener& listener, const sockaddr* peer, SourceKey& source) {
  Service& service = *listener.service;
  std::optional<net::IpAddress> ip = net::IpOf(peer);
  if (ip && !service.config.access.Permits(*ip)) return RefuseReason::kDenied;
  if (static_cast<int>(children_.Size()) >= max_children_) return RefuseReason::kMaxChildren;
  source = SourceOf(ip, service.config.limits);
  return service.gate.Admit(source, service.running, Clock::now());
}

void Supervisor::Refuse(Listener& listener, UniqueFd connection, const net::Endpoint& peer,
                        RefuseReason reason) {
  Service& service = *listener.service;
  const std::string& message = service.config.refuse_message;
  if (!message.empty()) {
    // Best effort and never blocking: a fresh socket's send buffer takes a
    // line, and a client that is already gone does not matter.
    std::string line = message.back() == '\n' ? message : message + "\r\n";
    [[maybe_unused]] ssize_t sent = send(connection.Get(), line.data(), line.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  }
  connection.Reset();
  service.totals.refused++;
  std::string reason_name(ReasonName(reason));
  metrics_.Refused(service.config.name, reason_name);
  if (refusals_.Record(service.config.name, reason_name, Clock::now())) {
    log::Refuse(service.config.name, peer.ToString(), reason_name);
  }
}

bool Supervisor::ShouldQueue(const Listener& listener) const {
  const Service& service = *listener.service;
  if (service.config.limits.overflow != config::Overflow::kQueue) return false;
  return service.gate.Full(service.running) || static_cast<int>(children_.Size()) >= max_children_;
}

void Supervisor::StartTimeout(ChildRecord& record) {
  if (record.service->config.timeout) record.term_at = record.started + *record.service->config.timeout;
}

void Supervisor::EnforceTimeouts() {
  Clock::time_point now = Clock::now();
  for (auto& [pid, child] : children_.Children()) {
    if (child.term_at && now >= *child.term_at) {
      child.term_at.reset();
      child.kill_at = now + child.service->config.kill_grace;
      child.kill_reason = "timeout";
      SignalChild(child, SIGTERM);
    } else if (child.kill_at && now >= *child.kill_at) {
      child.kill_at.reset();
      SignalChild(child, SIGKILL);
      log::Kill(child.service->config.name, pid, SIGKILL);
    }
  }
}

// tls_error lines share the refusals' rate limit, under keys of their own.
constexpr std::string_view kTlsReasonPrefix = "tls:";

void Supervisor::LogTlsError(Service& service, pid_t pid, const std::string& peer, const std::string& reason,
                             const std::string& detail) {
  metrics_.TlsHandshakeFailed(service.config.name, reason);
  if (refusals_.Record(service.config.name, std::string(kTlsReasonPrefix) + reason, Clock::now())) {
    log::TlsError(service.config.name, pid, peer, reason, detail);
  }
}

void Supervisor::FlushRefusals() {
  for (const auto& suppressed : refusals_.Flush(Clock::now())) {
    std::string_view reason = suppressed.reason;
    if (reason.substr(0, kTlsReasonPrefix.size()) == kTlsReasonPrefix) {
      log::TlsErrorsSuppressed(suppressed.service, reason.substr(kTlsReasonPrefix.size()), suppressed.count);
    } else {
      log::RefusalsSuppressed(suppressed.service, suppressed.reason, suppressed.count);
    }
  }
}

std::optional<Clock::time_point> Supervisor::NextLimitDeadline() const {
  std::optional<Clock::time_point> next = refusals_.NextFlush();
  auto consider = [&](const std::optional<Clock::time_point>& t) {
    if (t && (!next || *t < *next)) next = t;
  };
  for (const auto& [pid, child] : children_.Children()) {
    consider(child.term_at);
    consider(child.kill_at);
  }
  return next;
}

}  // namespace yinetd::supervisor
