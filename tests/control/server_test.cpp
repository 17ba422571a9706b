#include "control/server.h"

#include <doctest/doctest.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "control/client.h"
#include "scratch_dir.h"
#include "sys/unique_fd.h"

namespace yinetd::control {
namespace {

struct EchoHandler : Handler {
  int answered = 0;
  std::string Answer(const Request& request) override {
    ++answered;
    return FormatAnswer(kExitOk, std::string(CommandName(request.command)) + (request.json ? " json" : "") + "\n");
  }
};

using testing::ScratchDir;

// One pass of a loop: poll what the server watches, for up to `ms`.
void Pass(Server& server, Handler& handler, int ms = 100, Clock::time_point now = Clock::now()) {
  std::vector<pollfd> watches = server.Watches();
  if (poll(watches.data(), watches.size(), ms) <= 0) return;
  for (const pollfd& watch : watches) {
    if (watch.revents != 0) server.OnReady(watch.fd, watch.revents, handler, now);
  }
}

UniqueFd Connect(const std::string& path) {
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  path.copy(address.sun_path, sizeof address.sun_path - 1);
  REQUIRE(connect(fd.Get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  return fd;
}

// Everything the server wrote, up to its close; the server runs meanwhile.
std::string Drain(Server& server, Handler& handler, int fd) {
  std::string received;
  for (int i = 0; i < 100; ++i) {
    Pass(server, handler, 10);
    char buffer[4096];
    ssize_t n = recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n == 0) return received;
    if (n > 0) received.append(buffer, static_cast<size_t>(n));
  }
  FAIL("the server did not close the connection");
  return received;
}

TEST_CASE("the socket is mode 0600, in a directory made when missing, removed at the end") {
  ScratchDir dir("control");
  std::string path = dir.Path() + "/run/control";
  {
    Server server(path);
    struct stat st{};
    REQUIRE(stat(path.c_str(), &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(st.st_uid == geteuid());
  }
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("a request is answered with the handler's text, then the connection closes") {
  ScratchDir dir("control");
  Server server(dir.Path() + "/control");
  EchoHandler handler;
  UniqueFd client = Connect(server.Path());
  std::string request = "status json\n";
  REQUIRE(send(client.Get(), request.data(), request.size(), 0) == static_cast<ssize_t>(request.size()));
  CHECK(Drain(server, handler, client.Get()) == "yinetd-ctl 0\nstatus json\n");
  CHECK(handler.answered == 1);
  CHECK(server.Clients() == 0);
}

TEST_CASE("a request split across writes is read whole") {
  ScratchDir dir("control");
  Server server(dir.Path() + "/control");
  EchoHandler handler;
  UniqueFd client = Connect(server.Path());
  send(client.Get(), "ch", 2, 0);
  Pass(server, handler);
  Pass(server, handler, 10);
  CHECK(handler.answered == 0);
  send(client.Get(), "eck\n", 4, 0);
  CHECK(Drain(server, handler, client.Get()) == "yinetd-ctl 0\ncheck\n");
}

TEST_CASE("a bad or oversized request gets an error answer, and the handler is not asked") {
  ScratchDir dir("control");
  Server server(dir.Path() + "/control");
  EchoHandler handler;
  UniqueFd client = Connect(server.Path());
  std::string flood(kMaxRequest * 4, 'x');
  send(client.Get(), flood.data(), flood.size(), MSG_DONTWAIT);
  std::string answer = Drain(server, handler, client.Get());
  CHECK(answer == "yinetd-ctl 1\nbad request: request too long\n");
  UniqueFd other = Connect(server.Path());
  send(other.Get(), "halt\n", 5, 0);
  CHECK(Drain(server, handler, other.Get()).find("yinetd-ctl 1\nbad request: unknown command") == 0);
  CHECK(handler.answered == 0);
}

TEST_CASE("a client that sends nothing is dropped at its deadline, and one that hangs up at once too") {
  ScratchDir dir("control");
  Server server(dir.Path() + "/control");
  EchoHandler handler;
  UniqueFd silent = Connect(server.Path());
  Clock::time_point start = Clock::now();
  Pass(server, handler, 100, start);
  REQUIRE(server.Clients() == 1);
  REQUIRE(server.NextDeadline());
  CHECK(*server.NextDeadline() == start + Server::kDeadline);
  server.Expire(start + Server::kDeadline - std::chrono::milliseconds(1));
  CHECK(server.Clients() == 1);
  server.Expire(start + Server::kDeadline);
  CHECK(server.Clients() == 0);
  char byte;
  CHECK(recv(silent.Get(), &byte, 1, 0) == 0);  // closed, nothing said

  UniqueFd quitter = Connect(server.Path());
  quitter.Reset();
  Pass(server, handler);
  Pass(server, handler, 10);
  CHECK(server.Clients() == 0);
}

TEST_CASE("at kMaxClients the listener is not watched; the next client waits in the backlog") {
  ScratchDir dir("control");
  Server server(dir.Path() + "/control");
  EchoHandler handler;
  std::vector<UniqueFd> clients;
  for (size_t i = 0; i <= Server::kMaxClients; ++i) clients.push_back(Connect(server.Path()));
  for (int i = 0; i < 5; ++i) Pass(server, handler, 10);
  CHECK(server.Clients() == Server::kMaxClients);
  CHECK(server.Watches().size() == Server::kMaxClients);  // the clients only
  send(clients.back().Get(), "dump\n", 5, 0);
  clients.front().Reset();  // one leaves: the last is accepted and answered
  CHECK(Drain(server, handler, clients.back().Get()) == "yinetd-ctl 0\ndump\n");
}

struct HugeHandler : Handler {
  std::string Answer(const Request&) override { return FormatAnswer(kExitOk, std::string(16 << 20, 'y')); }
};

TEST_CASE("a client that asks for a large answer and never reads it is dropped at its deadline") {
  ScratchDir dir("control");
  Server server(dir.Path() + "/control");
  HugeHandler handler;
  UniqueFd deaf = Connect(server.Path());
  send(deaf.Get(), "dump\n", 5, 0);
  Clock::time_point start = Clock::now();
  for (int i = 0; i < 10; ++i) Pass(server, handler, 10, start);
  REQUIRE(server.Clients() == 1);  // the socket buffer is full: waiting to write
  std::vector<pollfd> watches = server.Watches();
  CHECK(std::any_of(watches.begin(), watches.end(), [](const pollfd& w) { return w.events == POLLOUT; }));
  server.Expire(start + Server::kDeadline);
  CHECK(server.Clients() == 0);
}

TEST_CASE("reload waits for the loop's outcome; every waiting client gets it") {
  ScratchDir dir("control");
  Server server(dir.Path() + "/control");
  EchoHandler handler;
  UniqueFd a = Connect(server.Path()), b = Connect(server.Path());
  send(a.Get(), "reload\n", 7, 0);
  send(b.Get(), "reload\n", 7, 0);
  for (int i = 0; i < 5 && !server.ReloadWanted(); ++i) Pass(server, handler, 10);
  for (int i = 0; i < 3; ++i) Pass(server, handler, 10);
  REQUIRE(server.ReloadWanted());
  CHECK(handler.answered == 0);  // root is privileged; the handler is not asked for reload
  server.AnswerReloads(FormatAnswer(kExitPartial, "partial\n"));
  CHECK_FALSE(server.ReloadWanted());
  CHECK(Drain(server, handler, a.Get()) == "yinetd-ctl 2\npartial\n");
  CHECK(Drain(server, handler, b.Get()) == "yinetd-ctl 2\npartial\n");
}

TEST_CASE("the client: an answer, and a plain error when nothing listens") {
  ScratchDir dir("control");
  auto missing = Ask(dir.Path() + "/none", Request{Command::kStatus, false}, std::chrono::seconds(2));
  REQUIRE(std::holds_alternative<std::string>(missing));
  CHECK(std::get<std::string>(missing).find("connect " + dir.Path() + "/none: No such file or directory") == 0);
}

}  // namespace
}  // namespace yinetd::control
