#include "supervisor/listener_set.h"

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include "log/events.h"
#include "sys/sys_error.h"

namespace yinetd::supervisor {
namespace {

// How long without fd exhaustion ends an episode (and logs `resume`).
constexpr milliseconds kExhaustionQuiet{1000};
// How much of a datagram its mark digests.
constexpr size_t kMarkBytes = 512;

// Out of descriptors or memory: accepting again at once would spin.
bool IsExhaustionError(int err) {
  return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

// The kernel silently caps a backlog at somaxconn; say so once at bind.
void WarnIfBacklogClamped(const config::ServiceConfig& service, const std::string& addr) {
  std::optional<int> max = net::SomaxConn();
  if (service.protocol == config::Protocol::kTcp && max && service.socket.backlog > *max) {
    log::BacklogClamped(service.name, addr, service.socket.backlog, *max);
  }
}

uint64_t Digest(const unsigned char* data, size_t length) {
  uint64_t hash = 1469598103934665603ULL;  // FNV-1a
  for (size_t i = 0; i < length; ++i) hash = (hash ^ data[i]) * 1099511628211ULL;
  return hash;
}

}  // namespace

std::optional<DatagramMark> PeekDatagram(int fd) {
  unsigned char data[kMarkBytes];
  net::SockAddr peer;
  peer.length = sizeof peer.storage;
  // MSG_TRUNC: the datagram's whole length, though we copy only the start.
  ssize_t length = RetryOnEintr([&] {
    return recvfrom(fd, data, sizeof data, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC, peer.Get(), &peer.length);
  });
  if (length < 0) return std::nullopt;
  size_t copied = std::min(static_cast<size_t>(length), sizeof data);
  return DatagramMark{net::ToEndpoint(peer.Get(), peer.length), static_cast<size_t>(length), Digest(data, copied)};
}

net::ListenOptions ListenOptionsFor(const config::ServiceConfig& service) {
  const config::SocketOptions& socket = service.socket;
  net::ListenOptions options;
  options.backlog = socket.backlog;
  options.type = service.protocol == config::Protocol::kUdp ? SOCK_DGRAM : SOCK_STREAM;
  options.nonblocking = service.mode == config::Mode::kNowait;
  options.ipv6_only = socket.ipv6_only;
  options.keepalive = socket.keepalive;
  options.nodelay = socket.nodelay;
  options.reuseport = socket.reuseport;
  options.freebind = socket.freebind;
  options.bind_interface = socket.bind_interface;
  options.unix_mode = socket.unix_mode;
  options.unix_owner = socket.unix_owner;
  options.unix_group = socket.unix_group;
  return options;
}

ListenerSet::ListenerSet(const Clock& clock, TimerQueue& timers, PollSet& poll)
    : clock_(clock), timers_(timers), poll_(poll) {}

void ListenerSet::Adopt(const std::string& service, const std::string& addr, UniqueFd fd, std::string fd_name) {
  adopted_[{service, addr}] = Passed{std::move(fd), std::move(fd_name)};
}

std::unique_ptr<Listener> ListenerSet::NewListener(const std::shared_ptr<Service>& service,
                                                   const net::Address& address) {
  auto listener = std::make_unique<Listener>();
  listener->service = service;
  listener->address = address;
  listener->addr_text = address.ToString();
  listener->options = ListenOptionsFor(service->config);
  return listener;
}

bool ListenerSet::UseAdopted(Listener& listener) {
  auto passed = adopted_.find({listener.service->Name(), listener.addr_text});
  if (passed == adopted_.end()) return false;
  listener.fd = std::move(passed->second.fd);
  log::Adopt(listener.service->Name(), listener.addr_text, listener.fd.Get(), passed->second.name);
  adopted_.erase(passed);
  return true;
}

void ListenerSet::Bind(Listener& listener) {
  if (!UseAdopted(listener)) {
    listener.fd = net::OpenListener(listener.address, listener.options);
    if (listener.address.family == net::Address::Family::kUnix) listener.file = net::SocketFileAt(listener.address.path);
    WarnIfBacklogClamped(listener.service->config, listener.addr_text);
    log::Listen(listener.service->Name(), listener.addr_text);
  }
  listener.fixed_local = listener.address.family == net::Address::Family::kIPv4 ||
                         listener.address.family == net::Address::Family::kIPv6;
  if (listener.fixed_local) listener.local = net::LocalEndpoint(listener.fd.Get());
}

void ListenerSet::Open(const std::vector<std::shared_ptr<Service>>& services) {
  for (const auto& service : services) {
    for (const net::Address& address : service->config.listen) {
      std::unique_ptr<Listener> listener = NewListener(service, address);
      try {
        Bind(*listener);
      } catch (const SysError& e) {
        throw SysError("service " + service->Name() + ": " + e.Call(), e.Errno());
      }
      listeners_.push_back(std::move(listener));
      Refresh(*listeners_.back());
    }
  }
  adopted_.clear();  // placed by systemd::PlaceSockets: every one was used
  NoteQueued();
}

void ListenerSet::NoteQueued() {
  queued_.clear();
  for (auto& listener : listeners_) {
    if (listener->service->config.limits.overflow == config::Overflow::kQueue) queued_.push_back(listener.get());
  }
}

std::vector<OpenListener> ListenerSet::Describe() const {
  std::vector<OpenListener> open;
  for (const auto& listener : listeners_) {
    const config::ServiceConfig& config = listener->service->config;
    open.push_back(OpenListener{{listener->address, config.protocol}, config.mode, config.socket});
  }
  return open;
}

std::vector<std::string> ListenerSet::Apply(const ReloadPlan& plan,
                                            const std::vector<std::shared_ptr<Service>>& services) {
  using Action = ListenerStep::Action;
  std::vector<std::unique_ptr<Listener>> old = std::move(listeners_);
  std::vector<std::string> failures;
  std::set<std::string> failed_services;  // keep their old sockets serving
  for (const ListenerStep& step : plan.listeners) {
    if (step.action == Action::kClose) continue;
    const std::shared_ptr<Service>& service = services[step.service];
    const net::Address& address = service->config.listen[step.address];
    std::unique_ptr<Listener> listener;
    try {
      switch (step.action) {
        case Action::kKeep:
          listener = std::move(old[*step.old_index]);
          listener->service = service;
          break;
        case Action::kUpdate:
          listener = std::move(old[*step.old_index]);
          Update(*listener, service);
          break;
        case Action::kReplace:
          listener = std::move(old[*step.old_index]);
          Replace(*listener, service);
          break;
        case Action::kOpen:
          listener = NewListener(service, address);
          Bind(*listener);
          break;
        case Action::kClose:
          break;
      }
    } catch (const SysError& e) {
      log::SyscallFailed(service->Name(), e.Call(), address.ToString(), e.Errno());
      failures.push_back(address.ToString() + ": " + ErrnoText(e.Errno()));
      failed_services.insert(service->Name());
      // A changed socket that failed keeps serving as it was, for the
      // service as it is now.
      if (!listener || !listener->fd.Valid()) continue;
      if (!KeepServing(*listener, service)) continue;
    }
    listeners_.push_back(std::move(listener));
  }
  for (const ListenerStep& step : plan.listeners) {
    if (step.action != Action::kClose) continue;
    std::unique_ptr<Listener>& gone = old[*step.old_index];
    // A service that could not open its new address keeps the old one.
    auto next = std::find_if(services.begin(), services.end(), [&](const auto& s) {
      return s->Name() == gone->service->Name() && failed_services.count(s->Name()) != 0 &&
             s->config.protocol == gone->service->config.protocol;
    });
    if (next != services.end() && KeepServing(*gone, *next)) {
      listeners_.push_back(std::move(gone));
      continue;
    }
    Close(*gone);
  }
  NoteQueued();
  for (auto& listener : listeners_) Refresh(*listener);
  return failures;
}

// The socket stays as it is but for its blocking mode, which must be the
// service's: a nowait service accepts up to kAcceptBatch in a row and would
// freeze the loop on a blocking socket; a wait program expects a blocking
// one. False (logged, the listener closed) if even that cannot be set.
bool ListenerSet::KeepServing(Listener& listener, const std::shared_ptr<Service>& service) {
  listener.service = service;
  net::ListenOptions in_mode = listener.options;
  in_mode.nonblocking = ListenOptionsFor(service->config).nonblocking;
  try {
    net::UpdateListener(listener.fd.Get(), listener.address, listener.options, in_mode);
  } catch (const SysError& e) {
    log::SyscallFailed(service->Name(), e.Call(), listener.addr_text, e.Errno());
    Close(listener);
    return false;
  }
  listener.options = in_mode;
  return true;
}

void ListenerSet::Update(Listener& listener, const std::shared_ptr<Service>& service) {
  net::ListenOptions wants = ListenOptionsFor(service->config);
  listener.service = service;
  net::UpdateListener(listener.fd.Get(), listener.address, listener.options, wants);
  listener.options = wants;
}

void ListenerSet::Replace(Listener& listener, const std::shared_ptr<Service>& service) {
  std::unique_ptr<Listener> fresh = NewListener(service, listener.address);
  try {
    Bind(*fresh);
  } catch (const SysError& e) {
    // A wait-mode program holding the old socket holds its address too:
    // closing our copy would not free it, and the old socket could then
    // not be bound again. It keeps serving until a reload after the
    // program exits.
    if (e.Errno() != EADDRINUSE || listener.wait_child) throw;
    // Our own old socket holds the address (no SO_REUSEPORT on both): it
    // has to go first. If the new one still cannot bind, the old options
    // are bound again.
    UniqueFd old_fd = std::move(listener.fd);
    if (listener.polled) poll_.Remove(old_fd.Get());
    listener.polled = false;
    old_fd.Reset();
    try {
      Bind(*fresh);
    } catch (const SysError&) {
      Bind(listener);
      throw;
    }
  }
  if (listener.polled) poll_.Remove(listener.fd.Get());
  listener.polled = false;
  listener.fd = std::move(fresh->fd);
  listener.options = fresh->options;
  listener.service = service;
  listener.local = fresh->local;
  listener.fixed_local = fresh->fixed_local;
  listener.file = fresh->file;
}

void ListenerSet::Close(Listener& listener) {
  if (listener.polled) poll_.Remove(listener.fd.Get());
  listener.polled = false;
  // Only the file we bound (none for a socket systemd passed: the file is
  // its own): another process may have put its socket at the path since.
  net::RemoveSocketFile(listener.address.path, listener.file);
  listener.fd.Reset();
}

void ListenerSet::CloseAll() {
  for (auto& listener : listeners_) Close(*listener);
  queued_.clear();
  listeners_.clear();
}

void ListenerSet::Refresh(Listener& listener) {
  bool wanted = listener.fd.Valid() && !listener.resting.Armed() && !listener.wait_child &&
                (!has_room || has_room(listener));
  if (wanted == listener.polled) return;
  listener.polled = wanted;
  if (!wanted) {
    poll_.Remove(listener.fd.Get());
    return;
  }
  Listener* target = &listener;
  poll_.Add(listener.fd.Get(), [this, target](short) {
    if (on_ready) on_ready(*target);
  });
}

void ListenerSet::RefreshQueued() {
  for (Listener* listener : queued_) Refresh(*listener);
}

void ListenerSet::Rest(Listener& listener, milliseconds length) {
  Listener* target = &listener;
  listener.resting = timers_.Schedule(clock_.Now() + length, [this, target] { Refresh(*target); });
  Refresh(listener);
}

void ListenerSet::OnServeError(Listener& listener, std::string_view call, int err) {
  Rest(listener, kServeErrorPause);
  if (!IsExhaustionError(err)) {
    log::SyscallFailed(listener.service->Name(), call, listener.addr_text, err);
    return;
  }
  // Log the first failure of an episode only; the rest keeps poll from
  // reporting the same pending connection in a tight loop. The episode
  // ends after a quiet spell, so a service hovering at its fd limit logs
  // one pause, not one per connection.
  Listener* target = &listener;
  listener.episode_end = timers_.Schedule(clock_.Now() + kExhaustionQuiet, [target] {
    target->exhausted = false;
    log::Resume(target->service->Name(), target->addr_text);
  });
  if (listener.exhausted) return;
  listener.exhausted = true;
  log::SyscallFailed(listener.service->Name(), call, listener.addr_text, err);
  log::Pause(listener.service->Name(), listener.addr_text, "fd_exhausted", kServeErrorPause.count());
}

void ListenerSet::WaitChildStarted(Listener& listener, pid_t pid) {
  listener.wait_child = pid;
  Refresh(listener);
}

void ListenerSet::WaitChildEnded(pid_t pid, int wait_status) {
  for (auto& owned : listeners_) {
    Listener& listener = *owned;
    if (listener.wait_child != pid) continue;
    listener.wait_child.reset();
    std::optional<DatagramMark> started_for = std::exchange(listener.wait_datagram, std::nullopt);
    if (started_for && started_for == PeekDatagram(listener.fd.Get())) {
      NoteUnread(listener);
    } else {
      if (listener.unread_runs > 0) log::Resume(listener.service->Name(), listener.addr_text);
      listener.unread_runs = 0;
      // A program that fails leaves its client queued, and the socket would
      // be ready again at once: rest rather than start it in a loop.
      bool failed = !WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != 0;
      if (failed) Rest(listener, kServeErrorPause);
    }
    Refresh(listener);
  }
}

void ListenerSet::NoteUnread(Listener& listener) {
  // The program exited and the datagram that woke it is still first in the
  // queue: starting it again would loop for ever. Rest, twice as long each
  // time in a row, and say so once per episode.
  int doublings = std::min(listener.unread_runs, 10);
  milliseconds rest = std::min(kServeErrorPause * (1 << doublings), kMaxUnreadPause);
  if (listener.unread_runs == 0) {
    log::Pause(listener.service->Name(), listener.addr_text, "datagram_unread", rest.count());
  }
  ++listener.unread_runs;
  Rest(listener, rest);
}

size_t ListenerSet::CountFor(const Service& service) const {
  return std::count_if(listeners_.begin(), listeners_.end(),
                       [&](const auto& l) { return l->service->state == service.state; });
}

}  // namespace yinetd::supervisor
