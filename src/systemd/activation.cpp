#include "systemd/activation.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#include <cstdlib>

#include "log/events.h"
#include "net/listener.h"

namespace yinetd::systemd {
namespace {

using Taken = std::vector<std::vector<bool>>;  // [service][address]

Taken NoneTaken(const std::vector<config::ServiceConfig>& services) {
  Taken taken;
  for (const auto& service : services) taken.emplace_back(service.listen.size(), false);
  return taken;
}

// A datagram socket serves a UDP service, a stream socket any other.
bool Fits(const config::ServiceConfig& service, const SocketInfo& socket) {
  return (service.protocol == config::Protocol::kUdp) == socket.datagram;
}

// A named socket: the address it is bound to if the service listens there,
// else the service's first address still without a socket.
std::optional<Placement> PlaceByName(const std::vector<config::ServiceConfig>& services,
                                     const SocketInfo& socket, Taken& taken) {
  for (size_t s = 0; s < services.size(); ++s) {
    if (services[s].name != socket.name || !Fits(services[s], socket)) continue;
    std::optional<size_t> free;
    for (size_t a = 0; a < services[s].listen.size() && !free; ++a) {
      if (!taken[s][a] && services[s].listen[a] == socket.bound) free = a;
    }
    for (size_t a = 0; a < services[s].listen.size() && !free; ++a) {
      if (!taken[s][a]) free = a;
    }
    if (!free) return std::nullopt;
    taken[s][*free] = true;
    return Placement{s, *free};
  }
  return std::nullopt;
}

std::optional<Placement> PlaceByAddress(const std::vector<config::ServiceConfig>& services,
                                        const SocketInfo& socket, Taken& taken) {
  for (size_t s = 0; s < services.size(); ++s) {
    if (!Fits(services[s], socket)) continue;
    for (size_t a = 0; a < services[s].listen.size(); ++a) {
      if (taken[s][a] || services[s].listen[a] != socket.bound) continue;
      taken[s][a] = true;
      return Placement{s, a};
    }
  }
  return std::nullopt;
}

bool IntOption(int fd, int name, int& value) {
  socklen_t length = sizeof value;
  return getsockopt(fd, SOL_SOCKET, name, &value, &length) == 0;
}

// What `fd` is: the address it listens or receives on, and whether it is a
// datagram socket; no address for anything else (a FIFO, a sequential
// packet socket, an unlistened stream socket from a unit written for
// something else).
SocketInfo Describe(int fd, std::string name) {
  SocketInfo info{std::move(name), std::nullopt, false};
  int type = 0, listening = 0;
  if (!IntOption(fd, SO_TYPE, type)) return info;
  if (type == SOCK_DGRAM) {
    info.datagram = true;
  } else if (type != SOCK_STREAM || !IntOption(fd, SO_ACCEPTCONN, listening) || !listening) {
    return info;
  }
  info.bound = BoundAddress(net::LocalEndpoint(fd));
  // UDP services listen on IP addresses only: a unix datagram socket fits none.
  if (info.datagram && !info.bound->IsInet()) info.bound.reset();
  return info;
}

// Accepting must not block the loop; a program in mode wait gets the
// socket itself and expects it to block, as one we bind would.
void SetBlocking(int fd, bool blocking) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return;
  fcntl(fd, F_SETFL, blocking ? flags & ~O_NONBLOCK : flags | O_NONBLOCK);
}

struct Passed {
  UniqueFd fd;
  SocketInfo info;
};

std::vector<Passed> TakePassed() {
  char** names = nullptr;
  int count = sd_listen_fds_with_names(1, &names);
  if (count < 0) log::SyscallFailed("", "sd_listen_fds", "LISTEN_FDS", -count);
  std::vector<Passed> passed;
  for (int i = 0; i < count; ++i) {
    UniqueFd fd(SD_LISTEN_FDS_START + i);  // sd_listen_fds made it close-on-exec
    std::string name = names != nullptr && names[i] != nullptr ? names[i] : "unknown";
    SocketInfo info = Describe(fd.Get(), std::move(name));
    passed.push_back(Passed{std::move(fd), std::move(info)});
  }
  if (names != nullptr) {
    for (int i = 0; i < count; ++i) std::free(names[i]);
    std::free(names);
  }
  return passed;
}

}  // namespace

net::Address BoundAddress(const net::Endpoint& local) {
  net::Address address;
  if (local.is_unix) {
    address.family = net::Address::Family::kUnix;
    address.path = local.ip;
    return address;
  }
  address.port = local.port;
  if (local.ip == "0.0.0.0" || local.ip == "::") {
    address.family = net::Address::Family::kAny;
  } else {
    address.family = local.ip.find(':') == std::string::npos ? net::Address::Family::kIPv4
                                                             : net::Address::Family::kIPv6;
    address.host = local.ip;
  }
  return address;
}

std::vector<std::optional<Placement>> PlaceSockets(const std::vector<config::ServiceConfig>& services,
                                                   const std::vector<SocketInfo>& sockets) {
  std::vector<std::optional<Placement>> placements(sockets.size());
  Taken taken = NoneTaken(services);
  for (size_t i = 0; i < sockets.size(); ++i) {
    // "unknown" is what sd_listen_fds_with_names reports for no name.
    if (sockets[i].bound && sockets[i].name != "unknown") placements[i] = PlaceByName(services, sockets[i], taken);
  }
  for (size_t i = 0; i < sockets.size(); ++i) {
    if (sockets[i].bound && !placements[i]) placements[i] = PlaceByAddress(services, sockets[i], taken);
  }
  return placements;
}

std::vector<Adopted> TakeListenSockets(const std::vector<config::ServiceConfig>& services) {
  std::vector<Passed> passed = TakePassed();
  std::vector<SocketInfo> infos;
  for (const Passed& socket : passed) infos.push_back(socket.info);
  std::vector<std::optional<Placement>> placements = PlaceSockets(services, infos);
  std::vector<Adopted> adopted;
  for (size_t i = 0; i < passed.size(); ++i) {
    if (placements[i]) {
      SetBlocking(passed[i].fd.Get(), services[placements[i]->service].mode == config::Mode::kWait);
      adopted.push_back(Adopted{*placements[i], std::move(passed[i].fd), passed[i].info.name});
      continue;
    }
    const SocketInfo& info = passed[i].info;
    const char* reason = !info.bound     ? "neither a listening stream socket nor a UDP socket"
                         : info.datagram ? "no udp service listens on its address or has its name"
                                         : "no service listens on its address or has its name";
    log::UnmatchedSocket(passed[i].fd.Get(), info.name, info.bound ? info.bound->ToString() : "", reason);
  }
  return adopted;
}

}  // namespace yinetd::systemd
