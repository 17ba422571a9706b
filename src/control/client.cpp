#include "control/client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

#include "sys/sys_error.h"
#include "sys/unique_fd.h"

namespace yinetd::control {
namespace {

using Clock = std::chrono::steady_clock;

// Waits for `events` on `fd` until `deadline`; false on time-out or error.
bool WaitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd watch{fd, events, 0};
    int ready = poll(&watch, 1, static_cast<int>(left));
    if (ready < 0 && errno == EINTR) continue;
    return ready > 0;
  }
}

}  // namespace

std::variant<Answer, std::string> Ask(const std::string& socket_path, const Request& request,
                                      std::chrono::milliseconds timeout) {
  Clock::time_point deadline = Clock::now() + timeout;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof address.sun_path) return "socket path too long: " + socket_path;
  std::memcpy(address.sun_path, socket_path.data(), socket_path.size());
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return "socket: " + ErrnoText(errno);
  // A unix connect does not wait: it succeeds, or fails with EAGAIN when
  // the backlog is full.
  while (RetryOnEintr([&] { return connect(fd.Get(), reinterpret_cast<sockaddr*>(&address), sizeof address); }) != 0) {
    if (errno != EAGAIN || !WaitFor(fd.Get(), POLLOUT, deadline)) {
      return "connect " + socket_path + ": " + (errno == EAGAIN ? "timed out" : ErrnoText(errno)) +
             " (is yinetd running with its control socket there? see --socket)";
    }
  }
  std::string line = FormatRequest(request);
  size_t sent = 0;
  while (sent < line.size()) {
    ssize_t n = send(fd.Get(), line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN && WaitFor(fd.Get(), POLLOUT, deadline)) continue;
    if (n < 0) return "send to " + socket_path + ": " + ErrnoText(errno);
    sent += static_cast<size_t>(n);
  }
  std::string received;
  char buffer[65536];
  for (;;) {
    ssize_t n = recv(fd.Get(), buffer, sizeof buffer, 0);
    if (n > 0) {
      received.append(buffer, static_cast<size_t>(n));
      if (!CouldBeAnswer(received)) return "not a yinetd control answer from " + socket_path;
      if (received.size() > kMaxAnswer) {
        return "answer from " + socket_path + " is over " + std::to_string(kMaxAnswer >> 20) + " MiB: not yinetd's";
      }
      continue;
    }
    if (n == 0) break;
    if (errno == EINTR) continue;
    if (errno == EAGAIN && WaitFor(fd.Get(), POLLIN, deadline)) continue;
    return "no answer from " + socket_path + ": " + (errno == EAGAIN ? "timed out" : ErrnoText(errno));
  }
  auto answer = ParseAnswer(received);
  if (!answer) return "not a yinetd control answer from " + socket_path;
  return Answer{answer->first, std::move(answer->second)};
}

}  // namespace yinetd::control
