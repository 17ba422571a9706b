#include "systemd/activation.h"

#include <doctest/doctest.h>

namespace yinetd::systemd {
namespace {

net::Address Parse(const std::string& text) { return std::get<net::Address>(net::ParseAddress(text)); }

config::ServiceConfig Service(const std::string& name, const std::vector<std::string>& listen) {
  config::ServiceConfig service;
  service.name = name;
  for (const std::string& text : listen) service.listen.push_back(Parse(text));
  return service;
}

SocketInfo Bound(const std::string& text, const std::string& name = "unknown") {
  return SocketInfo{name, Parse(text)};
}

TEST_CASE("a passed socket goes to the service listening on its address") {
  std::vector<config::ServiceConfig> services = {Service("a", {"127.0.0.1:1"}),
                                                 Service("b", {"127.0.0.1:2", "[::1]:2"})};
  auto placed = PlaceSockets(services, {Bound("[::1]:2"), Bound("127.0.0.1:1")});
  REQUIRE(placed.size() == 2);
  CHECK(placed[0] == Placement{1, 1});
  CHECK(placed[1] == Placement{0, 0});
}

TEST_CASE("a socket with no service at its address or name is left unplaced") {
  std::vector<config::ServiceConfig> services = {Service("a", {"127.0.0.1:1"})};
  auto placed = PlaceSockets(services, {Bound("127.0.0.1:9"), Bound("127.0.0.2:1")});
  CHECK(!placed[0]);
  CHECK(!placed[1]);
}

TEST_CASE("an unnamed socket (\"unknown\") never matches a service called unknown by name") {
  std::vector<config::ServiceConfig> services = {Service("unknown", {"127.0.0.1:1"})};
  CHECK(!PlaceSockets(services, {Bound("127.0.0.1:2")})[0]);
  CHECK(PlaceSockets(services, {Bound("127.0.0.1:1")})[0] == Placement{0, 0});
}

TEST_CASE("a socket that is not listening is never placed, even by name") {
  std::vector<config::ServiceConfig> services = {Service("a", {"127.0.0.1:1"})};
  auto placed = PlaceSockets(services, {SocketInfo{"a", std::nullopt}});
  CHECK(!placed[0]);
}

TEST_CASE("a datagram socket goes to a udp service only, a stream socket to any other") {
  std::vector<config::ServiceConfig> services = {Service("tcp", {"127.0.0.1:1"}), Service("udp", {"127.0.0.1:1"})};
  services[1].protocol = config::Protocol::kUdp;
  SocketInfo datagram{"unknown", Parse("127.0.0.1:1"), true};
  auto placed = PlaceSockets(services, {datagram, Bound("127.0.0.1:1")});
  CHECK(placed[0] == Placement{1, 0});
  CHECK(placed[1] == Placement{0, 0});
  // By name too: a datagram socket named after a TCP service is not its.
  SocketInfo named{"tcp", Parse("127.0.0.1:9"), true};
  CHECK(!PlaceSockets(services, {named})[0]);
  named.name = "udp";
  CHECK(PlaceSockets(services, {named})[0] == Placement{1, 0});
}

TEST_CASE("a name wins over an address, and takes the matching or first free address") {
  std::vector<config::ServiceConfig> services = {Service("a", {"127.0.0.1:1"}),
                                                 Service("b", {"127.0.0.1:2", "127.0.0.1:3"})};
  // Bound to a's address but named b: b's first address gets it, and a
  // binds its own.
  auto placed = PlaceSockets(services, {Bound("127.0.0.1:1", "b"), Bound("127.0.0.1:3", "b")});
  CHECK(placed[0] == Placement{1, 0});
  CHECK(placed[1] == Placement{1, 1});
  // The named socket bound to b's second address takes that one.
  placed = PlaceSockets(services, {Bound("127.0.0.1:3", "b")});
  CHECK(placed[0] == Placement{1, 1});
}

TEST_CASE("each listen address takes one socket; the second is unplaced") {
  std::vector<config::ServiceConfig> services = {Service("a", {"127.0.0.1:1"})};
  auto placed = PlaceSockets(services, {Bound("127.0.0.1:1"), Bound("127.0.0.1:1", "a")});
  CHECK(placed[1] == Placement{0, 0});  // names first
  CHECK(!placed[0]);
}

TEST_CASE("sockets bound to 0.0.0.0 or :: serve a bare port") {
  std::vector<config::ServiceConfig> services = {Service("any", {"7000"}), Service("star", {"*:7001"})};
  CHECK(BoundAddress(net::Endpoint{"0.0.0.0", 7000, false}) == Parse("7000"));
  CHECK(BoundAddress(net::Endpoint{"::", 7001, false}) == Parse("*:7001"));
  auto placed = PlaceSockets(services, {SocketInfo{"x", BoundAddress({"::", 7001, false})},
                                        SocketInfo{"x", BoundAddress({"0.0.0.0", 7000, false})}});
  CHECK(placed[0] == Placement{1, 0});
  CHECK(placed[1] == Placement{0, 0});
}

TEST_CASE("bound addresses compare in the config's canonical form") {
  CHECK(BoundAddress(net::Endpoint{"127.0.0.1", 80, false}) == Parse("127.0.0.1:80"));
  CHECK(BoundAddress(net::Endpoint{"::1", 80, false}) == Parse("[::1]:80"));
  CHECK(BoundAddress(net::Endpoint{"/run/x.sock", 0, true}) == Parse("unix:/run/x.sock"));
}

}  // namespace
}  // namespace yinetd::systemd
