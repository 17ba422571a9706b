// Socket activation of yinetd itself (sd_listen_fds(3)).
//
// When systemd (or systemd-socket-activate) starts yinetd with LISTEN_FDS
// and LISTEN_PID, the passed sockets are already bound. Each goes to the
// service named by its FileDescriptorName=, or else to the service whose
// `listen` address it is bound to; services left without one bind their
// own. A passed socket that fits no service is logged and closed. Stream
// sockets go to TCP (or unix) services, datagram sockets to UDP services.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "net/address.h"
#include "sys/unique_fd.h"

namespace yinetd::systemd {

// What matching needs to know about one passed socket.
struct SocketInfo {
  std::string name;                    // FileDescriptorName=, "unknown" if none
  std::optional<net::Address> bound;   // nullopt: neither listening stream nor datagram
  bool datagram = false;               // a UDP socket: for protocol udp only
};

// Where a passed socket goes: services[service].listen[address].
struct Placement {
  size_t service = 0;
  size_t address = 0;
  bool operator==(const Placement&) const = default;
};

// One result per socket, in order; nullopt for a socket no service takes.
// Names are matched first, then bound addresses; each listen address takes
// at most one socket. Pure.
std::vector<std::optional<Placement>> PlaceSockets(const std::vector<config::ServiceConfig>& services,
                                                   const std::vector<SocketInfo>& sockets);

// The listen address a socket bound to `local` serves: 0.0.0.0 and :: are
// the bare-port form. Pure.
net::Address BoundAddress(const net::Endpoint& local);

struct Adopted {
  Placement placement;
  UniqueFd fd;  // close-on-exec; non-blocking unless its service is mode wait
  std::string name;  // FileDescriptorName=
};

// Takes the sockets systemd passed (and unsets LISTEN_* so that nothing
// else sees them), places them, logs and closes those that fit no service.
// Empty when yinetd was not socket-activated.
std::vector<Adopted> TakeListenSockets(const std::vector<config::ServiceConfig>& services);

}  // namespace yinetd::systemd
