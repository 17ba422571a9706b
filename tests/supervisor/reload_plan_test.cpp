#include "supervisor/reload_plan.h"

#include <doctest/doctest.h>

namespace yinetd::supervisor {
namespace {

using Fate = ServiceStep::Fate;
using Action = ListenerStep::Action;

net::Address Addr(const char* text) { return std::get<net::Address>(net::ParseAddress(text)); }

config::ServiceConfig Svc(const std::string& name, const std::string& program = "/bin/cat",
                          const char* listen = "127.0.0.1:7000",
                          config::Protocol protocol = config::Protocol::kTcp) {
  config::ServiceConfig s;
  s.name = name;
  s.program = program;
  s.protocol = protocol;
  s.listen.push_back(Addr(listen));
  return s;
}

// The listeners `services` have open, as the plan sees them.
std::vector<OpenListener> OpenFor(const std::vector<const config::ServiceConfig*>& services) {
  std::vector<OpenListener> open;
  for (const config::ServiceConfig* s : services) {
    for (const net::Address& a : s->listen) open.push_back(OpenListener{{a, s->protocol}, s->mode, s->socket});
  }
  return open;
}

ReloadPlan Plan(const std::vector<const config::ServiceConfig*>& old, const std::vector<config::ServiceConfig>& next) {
  return PlanReload(old, OpenFor(old), next);
}

std::vector<Fate> Fates(const ReloadPlan& plan) {
  std::vector<Fate> fates;
  for (const ServiceStep& step : plan.services) fates.push_back(step.fate);
  return fates;
}

TEST_CASE("kept, changed, added and removed are told apart by name and settings") {
  config::ServiceConfig a = Svc("a"), b = Svc("b", "/bin/cat", "127.0.0.1:7001"),
                        gone = Svc("gone", "/bin/cat", "127.0.0.1:7002");
  std::vector<config::ServiceConfig> next{Svc("a"), Svc("b", "/bin/echo", "127.0.0.1:7001"),
                                          Svc("new", "/bin/cat", "127.0.0.1:7003")};
  ReloadPlan plan = Plan({&a, &b, &gone}, next);
  CHECK(Fates(plan) == std::vector<Fate>{Fate::kKept, Fate::kChanged, Fate::kAdded});
  CHECK(plan.removed == std::vector<std::string>{"gone"});
  CHECK(plan.services[1].old_index == 1);
  CHECK_FALSE(plan.services[2].old_index.has_value());
  CHECK(plan.Count(Action::kKeep) == 2);
  CHECK(plan.Count(Action::kOpen) == 1);
  CHECK(plan.Count(Action::kClose) == 1);
}

TEST_CASE("a change of any setting counts as changed") {
  config::ServiceConfig a = Svc("a");
  config::ServiceConfig limited = Svc("a");
  limited.limits.max_connections = 3;
  CHECK(Fates(Plan({&a}, {limited})) == std::vector<Fate>{Fate::kChanged});
  config::ServiceConfig moved = Svc("a", "/bin/cat", "127.0.0.1:7001");
  CHECK(Fates(Plan({&a}, {moved})) == std::vector<Fate>{Fate::kChanged});
  config::ServiceConfig env = Svc("a");
  env.env.emplace_back("X", "1");
  CHECK(Fates(Plan({&a}, {env})) == std::vector<Fate>{Fate::kChanged});
}

TEST_CASE("a changed service keeps its socket when its address and protocol stay") {
  config::ServiceConfig a = Svc("a");
  config::ServiceConfig env = Svc("a");
  env.env.emplace_back("X", "1");
  ReloadPlan plan = Plan({&a}, {env});
  REQUIRE(plan.listeners.size() == 1);
  CHECK(plan.listeners[0].action == Action::kKeep);
  CHECK(plan.listeners[0].old_index == 0);
}

TEST_CASE("a UDP service on a TCP service's port is another listener: the TCP one is kept") {
  config::ServiceConfig tcp = Svc("tcp");
  std::vector<config::ServiceConfig> next{Svc("udp", "/bin/cat", "127.0.0.1:7000", config::Protocol::kUdp),
                                          Svc("tcp")};
  ReloadPlan plan = Plan({&tcp}, next);  // added in front: reordered too
  REQUIRE(plan.listeners.size() == 2);
  CHECK(plan.listeners[0].action == Action::kOpen);
  CHECK(plan.listeners[1].action == Action::kKeep);
  CHECK(plan.listeners[1].service == 1);
  // ... and removing it again touches nothing else either.
  ReloadPlan back = Plan({&next[0], &next[1]}, {Svc("tcp")});
  CHECK(back.Count(Action::kKeep) == 1);
  CHECK(back.Count(Action::kClose) == 1);
  CHECK(back.listeners.back().old_index == 0);
}

TEST_CASE("options a bound socket can change are changed in place; the others need a new socket") {
  config::ServiceConfig a = Svc("a");
  config::ServiceConfig nodelay = Svc("a");
  nodelay.socket.nodelay = true;
  CHECK(Plan({&a}, {nodelay}).listeners[0].action == Action::kUpdate);
  config::ServiceConfig wait = Svc("a");
  wait.mode = config::Mode::kWait;
  CHECK(Plan({&a}, {wait}).listeners[0].action == Action::kUpdate);
  config::ServiceConfig reuse = Svc("a");
  reuse.socket.reuseport = true;
  CHECK(Plan({&a}, {reuse}).listeners[0].action == Action::kReplace);
  config::ServiceConfig unix_a = Svc("u", "/bin/cat", "unix:/tmp/x.sock");
  config::ServiceConfig unix_b = unix_a;
  unix_b.socket.reuseport = true;  // meaningless for unix sockets: no new socket
  CHECK(Plan({&unix_a}, {unix_b}).listeners[0].action == Action::kUpdate);
}

TEST_CASE("rate buckets carry over while their rate is unchanged; new prefixes recount") {
  config::ServiceConfig a = Svc("a");
  a.limits.max_rate = 5;
  a.limits.max_rate_per_source = 1;
  config::ServiceConfig same = a;
  same.env.emplace_back("X", "1");
  ServiceStep kept = Plan({&a}, {same}).services[0];
  CHECK(kept.keep_rate_bucket);
  CHECK(kept.keep_source_buckets);
  CHECK_FALSE(kept.recount_sources);
  config::ServiceConfig faster = a;
  faster.limits.max_rate = 6;
  CHECK_FALSE(Plan({&a}, {faster}).services[0].keep_rate_bucket);
  config::ServiceConfig grouped = a;
  grouped.limits.source_prefix_v4 = 24;
  ServiceStep regrouped = Plan({&a}, {grouped}).services[0];
  CHECK(regrouped.recount_sources);
  CHECK_FALSE(regrouped.keep_source_buckets);
  CHECK(regrouped.keep_rate_bucket);
}

TEST_CASE("an identical config keeps everything; an empty old one adds everything") {
  config::ServiceConfig a = Svc("a");
  CHECK(Plan({&a}, {Svc("a")}).Count(Fate::kKept) == 1);
  CHECK(Plan({}, {Svc("a"), Svc("b", "/bin/cat", "127.0.0.1:7001")}).Count(Fate::kAdded) == 2);
  ReloadPlan none = Plan({&a}, {});
  CHECK(none.removed.size() == 1);
  CHECK(none.Count(Action::kClose) == 1);
}

}  // namespace
}  // namespace yinetd::supervisor
