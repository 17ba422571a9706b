#include "supervisor/poll_set.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "sys/unique_fd.h"

namespace yinetd::supervisor {
namespace {

struct Pipe {
  Pipe() {
    int fds[2];
    REQUIRE(pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0);
    read_end.Reset(fds[0]);
    write_end.Reset(fds[1]);
  }
  void Poke() { REQUIRE(write(write_end.Get(), "x", 1) == 1); }
  UniqueFd read_end, write_end;
};

TEST_CASE("only the ready descriptors' handlers are called") {
  PollSet set;
  Pipe a, b;
  std::vector<char> called;
  set.Add(a.read_end.Get(), [&](short) { called.push_back('a'); });
  set.Add(b.read_end.Get(), [&](short) { called.push_back('b'); });
  b.Poke();
  CHECK(set.Wait(0) == 1);
  CHECK(called == std::vector<char>{'b'});
}

TEST_CASE("a handler may remove another ready descriptor, which is then not called") {
  PollSet set;
  Pipe a, b;
  int calls = 0;
  set.Add(a.read_end.Get(), [&](short) {
    ++calls;
    set.Remove(b.read_end.Get());
  });
  set.Add(b.read_end.Get(), [&](short) {
    ++calls;
    set.Remove(a.read_end.Get());
  });
  a.Poke();
  b.Poke();
  set.Wait(0);
  CHECK(calls == 1);
  CHECK(set.Size() == 1);
}

TEST_CASE("a descriptor removed and added again in a pass waits for the next pass") {
  PollSet set;
  Pipe a;
  int old_calls = 0, new_calls = 0;
  Pipe b;
  set.Add(b.read_end.Get(), [&](short) {
    set.Remove(a.read_end.Get());
    set.Add(a.read_end.Get(), [&](short) { ++new_calls; });
  });
  set.Add(a.read_end.Get(), [&](short) { ++old_calls; });
  a.Poke();
  b.Poke();
  set.Wait(0);
  // b's handler ran first or second; either way a's new handler was not
  // called for the readiness its old registration saw.
  CHECK(new_calls == 0);
  set.Remove(b.read_end.Get());
  set.Wait(0);
  CHECK(new_calls == 1);
}

TEST_CASE("removing keeps the others reachable, whatever the order") {
  PollSet set;
  Pipe p[4];
  int calls[4] = {};
  for (int i = 0; i < 4; ++i) set.Add(p[i].read_end.Get(), [&calls, i](short) { ++calls[i]; });
  set.Remove(p[0].read_end.Get());
  set.Remove(p[2].read_end.Get());
  CHECK_FALSE(set.Contains(p[0].read_end.Get()));
  for (auto& pipe : p) pipe.Poke();
  set.Wait(0);
  CHECK(calls[0] == 0);
  CHECK(calls[1] == 1);
  CHECK(calls[2] == 0);
  CHECK(calls[3] == 1);
}

TEST_CASE("the descriptor added first is called first, also after others come and go") {
  PollSet set;
  Pipe a, b, c, first;
  std::vector<char> called;
  set.Add(a.read_end.Get(), [&](short) { called.push_back('a'); });
  set.Add(b.read_end.Get(), [&](short) { called.push_back('b'); });
  set.AddFirst(first.read_end.Get(), [&](short) { called.push_back('F'); });
  a.Poke();
  b.Poke();
  first.Poke();
  CHECK(set.Wait(0) == 3);
  REQUIRE(called.size() == 3);
  CHECK(called[0] == 'F');
  called.clear();
  set.Remove(a.read_end.Get());
  set.Add(c.read_end.Get(), [&](short) { called.push_back('c'); });
  c.Poke();
  CHECK(set.Wait(0) == 3);
  REQUIRE(called.size() == 3);
  CHECK(called[0] == 'F');
  set.Remove(first.read_end.Get());
  called.clear();
  CHECK(set.Wait(0) == 2);
  CHECK(called.size() == 2);
}

TEST_CASE("every descriptor added first is called before the others, also after others come and go") {
  PollSet set;
  Pipe a, b, first, second;
  std::vector<char> called;
  set.Add(a.read_end.Get(), [&](short) { called.push_back('a'); });
  set.AddFirst(first.read_end.Get(), [&](short) { called.push_back('F'); });
  set.Add(b.read_end.Get(), [&](short) { called.push_back('b'); });
  set.AddFirst(second.read_end.Get(), [&](short) { called.push_back('S'); });
  a.Poke();
  b.Poke();
  first.Poke();
  second.Poke();
  CHECK(set.Wait(0) == 4);
  REQUIRE(called.size() == 4);
  CHECK(std::string(called.begin(), called.begin() + 2) == "FS");
  // Removing one moves another into its slot; the firsts stay first.
  set.Remove(a.read_end.Get());
  called.clear();
  CHECK(set.Wait(0) == 3);
  REQUIRE(called.size() == 3);
  CHECK(called[2] == 'b');
}

}  // namespace
}  // namespace yinetd::supervisor
