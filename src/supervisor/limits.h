// Admission control: who may start a child now, and why not.
//
// Pure: time comes in as an argument, so every rule is tested with a fake
// clock. State per client is kept only while it matters (a running child,
// or a rate bucket that is not yet full again), so memory follows the
// number of active clients, never the number ever seen.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string_view>

#include "config/config.h"
#include "net/access_list.h"
#include "supervisor/clock.h"

namespace yinetd::supervisor {

enum class RefuseReason { kDenied, kMaxChildren, kMaxConnections, kMaxPerSource, kMaxRatePerSource, kMaxRate };

// The word used in logs and metrics: "denied", "max_connections", ...
std::string_view ReasonName(RefuseReason reason);

// The burst a service's `rate` allows: the rate, but at least 1.
double BurstFor(double rate);

// A token bucket: `rate` tokens a second, holding at most `burst`.
class TokenBucket {
 public:
  TokenBucket(double rate, double burst, Clock::time_point now);
  // Refills for the time passed; true if a whole token is there.
  bool Ready(Clock::time_point now);
  void Take() { tokens_ -= 1; }
  // Full again: indistinguishable from a new bucket, so it can be dropped.
  bool Full(Clock::time_point now);

 private:
  void Refill(Clock::time_point now);
  double rate_;
  double burst_;
  double tokens_;
  Clock::time_point last_;
};

// The address a client is counted under: its IP masked to the service's
// source_prefix_v4 / source_prefix_v6. nullopt for unix clients.
using SourceKey = std::optional<net::IpAddress>;
SourceKey SourceOf(const std::optional<net::IpAddress>& ip, const config::Limits& limits);

// One service's admission state. It outlives reloads (ServiceState): a
// reload hands it the new limits with Reconfigure.
class ServiceGate {
 public:
  explicit ServiceGate(const config::Limits& limits) : limits_(limits) {}

  // Checks max_connections (against `running`), max_per_source and the
  // rates; on success takes the rate tokens. Counting the connection in is
  // CountIn's job, done when its child has started. Access lists and
  // max_children are checked by the caller, before this.
  std::optional<RefuseReason> Check(const SourceKey& source, int running, Clock::time_point now);
  // A child admitted under `source` started / has ended.
  void CountIn(const SourceKey& source);
  void CountOut(const SourceKey& source);
  // True while `running` children leave no room for another.
  bool Full(int running) const;

  // The limits of a reloaded config. Buckets whose rate is unchanged keep
  // their tokens; the others start full.
  void Reconfigure(const config::Limits& limits, bool keep_rate_bucket, bool keep_source_buckets);
  // Forgets the per-source counts, before the running children are counted
  // in again under new source prefixes.
  void ClearSourceCounts() { per_source_.clear(); }
  int CountFor(const net::IpAddress& source) const;

  size_t TrackedSources() const { return per_source_.size() + source_buckets_.size(); }

 private:
  void DropFullBuckets(Clock::time_point now);

  config::Limits limits_;
  std::map<net::IpAddress, int> per_source_;
  std::map<net::IpAddress, TokenBucket> source_buckets_;
  std::optional<TokenBucket> bucket_;
  Clock::time_point last_sweep_{};
};

}  // namespace yinetd::supervisor
