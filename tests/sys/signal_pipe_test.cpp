#include "sys/signal_pipe.h"

#include <doctest/doctest.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>

namespace yinetd {
namespace {

TEST_CASE("signals arrive through the pipe, in order, and the pipe drains") {
  SignalPipe pipe({SIGUSR1, SIGUSR2});
  raise(SIGUSR1);
  raise(SIGUSR2);
  raise(SIGUSR1);
  pollfd p{pipe.ReadFd(), POLLIN, 0};
  REQUIRE(poll(&p, 1, 1000) == 1);
  CHECK(pipe.Drain() == std::vector<int>{SIGUSR1, SIGUSR2, SIGUSR1});
  CHECK(pipe.Drain().empty());
}

TEST_CASE("the handler preserves errno") {
  SignalPipe pipe({SIGUSR1});
  errno = ERANGE;
  raise(SIGUSR1);
  CHECK(errno == ERANGE);
  pipe.Drain();
}

TEST_CASE("SIGPIPE is ignored while the pipe exists, default after") {
  {
    SignalPipe pipe({SIGUSR1});
    struct sigaction current;
    sigaction(SIGPIPE, nullptr, &current);
    CHECK((current.sa_handler == SIG_IGN));
  }
  struct sigaction after;
  sigaction(SIGPIPE, nullptr, &after);
  CHECK((after.sa_handler == SIG_DFL));
}

}  // namespace
}  // namespace yinetd
