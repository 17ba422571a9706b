// ListenerSet: the listening sockets, and whether each is polled.
//
// Binds them at startup (or takes the ones systemd passed), carries out the
// listener steps of a reload plan (keep, change in place, replace opening
// the new socket before closing the old, open, close), rests a listener
// after a failure, and unlinks unix socket files at shutdown. A listener is
// in the poll set exactly while it can be served: not resting, no wait-mode
// program holding it, and (overflow: queue) room for another child.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "net/address.h"
#include "net/listener.h"
#include "supervisor/clock.h"
#include "supervisor/poll_set.h"
#include "supervisor/reload_plan.h"
#include "supervisor/service.h"
#include "supervisor/timer_queue.h"
#include "sys/unique_fd.h"

namespace yinetd::supervisor {

// The datagram a wait-mode UDP program was started for, as a peek sees it:
// if the same one is still first in the queue after the program exited, the
// program did not read it.
struct DatagramMark {
  net::Endpoint peer;
  size_t length = 0;
  uint64_t digest = 0;
  bool operator==(const DatagramMark& other) const {
    return peer.ip == other.peer.ip && peer.port == other.peer.port && length == other.length &&
           digest == other.digest;
  }
};
// Peeks at the first queued datagram without taking it and without waiting.
std::optional<DatagramMark> PeekDatagram(int fd);

struct Listener {
  std::shared_ptr<Service> service;
  net::Address address;
  std::string addr_text;
  UniqueFd fd;
  net::ListenOptions options;  // as the socket has them now
  // unix: the file our bind made, removed at close; unset for a socket
  // systemd passed, whose file is systemd's.
  std::optional<net::SocketFile> file;
  net::Endpoint local;         // valid when fixed_local
  bool fixed_local = false;    // bound to one address: no getsockname needed
  bool polled = false;
  Timer resting;               // armed while the listener rests after a failure
  bool exhausted = false;      // in an EMFILE/ENFILE episode (logged once)
  Timer episode_end;
  std::optional<pid_t> wait_child;  // mode wait: the program holding the socket
  std::optional<DatagramMark> wait_datagram;  // what it was started for (UDP)
  int unread_runs = 0;         // programs in a row that left it unread
};

// What opening a service's listeners takes: its socket options.
net::ListenOptions ListenOptionsFor(const config::ServiceConfig& service);

class ListenerSet {
 public:
  // How long a listener rests after accept or spawn failed.
  static constexpr milliseconds kServeErrorPause{250};
  // The longest rest of a program that keeps leaving its datagram unread.
  static constexpr milliseconds kMaxUnreadPause{30'000};

  ListenerSet(const Clock& clock, TimerQueue& timers, PollSet& poll);
  ListenerSet(const ListenerSet&) = delete;
  ListenerSet& operator=(const ListenerSet&) = delete;

  // Called when a polled listener is ready.
  std::function<void(Listener&)> on_ready;
  // Whether the service has room for another child (overflow: queue keeps
  // the listener out of the poll set while it has none).
  std::function<bool(const Listener&)> has_room;

  // A socket systemd passed for `service`'s `addr`, used instead of binding.
  void Adopt(const std::string& service, const std::string& addr, UniqueFd fd, std::string fd_name);
  // Binds every listener of `services` not adopted. Throws SysError.
  void Open(const std::vector<std::shared_ptr<Service>>& services);
  // What is open, as the reload plan sees it.
  std::vector<OpenListener> Describe() const;
  // Carries out the listener steps of `plan`; returns, per address that
  // could not be opened or changed, "ADDR: error". A service whose new
  // socket fails keeps its old one serving.
  std::vector<std::string> Apply(const ReloadPlan& plan, const std::vector<std::shared_ptr<Service>>& services);
  // Shutdown: every socket closed, unix socket files we made removed.
  void CloseAll();

  // A failure to accept or to start a child: logged, and the listener
  // rests, so that a lasting cause (no fds, no processes) is neither retried
  // in a tight loop nor logged on every attempt.
  void OnServeError(Listener& listener, std::string_view call, int err);
  void WaitChildStarted(Listener& listener, pid_t pid);
  // Polls the listener of wait-mode program `pid` again, after a rest if
  // the program failed or left its datagram unread.
  void WaitChildEnded(pid_t pid, int wait_status);
  // Polls or stops polling each listener as it can be served now.
  void Refresh(Listener& listener);
  // After a child ended: the overflow: queue listeners may have room again.
  void RefreshQueued();

  size_t CountFor(const Service& service) const;
  const std::vector<std::unique_ptr<Listener>>& All() const { return listeners_; }

 private:
  std::unique_ptr<Listener> NewListener(const std::shared_ptr<Service>& service, const net::Address& address);
  void Bind(Listener& listener);
  bool UseAdopted(Listener& listener);
  void Rest(Listener& listener, milliseconds length);
  void Close(Listener& listener);
  bool KeepServing(Listener& listener, const std::shared_ptr<Service>& service);
  void Update(Listener& listener, const std::shared_ptr<Service>& service);
  void Replace(Listener& listener, const std::shared_ptr<Service>& service);
  void NoteUnread(Listener& listener);
  void NoteQueued();

  const Clock& clock_;
  TimerQueue& timers_;
  PollSet& poll_;
  struct Passed {
    UniqueFd fd;
    std::string name;
  };
  std::map<std::pair<std::string, std::string>, Passed> adopted_;  // (service, addr), until Open()
  std::vector<std::unique_ptr<Listener>> listeners_;
  // The listeners of overflow: queue services: the only ones a child's end
  // can put back into the poll set.
  std::vector<Listener*> queued_;
};

}  // namespace yinetd::supervisor
