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

// A named socket: the address it is bound to if the service listens there,
// else the service's first address still without a socket.
std::optional<Placement> PlaceByName(const std::vector<config::ServiceConfig>& services,
                                     const SocketInfo& socket, Taken& taken) {
  for (size_t s = 0; s < services.size(); ++s) {
    if (services[s].name != socket.name) continue;
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

// The address `fd` listens on, or nullopt if it is not a listening stream
// socket (a datagram or FIFO from a unit written for something else).
std::optional<net::Address> ListeningAddress(int fd) {
  int type = 0, listening = 0;
  if (!IntOption(fd, SO_TYPE, type) || !IntOption(fd, SO_ACCEPTCONN, listening)) return std::nullopt;
  if (type != SOCK_STREAM || !listening) return std::nullopt;
  return BoundAddress(net::LocalEndpoint(fd));
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
    // sd_listen_fds made it close-on-exec; accept must not block the loop.
    UniqueFd fd(SD_LISTEN_FDS_START + i);
    int flags = fcntl(fd.Get(), F_GETFL);
    if (flags >= 0) fcntl(fd.Get(), F_SETFL, flags | O_NONBLOCK);
    std::string name = names != nullptr && names[i] != nullptr ? names[i] : "unknown";
    std::optional<net::Address> bound = ListeningAddress(fd.Get());
    passed.push_back(Passed{std::move(fd), SocketInfo{std::move(name), std::move(bound)}});
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
      adopted.push_back(Adopted{*placements[i], std::move(passed[i].fd), passed[i].info.name});
      continue;
    }
    const SocketInfo& info = passed[i].info;
    log::UnmatchedSocket(passed[i].fd.Get(), info.name, info.bound ? info.bound->ToString() : "",
                         info.bound ? "no service listens on its address or has its name"
                                    : "not a listening stream socket");
  }
  return adopted;
}

}  // namespace yinetd::systemd
