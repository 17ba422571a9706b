#include "supervisor/reload_plan.h"

#include <doctest/doctest.h>

namespace yinetd::supervisor {
namespace {

config::ServiceConfig Svc(const std::string& name, const std::string& program = "/bin/cat") {
  config::ServiceConfig s;
  s.name = name;
  s.program = program;
  s.listen.push_back(std::get<net::Address>(net::ParseAddress("127.0.0.1:7000")));
  return s;
}

using Fate = ReloadPlan::Fate;

TEST_CASE("kept, changed, added and removed are told apart by name and settings") {
  config::ServiceConfig a = Svc("a"), b = Svc("b"), gone = Svc("gone");
  std::vector<config::ServiceConfig> next{Svc("a"), Svc("b", "/bin/echo"), Svc("new")};
  ReloadPlan plan = Diff({&a, &b, &gone}, next);
  CHECK(plan.next == std::vector<Fate>{Fate::kKept, Fate::kChanged, Fate::kAdded});
  CHECK(plan.removed == std::vector<std::string>{"gone"});
  CHECK(plan.Count(Fate::kKept) == 1);
  CHECK(plan.Count(Fate::kChanged) == 1);
  CHECK(plan.Count(Fate::kAdded) == 1);
}

TEST_CASE("a change of any setting counts as changed") {
  config::ServiceConfig a = Svc("a");
  config::ServiceConfig limited = Svc("a");
  limited.limits.max_connections = 3;
  CHECK(Diff({&a}, {limited}).next == std::vector<Fate>{Fate::kChanged});
  config::ServiceConfig moved = Svc("a");
  moved.listen[0].port = 7001;
  CHECK(Diff({&a}, {moved}).next == std::vector<Fate>{Fate::kChanged});
  config::ServiceConfig env = Svc("a");
  env.env.emplace_back("X", "1");
  CHECK(Diff({&a}, {env}).next == std::vector<Fate>{Fate::kChanged});
}

TEST_CASE("an identical config keeps everything; an empty old one adds everything") {
  config::ServiceConfig a = Svc("a");
  CHECK(Diff({&a}, {Svc("a")}).Count(Fate::kKept) == 1);
  CHECK(Diff({}, {Svc("a"), Svc("b")}).Count(Fate::kAdded) == 2);
  CHECK(Diff({&a}, {}).removed.size() == 1);
}

}  // namespace
}  // namespace yinetd::supervisor
