#include "supervisor/header_wait.h"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>

#include "sys/sys_error.h"

namespace yinetd::supervisor {

net::ProxyVersions VersionsOf(config::ProxyProtocol protocol) {
  switch (protocol) {
    case config::ProxyProtocol::kV1: return {true, false};
    case config::ProxyProtocol::kV2: return {false, true};
    case config::ProxyProtocol::kAny: return {true, true};
    case config::ProxyProtocol::kOff: break;
  }
  return {};
}

HeaderWait::Bounds HeaderWait::BoundsFor(uint64_t fd_budget, uint64_t children_fds) {
  uint64_t left = fd_budget > children_fds ? fd_budget - children_fds : 0;
  uint64_t total = std::min<uint64_t>(std::max(left, fd_budget / 8), kMaxWaits);
  return {static_cast<size_t>(std::max<uint64_t>(total, 1)), static_cast<size_t>(std::max<uint64_t>(total / 2, 1))};
}

bool HeaderWait::Hold(UniqueFd& connection, Origin origin, net::ProxyVersions versions, TimePoint deadline) {
  net::IpAddress source = origin.peer_ip;
  size_t& from_source = per_source_[source];
  if (waits_.size() >= bounds_.total || from_source >= bounds_.per_source) {
    if (from_source == 0) per_source_.erase(source);
    return false;
  }
  ++from_source;
  int fd = connection.Get();
  deadlines_.emplace(deadline, fd);
  waits_.emplace(fd, Wait{std::move(connection), std::move(origin), net::ProxyHeaderParser(versions), deadline});
  return true;
}

std::optional<HeaderWait::Done> HeaderWait::OnReadable(int fd) {
  auto it = waits_.find(fd);
  if (it == waits_.end()) return std::nullopt;
  net::ProxyHeaderParser& parser = it->second.parser;
  // Peek, so that bytes past the header stay in the socket for the program;
  // then take exactly those the parser claimed. What is peeked is there, so
  // the second recv returns all of it at once.
  std::array<char, net::kMaxProxyHeaderBytes> buffer;
  ssize_t peeked = RetryOnEintr([&] { return recv(fd, buffer.data(), parser.Room(), MSG_PEEK | MSG_DONTWAIT); });
  if (peeked < 0) {
    int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK) return std::nullopt;
    return End(it, Done::Outcome::kInvalid, "recv: " + ErrnoText(err));
  }
  if (peeked == 0) return End(it, Done::Outcome::kInvalid, "closed before its header was complete");
  net::ProxyParse parse = parser.Feed(std::string_view(buffer.data(), static_cast<size_t>(peeked)));
  if (parse.status == net::ProxyParse::Status::kInvalid) return End(it, Done::Outcome::kInvalid, parse.reason);
  ssize_t taken = RetryOnEintr([&] { return recv(fd, buffer.data(), parse.consumed, MSG_DONTWAIT); });
  if (taken != static_cast<ssize_t>(parse.consumed)) {
    return End(it, Done::Outcome::kInvalid, "header bytes vanished between peek and read");
  }
  if (parse.status == net::ProxyParse::Status::kNeedMore) return std::nullopt;
  Done done = End(it, Done::Outcome::kComplete);
  done.header = std::move(parse.header);
  return done;
}

std::vector<HeaderWait::Done> HeaderWait::Expire(TimePoint now) {
  std::vector<Done> ended;
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    ended.push_back(End(waits_.find(deadlines_.begin()->second), Done::Outcome::kTimeout));
  }
  return ended;
}

std::vector<HeaderWait::Done> HeaderWait::Revise(const std::function<std::optional<Dropped>(Origin& origin)>& revise) {
  std::vector<Done> ended;
  for (auto it = waits_.begin(); it != waits_.end();) {
    auto next = std::next(it);
    if (std::optional<Dropped> dropped = revise(it->second.origin)) {
      ended.push_back(End(it, Done::Outcome::kDropped, std::move(dropped->detail)));
      ended.back().reason = std::move(dropped->reason);
    }
    it = next;
  }
  return ended;
}

std::optional<TimePoint> HeaderWait::NextDeadline() const {
  if (deadlines_.empty()) return std::nullopt;
  return deadlines_.begin()->first;
}

std::vector<int> HeaderWait::Fds() const {
  std::vector<int> fds;
  fds.reserve(waits_.size());
  for (const auto& [fd, wait] : waits_) fds.push_back(fd);
  return fds;
}

void HeaderWait::Clear() {
  waits_.clear();
  deadlines_.clear();
  per_source_.clear();
}

HeaderWait::Done HeaderWait::End(std::map<int, Wait>::iterator it, Done::Outcome outcome, std::string detail) {
  Wait& wait = it->second;
  deadlines_.erase({wait.deadline, it->first});
  auto source = per_source_.find(wait.origin.peer_ip);
  if (--source->second == 0) per_source_.erase(source);
  Done done{outcome, std::move(wait.connection), std::move(wait.origin), {}, std::move(detail), {}};
  waits_.erase(it);
  return done;
}

}  // namespace yinetd::supervisor
