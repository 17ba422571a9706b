#include "sandbox/dynamic_users.h"

#include <doctest/doctest.h>

#include <set>

namespace yinetd::sandbox {
namespace {

TEST_CASE("each running connection holds its own uid until released") {
  DynamicUsers pool({61000, 61002});
  auto a = pool.Acquire(), b = pool.Acquire(), c = pool.Acquire();
  REQUIRE(a);
  REQUIRE(b);
  REQUIRE(c);
  CHECK(std::set<uid_t>{*a, *b, *c} == std::set<uid_t>{61000, 61001, 61002});
  CHECK(pool.Held() == 3);
  CHECK_FALSE(pool.Acquire());  // all held: the caller refuses the connection
  pool.Release(*b);
  CHECK(pool.Acquire() == *b);
}

TEST_CASE("a uid just released is the last to be handed out again") {
  DynamicUsers pool({100, 104});
  auto first = pool.Acquire();
  pool.Release(*first);
  for (int i = 0; i < 4; ++i) CHECK(pool.Acquire() != first);
  CHECK(pool.Acquire() == first);
}

TEST_CASE("releasing a uid not held or outside the range changes nothing") {
  DynamicUsers pool({100, 101});
  auto held = pool.Acquire();
  pool.Release(99);
  pool.Release(102);
  pool.Release(*held == 100 ? 101 : 100);
  CHECK(pool.Held() == 1);
  pool.Release(*held);
  pool.Release(*held);
  CHECK(pool.Held() == 0);
}

TEST_CASE("a uid held across a change of range stays held") {
  DynamicUsers pool({100, 101});
  CHECK(pool.Hold(100));
  CHECK_FALSE(pool.Hold(102));
  CHECK(pool.Acquire() == 101u);
  CHECK_FALSE(pool.Acquire());
}

}  // namespace
}  // namespace yinetd::sandbox
