// HeaderWait: connections of proxy_protocol services whose PROXY header
// has not fully arrived yet.
//
// The loop hands over each connection a trusted balancer opened; HeaderWait
// reads its header as bytes come in, never blocking (MSG_DONTWAIT) and never
// reading a byte past the header (it peeks, then consumes exactly what the
// parser claims), and reports each wait's end: a complete header, an
// invalid one, or its deadline passed. Nothing is forked while a header is
// awaited, and the number of waits is bounded in total and per balancer
// address, so peers that connect and send nothing cost one descriptor each,
// for proxy_timeout at most. Time comes in as an argument: tested with a
// fake clock. It keeps its deadlines in order itself; the loop's timer
// queue holds the earliest (Supervisor::ArmHeaderDeadline).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "net/access_list.h"
#include "net/address.h"
#include "net/proxy_header.h"
#include "supervisor/clock.h"
#include "supervisor/service.h"
#include "sys/unique_fd.h"

namespace yinetd::supervisor {

// The header versions a service's proxy_protocol takes.
net::ProxyVersions VersionsOf(config::ProxyProtocol protocol);

class HeaderWait {
 public:
  // Waits held at once, all services together, and from one balancer
  // address: a balancer sends its header at once, so even a busy one has
  // few in flight; the per-address bound leaves room for the others.
  // The most waits ever held at once, however many descriptors there are.
  static constexpr size_t kMaxWaits = 1024;
  struct Bounds {
    size_t total = kMaxWaits;
    size_t per_source = kMaxWaits / 2;
  };
  // Each wait holds one descriptor; the children may hold
  // `children_fds` (max_children times what each may cost): the waits get
  // what the children leave of `fd_budget` (DescriptorBudget), but at least
  // an eighth of it, so that the default max_children, which takes the
  // whole budget, still leaves PROXY services room; at most kMaxWaits. One
  // balancer address may hold half.
  static Bounds BoundsFor(uint64_t fd_budget, uint64_t children_fds);

  // Where a connection came in, and from whom.
  struct Origin {
    std::shared_ptr<Service> service;
    std::string listen_addr;  // the listener's address text
    net::Endpoint peer;       // the balancer
    net::IpAddress peer_ip;   // its address: what the per-source bound counts
  };

  // Why a wait ended early (Revise): the refusal's reason and detail.
  struct Dropped {
    std::string reason;
    std::string detail;
  };

  struct Done {
    enum class Outcome { kComplete, kInvalid, kTimeout, kDropped };
    Outcome outcome;
    UniqueFd connection;
    Origin origin;
    net::ProxyHeader header;  // kComplete
    std::string detail;       // kInvalid, kDropped: what was wrong
    std::string reason;       // kDropped: the refusal's reason
  };

  HeaderWait() = default;
  explicit HeaderWait(Bounds bounds) : bounds_(bounds) {}
  // New bounds (a reload changed max_children): waits already held beyond
  // them stay until they end; new ones wait for room.
  void SetBounds(Bounds bounds) { bounds_ = bounds; }
  Bounds GetBounds() const { return bounds_; }

  // Holds `connection` until its header is whole or `deadline` passes.
  // False (and `connection` untouched) when the bounds are reached: the
  // caller refuses it.
  bool Hold(UniqueFd& connection, Origin origin, net::ProxyVersions versions, TimePoint deadline);

  // `fd`, one held connection, is readable: takes what it can of its
  // header. The wait's end, if this was it.
  std::optional<Done> OnReadable(int fd);

  // Every wait whose deadline is at or before `now`, ended.
  std::vector<Done> Expire(TimePoint now);

  // After a reload: `revise` sees each wait's origin and may point it at
  // the settings now in force; a wait it returns a Dropped for ends
  // (kDropped), the others go on with their header as they were.
  std::vector<Done> Revise(const std::function<std::optional<Dropped>(Origin& origin)>& revise);

  std::optional<TimePoint> NextDeadline() const;
  bool Holds(int fd) const { return waits_.count(fd) != 0; }
  size_t Size() const { return waits_.size(); }
  // Every held descriptor, for the poll set.
  std::vector<int> Fds() const;
  // Closes every wait (shutdown).
  void Clear();

 private:
  struct Wait {
    UniqueFd connection;
    Origin origin;
    net::ProxyHeaderParser parser;
    TimePoint deadline;
  };

  Done End(std::map<int, Wait>::iterator it, Done::Outcome outcome, std::string detail = {});

  Bounds bounds_;
  std::map<int, Wait> waits_;  // by fd
  std::set<std::pair<TimePoint, int>> deadlines_;
  std::map<net::IpAddress, size_t> per_source_;
};

}  // namespace yinetd::supervisor
