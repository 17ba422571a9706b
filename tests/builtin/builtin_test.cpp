#include "builtin/builtin.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>

#include "sys/unique_fd.h"

namespace yinetd::builtin {
namespace {

std::string Daytime(int64_t t) {
  char out[32];
  return std::string(out, FormatDaytime(t, out));
}

// ctime's layout in UTC, from libc, to compare against.
std::string LibcDaytime(int64_t t) {
  time_t value = static_cast<time_t>(t);
  tm parts;
  gmtime_r(&value, &parts);
  char out[64];
  strftime(out, sizeof out, "%a %b %e %H:%M:%S %Y\r\n", &parts);
  return out;
}

TEST_CASE("the table names five RFC services and the metrics") {
  CHECK(Names() == std::vector<std::string_view>{"echo", "discard", "chargen", "daytime", "time", "metrics"});
  REQUIRE(Find("time") != nullptr);
  CHECK(Find("time")->standard == "RFC 868");
  CHECK_FALSE(Find("time")->serves_metrics);
  REQUIRE(Find("metrics") != nullptr);
  CHECK(Find("metrics")->serves_metrics);
  CHECK((Find("metrics")->serve_datagram == nullptr));  // HTTP: a stream only
  CHECK(Find("ping") == nullptr);
}

TEST_CASE("daytime is ctime's layout in UTC") {
  CHECK(Daytime(0) == "Thu Jan  1 00:00:00 1970\r\n");
  CHECK(Daytime(951782400) == "Tue Feb 29 00:00:00 2000\r\n");
  // Every 1000003 seconds over ~60 years, leap days and month ends included.
  for (int64_t t = 0; t < 2'000'000'000; t += 1'000'003) CHECK(Daytime(t) == LibcDaytime(t));
  CHECK(Daytime(4102444799) == LibcDaytime(4102444799));  // 2099-12-31 23:59:59
}

TEST_CASE("time counts seconds from 1900") {
  CHECK(Rfc868Time(0) == 2208988800u);
  CHECK(Rfc868Time(-2208988800) == 0u);
  CHECK(Rfc868Time(2085978496) == 0u);  // the 32-bit count wraps in 2036
}

TEST_CASE("chargen lines rotate through the 95 printable characters") {
  char line[74];
  ChargenLine(0, line);
  CHECK(std::string(line, 74) ==
        std::string("!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefgh").insert(0, " ")
                .substr(0, 72) + "\r\n");
  ChargenLine(1, line);
  CHECK(line[0] == '!');
  ChargenLine(95, line);
  CHECK(line[0] == ' ');
  ChargenLine(94, line);
  CHECK(line[0] == '~');
  CHECK(line[1] == ' ');
}

// Runs `serve` on one end of a stream socketpair in a thread; returns the
// other end.
struct StreamRun {
  UniqueFd client;
  std::thread server;
  UniqueFd server_end;
};

std::string ReadAll(int fd, size_t limit = SIZE_MAX) {
  std::string out;
  char buf[4096];
  while (out.size() < limit) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 5000) <= 0) break;
    ssize_t n = read(fd, buf, std::min(sizeof buf, limit - out.size()));
    if (n <= 0) break;
    out.append(buf, n);
  }
  return out;
}

std::string ServeStream(const char* name, const std::string& input, size_t limit = SIZE_MAX,
                        std::string_view prepared = {}) {
  int pair[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
  UniqueFd client(pair[0]), server(pair[1]);
  const Builtin* builtin = Find(name);
  REQUIRE(builtin != nullptr);
  std::thread thread([&] { builtin->serve_stream(server.Get(), prepared); shutdown(server.Get(), SHUT_WR); });
  write(client.Get(), input.data(), input.size());
  shutdown(client.Get(), SHUT_WR);
  std::string out = ReadAll(client.Get(), limit);
  client.Reset();  // ends chargen
  thread.join();
  return out;
}

TEST_CASE("stream builtins answer per their RFCs") {
  CHECK(ServeStream("echo", "hello\nworld\n") == "hello\nworld\n");
  CHECK(ServeStream("discard", "ignored\n") == "");
  std::string chargen = ServeStream("chargen", "", 74 * 3);
  REQUIRE(chargen.size() == 74 * 3);
  char line[74];
  ChargenLine(2, line);
  CHECK(chargen.substr(148) == std::string(line, 74));
  int64_t before = time(nullptr);
  std::string daytime = ServeStream("daytime", "");
  CHECK((daytime == Daytime(before) || daytime == Daytime(before + 1)));
  std::string four = ServeStream("time", "");
  REQUIRE(four.size() == 4);
  uint32_t value;
  std::memcpy(&value, four.data(), 4);
  CHECK(ntohl(value) - Rfc868Time(before) <= 1);
}

TEST_CASE("metrics answers GET and HEAD of / and /metrics, and nothing else") {
  CHECK(AnswerHttp("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").status == 200);
  CHECK(AnswerHttp("GET /metrics HTTP/1.1\r\n\r\n").with_body);
  CHECK(AnswerHttp("GET /?name[]=x HTTP/1.0\n\n").status == 200);
  HttpAnswer head = AnswerHttp("HEAD /metrics HTTP/1.1\r\n\r\n");
  CHECK(head.status == 200);
  CHECK_FALSE(head.with_body);
  CHECK(AnswerHttp("GET /other HTTP/1.1\r\n\r\n").status == 404);
  CHECK(AnswerHttp("POST /metrics HTTP/1.1\r\n\r\n").status == 405);
  CHECK(AnswerHttp("GET /metrics\r\n\r\n").status == 400);  // HTTP/0.9: no version
  CHECK(AnswerHttp("GET /metrics FTP/1.0\r\n\r\n").status == 400);
  CHECK(AnswerHttp("\r\n\r\n").status == 400);
  CHECK(AnswerHttp("").status == 400);
}

TEST_CASE("the response head names status, type and length") {
  char head[kHttpHeadMax];
  CHECK(std::string(head, FormatHttpHead(200, 1234, head)) ==
        "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
        "Content-Length: 1234\r\nConnection: close\r\n\r\n");
  CHECK(std::string(head, FormatHttpHead(405, 0, head)) ==
        "HTTP/1.0 405 Method Not Allowed\r\nContent-Type: text/plain; charset=utf-8\r\nAllow: GET, HEAD\r\n"
        "Content-Length: 0\r\nConnection: close\r\n\r\n");
}

TEST_CASE("the metrics builtin serves the text it was handed") {
  std::string text = "yinetd_children_running{service=\"a\"} 0\n";
  std::string reply = ServeStream("metrics", "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", SIZE_MAX, text);
  CHECK(reply.substr(0, 17) == "HTTP/1.0 200 OK\r\n");
  CHECK(reply.find("Content-Length: " + std::to_string(text.size()) + "\r\n") != std::string::npos);
  CHECK(reply.substr(reply.find("\r\n\r\n") + 4) == text);
  std::string head = ServeStream("metrics", "HEAD / HTTP/1.0\r\n\r\n", SIZE_MAX, text);
  CHECK(head.substr(head.find("\r\n\r\n") + 4) == "");
  std::string missing = ServeStream("metrics", "GET /nope HTTP/1.0\r\n\r\n", SIZE_MAX, text);
  CHECK(missing.substr(0, 24) == "HTTP/1.0 404 Not Found\r\n");
  CHECK(missing.substr(missing.find("\r\n\r\n") + 4) == "Not Found\n");
  CHECK(ServeStream("metrics", "GET / HTTP/1.0\r\n", SIZE_MAX, text) == "");  // left before the head ended
  std::string flood = "GET / HTTP/1.0\r\nX: " + std::string(10000, 'x');
  CHECK(ServeStream("metrics", flood, SIZE_MAX, text).substr(0, 26) == "HTTP/1.0 400 Bad Request\r\n");
}

TEST_CASE("a metrics client that trickles, stays silent or does not read is dropped at the deadline") {
  auto elapsed_ms = [](auto start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  };
  int pair[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
  UniqueFd client(pair[0]), server(pair[1]);
  // Silent: the request head never ends.
  write(client.Get(), "GET / HTTP/1.0\r\n", 16);
  auto start = std::chrono::steady_clock::now();
  ServeMetrics(server.Get(), "x\n", 300);
  CHECK(elapsed_ms(start) < 5000);
  // Trickling: a byte every 50 ms would take minutes for a whole head.
  std::atomic<bool> stop{false};
  std::thread trickle([&] {
    for (int i = 0; i < 200 && !stop; ++i) {
      write(client.Get(), "X", 1);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  start = std::chrono::steady_clock::now();
  ServeMetrics(server.Get(), "x\n", 300);
  CHECK(elapsed_ms(start) < 5000);
  stop = true;
  trickle.join();
  // Not reading: a reply far larger than the socket buffers.
  int other[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, other) == 0);
  UniqueFd deaf(other[0]), serving(other[1]);
  write(deaf.Get(), "GET / HTTP/1.0\r\n\r\n", 18);
  std::string huge(16 << 20, 'x');
  start = std::chrono::steady_clock::now();
  ServeMetrics(serving.Get(), huge, 300);
  CHECK(elapsed_ms(start) < 5000);
}

TEST_CASE("datagram builtins answer each waiting datagram") {
  auto udp = [] {
    UniqueFd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd.Get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    return fd;
  };
  auto address_of = [](int fd) {
    sockaddr_in addr{};
    socklen_t length = sizeof addr;
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length);
    return addr;
  };
  auto exchange = [&](const char* name, const std::string& datagram) {
    UniqueFd server = udp(), client = udp();
    sockaddr_in to = address_of(server.Get());
    sendto(client.Get(), datagram.data(), datagram.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    pollfd p{server.Get(), POLLIN, 0};
    REQUIRE(poll(&p, 1, 5000) == 1);
    Find(name)->serve_datagram(server.Get());
    char buf[2048];
    ssize_t n = recv(client.Get(), buf, sizeof buf, MSG_DONTWAIT);
    return n < 0 ? std::string("<none>") : std::string(buf, n);
  };
  CHECK(exchange("echo", "ping") == "ping");
  CHECK(exchange("discard", "ping") == "<none>");
  std::string chargen = exchange("chargen", "");
  CHECK(chargen.size() == 444);
  CHECK(chargen.substr(0, 3) == " !\"");
  CHECK(exchange("daytime", "").size() == 26);
  CHECK(exchange("time", "").size() == 4);
}

sockaddr_in V4(const char* ip, uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  REQUIRE(inet_pton(AF_INET, ip, &addr.sin_addr) == 1);
  return addr;
}

sockaddr_in6 V6(const char* ip, uint16_t port) {
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_port = htons(port);
  REQUIRE(inet_pton(AF_INET6, ip, &addr.sin6_addr) == 1);
  return addr;
}

template <typename Addr>
bool Storm(const Addr& addr) {
  return IsStormSource(reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
}

TEST_CASE("datagrams from small-service and reserved ports, NFS, broadcast or multicast go unanswered") {
  for (uint16_t port : {7, 9, 13, 19, 37, 0, 1, 123, 1023, 2049}) {
    CAPTURE(port);
    CHECK(Storm(V4("127.0.0.1", port)));
    CHECK(Storm(V4("192.0.2.1", port)));
    CHECK(Storm(V6("::1", port)));
  }
  CHECK(Storm(V4("255.255.255.255", 40000)));
  CHECK(Storm(V4("224.0.0.1", 40000)));
  CHECK(Storm(V4("0.0.0.0", 40000)));
  CHECK(Storm(V6("ff02::1", 40000)));
  CHECK(Storm(V6("::", 40000)));
  CHECK(Storm(V6("::ffff:224.0.0.1", 40000)));
  CHECK(Storm(V6("::ffff:127.0.0.1", 19)));
  sockaddr_un local{};
  local.sun_family = AF_UNIX;
  CHECK(Storm(local));
}

TEST_CASE("datagrams from ordinary client ports are answered") {
  for (uint16_t port : {1024, 2048, 2050, 40000, 65535}) {
    CAPTURE(port);
    CHECK_FALSE(Storm(V4("127.0.0.1", port)));
    CHECK_FALSE(Storm(V4("192.0.2.1", port)));
    CHECK_FALSE(Storm(V6("::1", port)));
    CHECK_FALSE(Storm(V6("::ffff:127.0.0.1", port)));
  }
}

TEST_CASE("echo and chargen over UDP do not answer each other: no ping-pong") {
  // Two builtins whose sockets sit on reserved ports, as on a real host.
  // Before the rule, one datagram from echo's port to chargen started a loop.
  auto bind_low = [](uint16_t& port) {
    UniqueFd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr = V4("127.0.0.1", 0);
    for (port = 1023; port > 600; --port) {
      addr.sin_port = htons(port);
      if (bind(fd.Get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
    }
    return UniqueFd();
  };
  uint16_t echo_port = 0, chargen_port = 0;
  UniqueFd echo = bind_low(echo_port);
  UniqueFd chargen = bind_low(chargen_port);
  if (!echo || !chargen) {
    MESSAGE("skipped: cannot bind a port below 1024 here (not root, or all taken)");
    return;
  }
  sockaddr_in to = V4("127.0.0.1", chargen_port);
  REQUIRE(sendto(echo.Get(), "x", 1, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) == 1);
  pollfd p{chargen.Get(), POLLIN, 0};
  REQUIRE(poll(&p, 1, 5000) == 1);
  Find("chargen")->serve_datagram(chargen.Get());
  char buf[1024];
  CHECK(recv(echo.Get(), buf, sizeof buf, MSG_DONTWAIT) < 0);  // nothing came back
  CHECK(recv(chargen.Get(), buf, sizeof buf, MSG_DONTWAIT) < 0);  // and the datagram was consumed
}

}  // namespace
}  // namespace yinetd::builtin
