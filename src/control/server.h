// Server: the control socket, served by the supervisor's loop.
//
// Nothing here blocks: the listening socket and every client are
// non-blocking; a client has one deadline for its whole exchange (reading
// the request, writing the answer), at most kMaxClients are served at once
// (the rest wait in the backlog, as the listener is not polled meanwhile),
// and a request is at most kMaxRequest bytes. The answer is built whole,
// then written as the client takes it.
//
// The loop asks Watches() what to poll, calls OnReady() for each ready fd
// and Expire() when NextDeadline() has passed. A reload is not run here:
// the loop sees ReloadWanted(), reloads between passes, and hands the
// answer to AnswerReloads().
#pragma once

#include <poll.h>
#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "control/protocol.h"
#include "net/listener.h"
#include "sys/unique_fd.h"

namespace yinetd::control {

using Clock = std::chrono::steady_clock;

// Answers the requests the server parsed and admitted.
class Handler {
 public:
  virtual ~Handler() = default;
  // The whole answer (FormatAnswer) to `request`; never called for reload.
  virtual std::string Answer(const Request& request) = 0;
};

class Server {
 public:
  static constexpr size_t kMaxClients = 8;
  static constexpr std::chrono::seconds kDeadline{10};

  // Binds `path` (mode 0600 from the start), creating its directory (0755)
  // if missing. A stale socket file there is replaced; a live one, a
  // symlink or any other file is an error. Throws SysError.
  explicit Server(std::string path);
  // Takes an already listening, non-blocking socket (tests); `owner_uid`
  // is the uid besides root allowed to change state.
  Server(UniqueFd listening, uid_t owner_uid);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  const std::string& Path() const { return path_; }

  // The fds to poll now, with their events.
  std::vector<pollfd> Watches() const;
  // `fd` (one of Watches()) is ready with `revents`.
  void OnReady(int fd, short revents, Handler& handler, Clock::time_point now);
  std::optional<Clock::time_point> NextDeadline() const;
  // Drops every client whose deadline is past.
  void Expire(Clock::time_point now);

  // A permitted client waits for a reload's outcome.
  bool ReloadWanted() const;
  // Every client waiting for a reload gets `answer`.
  void AnswerReloads(const std::string& answer);

  size_t Clients() const { return clients_.size(); }

 private:
  struct Client {
    UniqueFd fd;
    uid_t uid = static_cast<uid_t>(-1);
    pid_t pid = 0;
    Clock::time_point deadline;
    std::string received;
    std::string answer;  // being written
    size_t written = 0;
    bool awaiting_reload = false;
  };

  void AcceptClients(Clock::time_point now);
  void ReadRequest(Client& client, Handler& handler);
  void Serve(Client& client, const Request& request, Handler& handler);
  void SetAnswer(Client& client, std::string answer);
  // False when the client is done (answered, gone or failed).
  bool WriteAnswer(Client& client);
  bool Privileged(const Client& client) const;

  std::string path_;             // "" when the socket file is not ours to remove
  std::optional<net::SocketFile> file_;  // the socket file bind made, removed at the end
  UniqueFd listening_;
  uid_t owner_uid_;
  std::map<int, Client> clients_;  // by fd
};

}  // namespace yinetd::control
