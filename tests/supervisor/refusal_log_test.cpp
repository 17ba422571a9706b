#include "supervisor/refusal_log.h"

#include <doctest/doctest.h>

namespace yinetd::supervisor {
namespace {

using std::chrono::milliseconds;
const RefusalLog::Clock::time_point kT0 = RefusalLog::Clock::time_point(std::chrono::hours(1));

TEST_CASE("a burst is logged, the rest summed once the window ends") {
  RefusalLog log;
  int printed = 0;
  for (int i = 0; i < 5000; ++i) printed += log.Record("echo", "max_rate", kT0 + milliseconds(i / 10)) ? 1 : 0;
  CHECK(printed == RefusalLog::kBurst);
  CHECK(log.Flush(kT0 + milliseconds(500)).empty());  // window still open
  REQUIRE(log.NextFlush().has_value());
  CHECK(*log.NextFlush() == kT0 + RefusalLog::kWindow);
  auto flushed = log.Flush(kT0 + milliseconds(1000));
  REQUIRE(flushed.size() == 1);
  CHECK(flushed[0].service == "echo");
  CHECK(flushed[0].reason == "max_rate");
  CHECK(flushed[0].count == 5000 - RefusalLog::kBurst);
  CHECK_FALSE(log.NextFlush().has_value());
}

TEST_CASE("services and reasons are limited separately") {
  RefusalLog log;
  for (int i = 0; i < 10; ++i) log.Record("a", "denied", kT0);
  CHECK(log.Record("a", "max_rate", kT0));
  CHECK(log.Record("b", "denied", kT0));
}

TEST_CASE("a quiet window is forgotten and the next burst is logged again") {
  RefusalLog log;
  CHECK(log.Record("a", "denied", kT0));
  CHECK(log.Flush(kT0 + std::chrono::seconds(2)).empty());
  for (int i = 0; i < RefusalLog::kBurst; ++i) CHECK(log.Record("a", "denied", kT0 + std::chrono::seconds(2)));
}

}  // namespace
}  // namespace yinetd::supervisor
