#include "sandbox/namespace_releaser.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

namespace yinetd::sandbox {
namespace {

// Whether `fd` (a pipe's read end) reads EOF within 10 s: every write end
// is closed.
bool EndsWithin10s(int fd) {
  pollfd ready{fd, POLLIN, 0};
  char byte;
  return poll(&ready, 1, 10000) == 1 && read(fd, &byte, 1) == 0;
}

TEST_CASE("the releaser closes what it is given, on its own thread, and what is queued when it ends") {
  int ends[2];
  REQUIRE(pipe2(ends, O_CLOEXEC) == 0);
  UniqueFd read_end(ends[0]);
  {
    NamespaceReleaser releaser;
    releaser.Release(UniqueFd(ends[1]));
    CHECK(EndsWithin10s(read_end.Get()));
    // Handed over just before the releaser ends: closed all the same.
    REQUIRE(pipe2(ends, O_CLOEXEC) == 0);
    read_end.Reset(ends[0]);
    releaser.Release(UniqueFd(ends[1]));
  }
  char byte;
  CHECK(read(read_end.Get(), &byte, 1) == 0);
}

}  // namespace
}  // namespace yinetd::sandbox
