#include "supervisor/limits.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>

namespace yinetd::supervisor {
namespace {

using std::chrono::milliseconds;

net::IpAddress Ip(const char* text) {
  net::IpAddress ip;
  if (inet_pton(AF_INET, text, ip.bytes.data()) != 1) {
    ip.v6 = true;
    REQUIRE(inet_pton(AF_INET6, text, ip.bytes.data()) == 1);
  }
  return ip;
}

const Clock::time_point kT0 = Clock::time_point(std::chrono::hours(1));

// As Children does it: checked, then counted in once the child started.
std::optional<RefuseReason> Admit(ServiceGate& gate, const SourceKey& source, int running, TimePoint now) {
  std::optional<RefuseReason> refused = gate.Check(source, running, now);
  if (!refused) gate.CountIn(source);
  return refused;
}

TEST_CASE("a token bucket allows a burst, then its rate") {
  TokenBucket bucket(5, 5, kT0);
  int taken = 0;
  for (int i = 0; i < 30; ++i) {
    if (bucket.Ready(kT0)) {
      bucket.Take();
      ++taken;
    }
  }
  CHECK(taken == 5);
  CHECK_FALSE(bucket.Ready(kT0 + milliseconds(100)));
  CHECK(bucket.Ready(kT0 + milliseconds(200)));  // 5/s: one token per 200 ms
  CHECK_FALSE(bucket.Full(kT0 + milliseconds(900)));
  CHECK(bucket.Full(kT0 + milliseconds(1000)));
}

TEST_CASE("max_connections compares the running count") {
  config::Limits limits;
  limits.max_connections = 2;
  ServiceGate gate(limits);
  CHECK_FALSE(Admit(gate, std::nullopt, 1, kT0).has_value());
  CHECK(Admit(gate, std::nullopt, 2, kT0) == RefuseReason::kMaxConnections);
  CHECK(gate.Full(2));
  CHECK_FALSE(gate.Full(1));
}

TEST_CASE("max_per_source counts per source until released") {
  config::Limits limits;
  limits.max_per_source = 2;
  ServiceGate gate(limits);
  SourceKey a = SourceOf(Ip("127.0.0.1"), limits), b = SourceOf(Ip("127.0.0.2"), limits);
  CHECK_FALSE(Admit(gate, a, 0, kT0).has_value());
  CHECK_FALSE(Admit(gate, a, 1, kT0).has_value());
  CHECK(Admit(gate, a, 2, kT0) == RefuseReason::kMaxPerSource);
  CHECK_FALSE(Admit(gate, b, 2, kT0).has_value());
  gate.CountOut(a);
  CHECK_FALSE(Admit(gate, a, 2, kT0).has_value());
  gate.CountOut(a);
  gate.CountOut(a);
  gate.CountOut(b);
  CHECK(gate.TrackedSources() == 0);  // nothing kept for gone clients
}

TEST_CASE("sources are grouped by prefix: one /64 is one source") {
  config::Limits limits;
  limits.max_per_source = 1;
  ServiceGate gate(limits);
  SourceKey first = SourceOf(Ip("2001:db8:1:2::10"), limits);
  SourceKey second = SourceOf(Ip("2001:db8:1:2:ffff::99"), limits);
  SourceKey other_net = SourceOf(Ip("2001:db8:1:3::10"), limits);
  CHECK(first == second);
  CHECK_FALSE(Admit(gate, first, 0, kT0).has_value());
  CHECK(Admit(gate, second, 1, kT0) == RefuseReason::kMaxPerSource);
  CHECK_FALSE(Admit(gate, other_net, 1, kT0).has_value());
  limits.source_prefix_v4 = 24;
  CHECK(SourceOf(Ip("10.0.0.1"), limits) == SourceOf(Ip("10.0.0.200"), limits));
  CHECK_FALSE(SourceOf(std::nullopt, limits).has_value());
}

TEST_CASE("max_rate refuses the excess and recovers with time") {
  config::Limits limits;
  limits.max_rate = 5;
  ServiceGate gate(limits);
  int admitted = 0;
  for (int i = 0; i < 30; ++i) admitted += Admit(gate, std::nullopt, 0, kT0) ? 0 : 1;
  CHECK(admitted == 5);
  CHECK(Admit(gate, std::nullopt, 0, kT0) == RefuseReason::kMaxRate);
  CHECK_FALSE(Admit(gate, std::nullopt, 0, kT0 + std::chrono::seconds(1)).has_value());
}

TEST_CASE("a rate below one a second admits one connection every so often") {
  config::Limits limits;
  limits.max_rate = 0.5;
  limits.max_rate_per_source = 0.25;
  ServiceGate gate(limits);
  SourceKey source = SourceOf(Ip("127.0.0.1"), limits);
  CHECK_FALSE(Admit(gate, source, 0, kT0).has_value());
  CHECK(Admit(gate, SourceOf(Ip("127.0.0.2"), limits), 0, kT0) == RefuseReason::kMaxRate);
  CHECK_FALSE(Admit(gate, SourceOf(Ip("127.0.0.2"), limits), 0, kT0 + std::chrono::seconds(2)).has_value());
  CHECK(Admit(gate, source, 0, kT0 + std::chrono::seconds(3)) == RefuseReason::kMaxRatePerSource);
  CHECK_FALSE(Admit(gate, source, 0, kT0 + std::chrono::seconds(4)).has_value());
}

TEST_CASE("max_rate_per_source slows one client and not another") {
  config::Limits limits;
  limits.max_rate_per_source = 2;
  ServiceGate gate(limits);
  SourceKey noisy = SourceOf(Ip("127.0.0.1"), limits), quiet = SourceOf(Ip("127.0.0.2"), limits);
  CHECK_FALSE(gate.Check(noisy, 0, kT0).has_value());
  CHECK_FALSE(gate.Check(noisy, 0, kT0).has_value());
  CHECK(gate.Check(noisy, 0, kT0) == RefuseReason::kMaxRatePerSource);
  CHECK_FALSE(gate.Check(quiet, 0, kT0).has_value());
  // Buckets that refilled are forgotten: memory follows active clients.
  CHECK(gate.TrackedSources() == 2);
  CHECK_FALSE(gate.Check(quiet, 0, kT0 + std::chrono::seconds(5)).has_value());
  CHECK(gate.TrackedSources() == 1);
}

TEST_CASE("a reload keeps the counts and the buckets whose rate is unchanged") {
  config::Limits limits;
  limits.max_rate = 1;
  limits.max_rate_per_source = 1;
  limits.max_per_source = 1;
  ServiceGate gate(limits);
  SourceKey a = SourceOf(Ip("127.0.0.1"), limits);
  CHECK_FALSE(Admit(gate, a, 0, kT0).has_value());
  // Same rates: the spent tokens stay spent, the running client stays counted.
  gate.Reconfigure(limits, true, true);
  CHECK(Admit(gate, a, 1, kT0) == RefuseReason::kMaxPerSource);
  CHECK(gate.CountFor(*a) == 1);
  CHECK(gate.Check(SourceOf(Ip("127.0.0.2"), limits), 1, kT0) == RefuseReason::kMaxRate);
  // A new rate starts with a full bucket.
  config::Limits faster = limits;
  faster.max_rate = 5;
  gate.Reconfigure(faster, false, true);
  CHECK_FALSE(gate.Check(SourceOf(Ip("127.0.0.2"), faster), 1, kT0).has_value());
}

TEST_CASE("clients are counted per source even without max_per_source, so a reload can set it") {
  config::Limits limits;
  ServiceGate gate(limits);
  SourceKey a = SourceOf(Ip("127.0.0.1"), limits);
  CHECK_FALSE(Admit(gate, a, 0, kT0).has_value());
  config::Limits capped = limits;
  capped.max_per_source = 1;
  gate.Reconfigure(capped, true, true);
  CHECK(gate.Check(a, 1, kT0) == RefuseReason::kMaxPerSource);
  gate.CountOut(a);
  CHECK_FALSE(gate.Check(a, 0, kT0).has_value());
}

TEST_CASE("reason names are the log words") {
  CHECK(ReasonName(RefuseReason::kDenied) == "denied");
  CHECK(ReasonName(RefuseReason::kMaxRatePerSource) == "max_rate_per_source");
  CHECK(ReasonName(RefuseReason::kMaxChildren) == "max_children");
}

}  // namespace
}  // namespace yinetd::supervisor
