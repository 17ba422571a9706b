#include "control/server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "log/events.h"
#include "net/listener.h"
#include "sys/sys_error.h"

namespace yinetd::control {
namespace {

constexpr int kBacklog = 16;

UniqueFd OpenSocket(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  // /run/yinetd does not survive a reboot; make it as systemd's
  // RuntimeDirectory= would. An existing directory is left as it is.
  if (!dir.empty() && mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    throw SysError("mkdir " + dir, errno);
  }
  auto address = net::ParseAddress("unix:" + path);
  if (auto* error = std::get_if<std::string>(&address)) throw SysError("control socket " + path + ": " + *error, EINVAL);
  net::ListenOptions options;
  options.backlog = kBacklog;
  options.unix_mode = 0600;  // root (or yinetd's user) only; see Privileged()
  return net::OpenListener(std::get<net::Address>(address), options);
}

}  // namespace

Server::Server(std::string path) : path_(std::move(path)), owner_uid_(geteuid()) {
  listening_ = OpenSocket(path_);
  file_ = net::SocketFileAt(path_);
}

Server::Server(UniqueFd listening, uid_t owner_uid) : listening_(std::move(listening)), owner_uid_(owner_uid) {}

Server::~Server() {
  // Only the file we bound: once it was removed, another yinetd may have
  // bound its own socket at the path, and that one stays.
  net::RemoveSocketFile(path_, file_);
}

std::vector<pollfd> Server::Watches() const {
  std::vector<pollfd> watches;
  if (clients_.size() < kMaxClients) watches.push_back(pollfd{listening_.Get(), POLLIN, 0});
  for (const auto& [fd, client] : clients_) {
    if (client.awaiting_reload) continue;
    watches.push_back(pollfd{fd, static_cast<short>(client.answer.empty() ? POLLIN : POLLOUT), 0});
  }
  return watches;
}

void Server::OnReady(int fd, short revents, Handler& handler, Clock::time_point now) {
  if (fd == listening_.Get()) {
    AcceptClients(now);
    return;
  }
  auto it = clients_.find(fd);
  if (it == clients_.end()) return;
  Client& client = it->second;
  bool keep = true;
  if (!client.answer.empty()) {
    keep = WriteAnswer(client);
  } else if (revents & (POLLIN | POLLHUP | POLLERR)) {
    ReadRequest(client, handler);
    keep = client.fd.Valid() && (client.answer.empty() || WriteAnswer(client));
  }
  if (!keep) clients_.erase(it);
}

void Server::AcceptClients(Clock::time_point now) {
  while (clients_.size() < kMaxClients) {
    UniqueFd fd(RetryOnEintr([&] {
      return accept4(listening_.Get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    }));
    if (!fd) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED) {
        log::SyscallFailed("", "accept4", "control", errno);
      }
      return;
    }
    Client client;
    if (auto peer = net::PeerCredentialsOf(fd.Get())) {
      client.uid = peer->uid;
      client.pid = peer->pid;
    }
    client.deadline = now + kDeadline;
    int key = fd.Get();
    client.fd = std::move(fd);
    clients_.emplace(key, std::move(client));
  }
}

void Server::ReadRequest(Client& client, Handler& handler) {
  char buffer[kMaxRequest];
  size_t room = kMaxRequest - client.received.size();
  ssize_t n = RetryOnEintr([&] { return recv(client.fd.Get(), buffer, room, MSG_DONTWAIT); });
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
  if (n <= 0) {
    // EOF (or a reset) before a whole request: nothing to answer.
    log::Control("", client.uid, client.pid, "incomplete");
    client.fd.Reset();
    return;
  }
  client.received.append(buffer, static_cast<size_t>(n));
  ParseResult parsed = ParseRequest(client.received);
  if (std::holds_alternative<Incomplete>(parsed)) return;
  if (auto* bad = std::get_if<BadRequest>(&parsed)) {
    log::Control("", client.uid, client.pid, "bad_request");
    SetAnswer(client, FormatAnswer(kExitFailed, "bad request: " + bad->message + "\n"));
    return;
  }
  Serve(client, std::get<Request>(parsed), handler);
}

void Server::Serve(Client& client, const Request& request, Handler& handler) {
  std::string_view name = CommandName(request.command);
  if (ChangesState(request.command) && !Privileged(client)) {
    log::Control(name, client.uid, client.pid, "denied");
    SetAnswer(client, FormatAnswer(kExitFailed, std::string(name) + " needs root or uid " +
                                                    std::to_string(owner_uid_) + "\n"));
    return;
  }
  log::Control(name, client.uid, client.pid, "ok");
  if (request.command == Command::kReload) {
    client.awaiting_reload = true;  // answered by AnswerReloads, after the loop reloads
    return;
  }
  SetAnswer(client, handler.Answer(request));
}

bool Server::Privileged(const Client& client) const { return client.uid == 0 || client.uid == owner_uid_; }

void Server::SetAnswer(Client& client, std::string answer) {
  client.answer = std::move(answer);
  client.written = 0;
}

bool Server::WriteAnswer(Client& client) {
  while (client.written < client.answer.size()) {
    ssize_t n = RetryOnEintr([&] {
      return send(client.fd.Get(), client.answer.data() + client.written, client.answer.size() - client.written,
                  MSG_DONTWAIT | MSG_NOSIGNAL);
    });
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;  // poll for POLLOUT
    if (n <= 0) return false;  // the client went away
    client.written += static_cast<size_t>(n);
  }
  return false;  // all written: closing ends the answer
}

std::optional<Clock::time_point> Server::NextDeadline() const {
  std::optional<Clock::time_point> next;
  for (const auto& [fd, client] : clients_) {
    if (!next || client.deadline < *next) next = client.deadline;
  }
  return next;
}

void Server::Expire(Clock::time_point now) {
  for (auto it = clients_.begin(); it != clients_.end();) {
    if (it->second.deadline <= now && !it->second.awaiting_reload) {
      log::Control("", it->second.uid, it->second.pid, "timeout");
      it = clients_.erase(it);
    } else {
      ++it;
    }
  }
}

bool Server::ReloadWanted() const {
  for (const auto& [fd, client] : clients_) {
    if (client.awaiting_reload) return true;
  }
  return false;
}

void Server::AnswerReloads(const std::string& answer) {
  for (auto it = clients_.begin(); it != clients_.end();) {
    Client& client = it->second;
    if (client.awaiting_reload) {
      client.awaiting_reload = false;
      SetAnswer(client, answer);
      if (!WriteAnswer(client)) {
        it = clients_.erase(it);
        continue;
      }
    }
    ++it;
  }
}

}  // namespace yinetd::control
