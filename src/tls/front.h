// Front: the child that stands between a TLS client and the program.
//
// The supervisor forks one per connection (spawn::Spawner, for a ChildSpec
// with `tls` set). The front does the handshake under handshake_timeout,
// reports its Outcome on the outcome pipe and closes it, then starts the
// program on one end of a socketpair (plaintext on the program's fds 0 and
// 1, everything else as without TLS) and pumps between the client and the
// program until both directions are closed: the client's close_notify or
// EOF becomes EOF on the program's stdin, the program's closing of stdout
// becomes our close_notify and a TCP half-close. Then it waits for the
// program and exits with the program's status, or dies of the program's
// signal, so the supervisor logs the program's end as for any service.
//
// Why OpenSSL is safe to use in a forked child here: the front is a fork of
// the supervisor's loop thread taken inside Spawner::Spawn, where that
// thread holds no OpenSSL lock; the one other thread yinetd may have
// (spawn::CloneWatchdog) never calls OpenSSL, so no OpenSSL lock can be
// held by a thread that the fork left behind. glibc's fork makes malloc
// usable in the child. OpenSSL 3 notices the fork (its fork id changes) and
// reseeds its random generator, so two fronts never share random state.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "spawn/credentials.h"
#include "tls/context.h"

namespace yinetd::tls {

// What the spawner hands a front, beside the connection.
struct FrontSpec {
  const ServerContext* context;
  int outcome_fd;  // write end of the outcome pipe; close-on-exec
};

// Starts the program with `plain_fd` as its fds 0 and 1 and `envp` as its
// environment, in the front's process group; returns its pid, or -1 with
// errno set. Runs in the front, after fork; the spawner clones the program
// sharing the front's memory until its exec (or forks it where it forks
// every child), and the front holds only its two sockets afterwards.
using StartProgram = std::function<pid_t(int plain_fd, char* const* envp)>;

// Exit status of a front whose handshake failed or whose client was not
// allowed; its outcome record says why.
inline constexpr int kHandshakeFailedStatus = 1;

// Runs in the forked child; never returns. `envp` is the environment the
// program would have had without TLS; `credentials` (nullptr: none) are
// taken by the front itself once the program has started.
[[noreturn]] void RunFront(const FrontSpec& spec, int connection_fd, char* const* envp,
                           const spawn::Credentials* credentials, const StartProgram& start);

}  // namespace yinetd::tls
