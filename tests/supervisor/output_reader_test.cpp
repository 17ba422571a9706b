#include "supervisor/output_reader.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

namespace yinetd::supervisor {
namespace {

using Lines = std::vector<std::string>;

TEST_CASE("lines are split and a partial line waits for its newline") {
  OutputReader reader{UniqueFd()};
  CHECK(reader.Feed("one\ntw") == Lines{"one"});
  CHECK(reader.Feed("o\n\nthree") == Lines{"two", ""});
  CHECK(reader.Finish() == Lines{"three"});
  CHECK(reader.Finish().empty());
}

TEST_CASE("an overlong line is cut at kMaxLine") {
  OutputReader reader{UniqueFd()};
  Lines lines = reader.Feed(std::string(OutputReader::kMaxLine + 10, 'x'));
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].size() == OutputReader::kMaxLine);
  CHECK(reader.Finish() == Lines{std::string(10, 'x')});
}

TEST_CASE("Read drains a pipe, then returns the last partial line at EOF") {
  int fds[2];
  REQUIRE(pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0);
  UniqueFd write_end(fds[1]);
  OutputReader reader{UniqueFd(fds[0])};
  REQUIRE(write(write_end.Get(), "a\nb", 3) == 3);
  CHECK(reader.Read() == Lines{"a"});
  CHECK_FALSE(reader.AtEof());
  CHECK(reader.Read().empty());  // EAGAIN: nothing new, still open
  write_end.Reset();
  CHECK(reader.Read() == Lines{"b"});
  CHECK(reader.AtEof());
}

}  // namespace
}  // namespace yinetd::supervisor
