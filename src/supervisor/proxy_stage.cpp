// The loop's PROXY protocol stage: a proxy_protocol service's connection
// goes accept → trusted balancer? → HeaderWait (polled, with a deadline, no
// process) → Serve on the client the header names. Reading the header is
// HeaderWait's job; here it is plugged into the poll set and timer queue,
// and every way out is counted: proxy_untrusted, proxy_busy, proxy_invalid,
// proxy_timeout.
#include <algorithm>

#include "log/events.h"
#include "supervisor/supervisor.h"

namespace yinetd::supervisor {
namespace {

bool Trusted(const std::vector<net::Cidr>& from, const net::IpAddress& ip) {
  return std::any_of(from.begin(), from.end(), [&](const net::Cidr& cidr) { return cidr.Contains(ip); });
}

}  // namespace

void Supervisor::AwaitHeader(Listener& listener, UniqueFd connection, const net::Endpoint& peer,
                             const std::optional<net::IpAddress>& ip) {
  Service& service = *listener.service;
  const config::ProxySettings& proxy = service.config.proxy;
  // Only a balancer may say who the client is: anyone else is refused
  // before a byte of theirs is read.
  if (!ip || !Trusted(proxy.from, *ip)) {
    connection.Reset();
    children_.Refused(service, peer.ToString(), "proxy_untrusted");
    return;
  }
  int fd = connection.Get();
  HeaderWait::Origin origin{listener.service, listener.addr_text, peer, *ip};
  if (!header_wait_.Hold(connection, std::move(origin), VersionsOf(proxy.protocol),
                         SaturatingAdd(clock_.Now(), proxy.timeout))) {
    connection.Reset();
    children_.Refused(service, peer.ToString(), "proxy_busy");
    return;
  }
  poll_.Add(fd, [this, fd](short) { OnHeaderReadable(fd); });
  ArmHeaderDeadline();
}

void Supervisor::OnHeaderReadable(int fd) {
  std::optional<HeaderWait::Done> done = header_wait_.OnReadable(fd);
  if (!done) return;
  poll_.Remove(fd);  // before the connection is closed or handed on
  ArmHeaderDeadline();
  HeaderDone(std::move(*done));
}

void Supervisor::OnHeaderDeadline() {
  header_deadline_at_.reset();
  for (HeaderWait::Done& done : header_wait_.Expire(clock_.Now())) {
    poll_.Remove(done.connection.Get());
    HeaderDone(std::move(done));
  }
  ArmHeaderDeadline();
}

// HeaderWait keeps its deadlines in order; the timer queue holds the
// earliest, moved only when that one changes.
void Supervisor::ArmHeaderDeadline() {
  std::optional<TimePoint> next = header_wait_.NextDeadline();
  if (next == header_deadline_at_) return;
  header_deadline_.Cancel();
  header_deadline_at_ = next;
  if (next) header_deadline_ = timers_.Schedule(*next, [this] { OnHeaderDeadline(); });
}

void Supervisor::HeaderDone(HeaderWait::Done done) {
  Service& service = *done.origin.service;
  std::string balancer = done.origin.peer.ToString();
  if (done.outcome == HeaderWait::Done::Outcome::kTimeout) {
    done.connection.Reset();
    children_.Refused(service, balancer, "proxy_timeout");
    return;
  }
  if (done.outcome == HeaderWait::Done::Outcome::kInvalid) {
    done.connection.Reset();
    children_.Refused(service, balancer, "proxy_invalid", "", done.detail);
    return;
  }
  if (done.outcome == HeaderWait::Done::Outcome::kDropped) {
    done.connection.Reset();
    children_.Refused(service, balancer, done.reason, "", done.detail);
    return;
  }
  // Served by the listener as it is now (ReviseAwaitedHeaders keeps every
  // wait's listener there); none while stopping.
  Listener* found = FindListener(service.Name(), done.origin.listen_addr);
  if (found == nullptr || stopping_) return;
  Listener& listener = *found;
  if (done.header.local) {
    // The balancer's own connection (a health check): served as itself,
    // or closed without a process.
    if (listener.service->config.proxy.local == config::ProxyLocal::kClose) return;
    Serve(listener, std::move(done.connection), done.origin.peer, done.origin.peer_ip);
    return;
  }
  Forwarded forwarded{done.origin.peer, done.header.Server(), std::move(done.header.tlvs)};
  Serve(listener, std::move(done.connection), done.header.Client(), done.header.client_ip, &forwarded);
}

void Supervisor::ReviseAwaitedHeaders() {
  std::vector<HeaderWait::Done> dropped =
      header_wait_.Revise([this](HeaderWait::Origin& origin) -> std::optional<HeaderWait::Dropped> {
        Listener* listener = FindListener(origin.service->Name(), origin.listen_addr);
        if (listener == nullptr) return HeaderWait::Dropped{"listener_closed", "the reload removed its listener"};
        origin.service = listener->service;
        const config::ProxySettings& proxy = origin.service->config.proxy;
        if (!proxy.Enabled()) return HeaderWait::Dropped{"proxy_untrusted", "the reload turned proxy_protocol off"};
        if (!Trusted(proxy.from, origin.peer_ip)) {
          return HeaderWait::Dropped{"proxy_untrusted", "not in proxy_from since the reload"};
        }
        return std::nullopt;
      });
  for (HeaderWait::Done& done : dropped) {
    poll_.Remove(done.connection.Get());
    HeaderDone(std::move(done));
  }
  ArmHeaderDeadline();
}

Listener* Supervisor::FindListener(std::string_view service, std::string_view addr_text) const {
  for (const std::unique_ptr<Listener>& listener : listeners_.All()) {
    if (listener->service->Name() == service && listener->addr_text == addr_text) return listener.get();
  }
  return nullptr;
}

void Supervisor::DropAwaitedHeaders() {
  for (int fd : header_wait_.Fds()) poll_.Remove(fd);
  header_wait_.Clear();
  header_deadline_.Cancel();
  header_deadline_at_.reset();
}

}  // namespace yinetd::supervisor
