#include "supervisor/header_wait.h"

#include <doctest/doctest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace yinetd::supervisor {
namespace {

using std::chrono::seconds;
using Outcome = HeaderWait::Done::Outcome;

const TimePoint kT0 = TimePoint(std::chrono::hours(1));
constexpr net::ProxyVersions kBoth{true, true};
const std::string kV1 = "PROXY TCP4 192.0.2.7 198.51.100.1 40000 2222\r\n";

net::IpAddress Balancer(uint8_t last) {
  net::IpAddress ip;
  ip.bytes = {10, 0, 0, last};
  return ip;
}

// One end held by HeaderWait, the other the balancer's: a connected pair.
struct Pair {
  UniqueFd ours;
  UniqueFd theirs;
  Pair() {
    int fds[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    ours.Reset(fds[0]);
    theirs.Reset(fds[1]);
  }
  void Send(const std::string& bytes) { REQUIRE(write(theirs.Get(), bytes.data(), bytes.size()) == ssize_t(bytes.size())); }
};

HeaderWait::Origin Origin(uint8_t source) {
  return HeaderWait::Origin{nullptr, "127.0.0.1:2222", net::Endpoint{"10.0.0.1", 50000, false}, Balancer(source)};
}

bool Hold(HeaderWait& wait, Pair& pair, uint8_t source = 1, TimePoint deadline = kT0 + seconds(3)) {
  return wait.Hold(pair.ours, Origin(source), kBoth, deadline);
}

// What is left in the socket for the program: the bytes after the header.
std::string Remaining(int fd) {
  char buffer[256];
  ssize_t n = recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
  return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : "";
}

TEST_CASE("a whole header at once completes, and the program's bytes stay in the socket") {
  HeaderWait wait;
  Pair pair;
  int fd = pair.ours.Get();
  REQUIRE(Hold(wait, pair));
  CHECK(wait.Holds(fd));
  pair.Send(kV1 + "hello");
  std::optional<HeaderWait::Done> done = wait.OnReadable(fd);
  REQUIRE(done);
  CHECK(done->outcome == Outcome::kComplete);
  CHECK(done->header.Client().ToString() == "192.0.2.7:40000");
  CHECK(done->origin.peer.ToString() == "10.0.0.1:50000");
  CHECK(done->connection.Get() == fd);
  CHECK(Remaining(fd) == "hello");
  CHECK(wait.Size() == 0);
  CHECK_FALSE(wait.NextDeadline());
}

TEST_CASE("a header trickling in one byte per wake-up completes byte-exact") {
  HeaderWait wait;
  Pair pair;
  int fd = pair.ours.Get();
  REQUIRE(Hold(wait, pair));
  for (size_t i = 0; i + 1 < kV1.size(); ++i) {
    pair.Send(kV1.substr(i, 1));
    CHECK_FALSE(wait.OnReadable(fd));
  }
  // Each wake-up took its byte: a second wake-up without new bytes finds none
  // (no busy loop on a level-triggered poll).
  CHECK_FALSE(wait.OnReadable(fd));
  pair.Send(kV1.substr(kV1.size() - 1) + "PROXY second header is data\r\n");
  auto done = wait.OnReadable(fd);
  REQUIRE(done);
  CHECK(done->outcome == Outcome::kComplete);
  CHECK(Remaining(fd) == "PROXY second header is data\r\n");
}

TEST_CASE("a wrong first byte ends the wait as invalid at once") {
  HeaderWait wait;
  Pair pair;
  int fd = pair.ours.Get();
  REQUIRE(Hold(wait, pair));
  pair.Send("GET / HTTP/1.0\r\n");
  auto done = wait.OnReadable(fd);
  REQUIRE(done);
  CHECK(done->outcome == Outcome::kInvalid);
  CHECK(done->detail == "no PROXY header signature");
}

TEST_CASE("a peer that closes mid-header is invalid") {
  HeaderWait wait;
  Pair pair;
  int fd = pair.ours.Get();
  REQUIRE(Hold(wait, pair));
  pair.Send("PROXY TCP4 1.2");
  CHECK_FALSE(wait.OnReadable(fd));
  pair.theirs.Reset();
  auto done = wait.OnReadable(fd);
  REQUIRE(done);
  CHECK(done->outcome == Outcome::kInvalid);
  CHECK(done->detail == "closed before its header was complete");
}

TEST_CASE("a silent peer times out at its deadline, not before, and others are unaffected") {
  HeaderWait wait;
  Pair silent, late;
  int silent_fd = silent.ours.Get();
  REQUIRE(Hold(wait, silent, 1, kT0 + seconds(3)));
  REQUIRE(Hold(wait, late, 1, kT0 + seconds(5)));
  CHECK(wait.NextDeadline() == kT0 + seconds(3));
  CHECK(wait.Expire(kT0 + seconds(2)).empty());
  std::vector<HeaderWait::Done> ended = wait.Expire(kT0 + seconds(3));
  REQUIRE(ended.size() == 1);
  CHECK(ended[0].outcome == Outcome::kTimeout);
  CHECK(ended[0].connection.Get() == silent_fd);
  CHECK(wait.Size() == 1);
  CHECK(wait.NextDeadline() == kT0 + seconds(5));
  late.Send(kV1);
  auto done = wait.OnReadable(wait.Fds().at(0));
  REQUIRE(done);
  CHECK(done->outcome == Outcome::kComplete);
}

TEST_CASE("the bounds: per balancer address and in total; a slot frees when a wait ends") {
  HeaderWait wait(HeaderWait::Bounds{3, 2});
  Pair a, b, c, d, e;
  CHECK(Hold(wait, a, 1));
  CHECK(Hold(wait, b, 1));
  int refused_fd = c.ours.Get();
  CHECK_FALSE(Hold(wait, c, 1));        // a third from 10.0.0.1
  CHECK(c.ours.Get() == refused_fd);    // left with the caller, to refuse
  CHECK(Hold(wait, d, 2));              // another address still gets in
  CHECK_FALSE(Hold(wait, e, 3));        // three in total
  CHECK(wait.Size() == 3);
  CHECK(wait.Expire(kT0 + seconds(3)).size() == 3);
  CHECK(Hold(wait, c, 1));
  CHECK(Hold(wait, e, 3));
}

TEST_CASE("the bounds follow the descriptor budget and max_children") {
  // What max_children leaves of the budget, when that is more than an eighth.
  CHECK(HeaderWait::BoundsFor(960, 100).total == 860);
  CHECK(HeaderWait::BoundsFor(960, 100).per_source == 430);
  // The default max_children takes the whole budget: an eighth stays.
  CHECK(HeaderWait::BoundsFor(960, 960).total == 120);
  CHECK(HeaderWait::BoundsFor(960, 960).per_source == 60);
  CHECK(HeaderWait::BoundsFor(960, 5000).total == 120);
  // Never above kMaxWaits, never none.
  CHECK(HeaderWait::BoundsFor(1'000'000, 65536).total == HeaderWait::kMaxWaits);
  CHECK(HeaderWait::BoundsFor(1'000'000, 65536).per_source == HeaderWait::kMaxWaits / 2);
  CHECK(HeaderWait::BoundsFor(1, 1).total == 1);
  CHECK(HeaderWait::BoundsFor(1, 1).per_source == 1);
}

TEST_CASE("new bounds apply to the next Hold; waits held beyond them stay") {
  HeaderWait wait;
  Pair a, b, c;
  REQUIRE(Hold(wait, a, 1));
  REQUIRE(Hold(wait, b, 2));
  wait.SetBounds(HeaderWait::Bounds{1, 1});
  CHECK(wait.Size() == 2);
  CHECK_FALSE(Hold(wait, c, 3));
  CHECK(wait.Expire(kT0 + seconds(3)).size() == 2);
  CHECK(Hold(wait, c, 3));
}

TEST_CASE("Revise ends the waits it drops, with their reason, and leaves the others reading") {
  HeaderWait wait;
  Pair kept, dropped;
  int kept_fd = kept.ours.Get();
  int dropped_fd = dropped.ours.Get();
  REQUIRE(Hold(wait, kept, 1));
  REQUIRE(Hold(wait, dropped, 2));
  kept.Send(kV1.substr(0, 10));  // a header under way goes on where it was
  CHECK_FALSE(wait.OnReadable(kept_fd));
  std::vector<HeaderWait::Done> ended = wait.Revise([](HeaderWait::Origin& origin) -> std::optional<HeaderWait::Dropped> {
    origin.listen_addr = "127.0.0.1:3333";  // pointed at new settings
    if (origin.peer_ip == Balancer(2)) return HeaderWait::Dropped{"proxy_untrusted", "gone from proxy_from"};
    return std::nullopt;
  });
  REQUIRE(ended.size() == 1);
  CHECK(ended[0].outcome == Outcome::kDropped);
  CHECK(ended[0].reason == "proxy_untrusted");
  CHECK(ended[0].detail == "gone from proxy_from");
  CHECK(ended[0].connection.Get() == dropped_fd);
  CHECK_FALSE(wait.Holds(dropped_fd));
  CHECK(wait.Size() == 1);
  CHECK(wait.NextDeadline() == kT0 + seconds(3));
  kept.Send(kV1.substr(10) + "data");
  auto done = wait.OnReadable(kept_fd);
  REQUIRE(done);
  CHECK(done->outcome == Outcome::kComplete);
  CHECK(done->origin.listen_addr == "127.0.0.1:3333");
  CHECK(Remaining(kept_fd) == "data");
  // The dropped balancer's slot is free again.
  Pair again;
  CHECK(Hold(wait, again, 2));
}

TEST_CASE("an oversized v2 header is refused as soon as its length is read") {
  HeaderWait wait;
  Pair pair;
  int fd = pair.ours.Get();
  REQUIRE(Hold(wait, pair));
  pair.Send(std::string("\r\n\r\n\0\r\nQUIT\n\x21\x11\xff\xff", 16));
  auto done = wait.OnReadable(fd);
  REQUIRE(done);
  CHECK(done->outcome == Outcome::kInvalid);
}

TEST_CASE("Clear closes every wait") {
  HeaderWait wait;
  Pair a, b;
  REQUIRE(Hold(wait, a));
  REQUIRE(Hold(wait, b));
  wait.Clear();
  CHECK(wait.Size() == 0);
  char byte;
  CHECK(read(a.theirs.Get(), &byte, 1) == 0);  // our end is closed
}

TEST_CASE("VersionsOf maps proxy_protocol") {
  CHECK(VersionsOf(config::ProxyProtocol::kV1).v1);
  CHECK_FALSE(VersionsOf(config::ProxyProtocol::kV1).v2);
  CHECK(VersionsOf(config::ProxyProtocol::kV2).v2);
  CHECK_FALSE(VersionsOf(config::ProxyProtocol::kV2).v1);
  CHECK(VersionsOf(config::ProxyProtocol::kAny).v1);
  CHECK(VersionsOf(config::ProxyProtocol::kAny).v2);
}

}  // namespace
}  // namespace yinetd::supervisor
