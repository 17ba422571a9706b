#include "systemd/journal.h"

#include <doctest/doctest.h>

#include "log/events.h"

namespace yinetd::systemd {
namespace {

TEST_CASE("JOURNAL_STREAM matches only the same device and inode") {
  CHECK(JournalStreamMatches("8:1234", 8, 1234));
  CHECK(!JournalStreamMatches("8:1234", 8, 1235));
  CHECK(!JournalStreamMatches("9:1234", 8, 1234));
}

TEST_CASE("a malformed JOURNAL_STREAM matches nothing") {
  for (const char* value : {"", ":", "8", "8:", ":1234", "8:12x", "x:1", "8:1234:5", "-8:1234"}) {
    CHECK_MESSAGE(!JournalStreamMatches(value, 8, 1234), value);
  }
}

TEST_CASE("journal lines are prefixed with the syslog priority of their level") {
  CHECK(log::PriorityPrefix(log::Level::kError) == "<3>");
  CHECK(log::PriorityPrefix(log::Level::kWarn) == "<4>");
  CHECK(log::PriorityPrefix(log::Level::kInfo) == "<6>");
  CHECK(log::PriorityPrefix(log::Level::kDebug) == "<7>");
  CHECK(log::PriorityPrefix(log::Level::kTrace) == "<7>");
}

}  // namespace
}  // namespace yinetd::systemd
