// End to end: the PROXY protocol behind a load balancer (issue 13). Headers
// are written by hand here, and by Debian's haproxy in the scale-out recipe.
#include <doctest/doctest.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include "integration/harness.h"

namespace yinetd::testing {
namespace {

// A program that prints what it was told about its connection, then echoes
// its stdin (so the bytes after the header can be checked).
const std::string kShowEnv =
    "/bin/sh\n    args: [\"-c\", 'echo \"$TCPREMOTEIP $TCPREMOTEPORT $TCPPROXYIP $TCPLOCALIP $TCPLOCALPORT "
    "${PROXY_AUTHORITY:--} ${PROXY_SSL_CN:--}\"; exec cat']";
// A program that greets, then echoes until the client closes.
const std::string kHold = "/bin/sh\n    args: [\"-c\", 'echo hi; exec cat']";

std::string Be16(size_t value) {
  return std::string{static_cast<char>((value >> 8) & 0xff), static_cast<char>(value & 0xff)};
}

std::string Tlv(uint8_t type, const std::string& value) {
  return std::string(1, static_cast<char>(type)) + Be16(value.size()) + value;
}

// A v2 PROXY header for TCP over IPv4 from `client`:`client_port` to
// 198.51.100.1:2222, with `tlvs`; LOCAL when `local`.
std::string V2Header(const std::string& client, uint16_t client_port, const std::string& tlvs = "",
                     bool local = false) {
  std::string sig("\r\n\r\n\0\r\nQUIT\n", 12);
  unsigned a, b, c, d;
  REQUIRE(sscanf(client.c_str(), "%u.%u.%u.%u", &a, &b, &c, &d) == 4);
  std::string block{static_cast<char>(a), static_cast<char>(b), static_cast<char>(c), static_cast<char>(d),
                    '\xc6', '\x33', '\x64', '\x01'};
  block += Be16(client_port) + Be16(2222) + tlvs;
  return sig + std::string{local ? '\x20' : '\x21', '\x11'} + Be16(block.size()) + block;
}

std::string ProxyService(uint16_t port, const std::string& program, const std::string& keys,
                         const std::string& version = "v2") {
  return "services:\n  - name: gate\n    listen: 127.0.0.1:" + std::to_string(port) + "\n    program: " + program +
         "\n    proxy_protocol: " + version + "\n" + keys;
}

// Reads one line (without waiting past `timeout`).
std::string ReadLine(int fd, Duration timeout = 5s) {
  std::string line;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (line.empty() || line.back() != '\n') {
    pollfd p{fd, POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) != 1) break;
    char c;
    if (read(fd, &c, 1) != 1) break;
    line.push_back(c);
  }
  return line;
}

bool Greeted(int fd) { return ReadLine(fd) == "hi\n"; }

// Live children of `pid`.
int CountChildren(pid_t pid) {
  int count = 0;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return -1;
  while (dirent* entry = readdir(proc)) {
    std::ifstream stat(std::string("/proc/") + entry->d_name + "/stat");
    std::string text;
    if (!std::getline(stat, text)) continue;
    size_t paren = text.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream rest(text.substr(paren + 2));
    char state;
    pid_t ppid;
    rest >> state >> ppid;
    if (ppid == pid && state != 'Z') ++count;
  }
  closedir(proc);
  return count;
}

size_t Count(Yinetd& yinetd, const std::string& event, const std::string& field, const std::string& value) {
  size_t n = 0;
  for (auto& fields : yinetd.Events(event)) n += fields[field] == value ? 1 : 0;
  return n;
}

TEST_CASE("v2: the program sees the header's client, the balancer in TCPPROXYIP, and the bytes after the header") {
  uint16_t port = FreePort();
  Yinetd yinetd(ProxyService(port, kShowEnv, "    proxy_from: [127.0.0.0/8]\n"));
  UniqueFd conn = ConnectTcp("127.0.0.1", port);
  std::string ssl = std::string(5, '\0') + Tlv(0x22, "Jane Doe");
  SendAll(conn.Get(), V2Header("192.0.2.7", 40000, Tlv(0x02, "www.example") + Tlv(0x20, ssl)) +
                          "PROXY TCP4 10.9.9.9 10.9.9.9 1 2\r\n");
  CHECK(ReadLine(conn.Get()) == "192.0.2.7 40000 127.0.0.1 198.51.100.1 2222 www.example Jane%20Doe\n");
  // A second header is the program's data, byte for byte.
  CHECK(ReadLine(conn.Get()) == "PROXY TCP4 10.9.9.9 10.9.9.9 1 2\r\n");
  CHECK(yinetd.WaitForLog({"event=accept", "service=gate", "peer=192.0.2.7:40000", "via=127.0.0.1:"}));
  // ctl connections names the client as the peer and the balancer as via.
  std::string pid = yinetd.Events("accept").at(0)["pid"];
  CHECK(yinetd.Ctl("connections").second.find("gate " + pid + " 192.0.2.7:40000 127.0.0.1:") != std::string::npos);
  std::string json_entry = "\"pid\":" + pid + ",\"peer\":\"192.0.2.7:40000\",\"via\":\"127.0.0.1:";
  CHECK(yinetd.Ctl("connections --json").second.find(json_entry) != std::string::npos);
  conn.Reset();
  CHECK(yinetd.WaitForLog({"event=exit", "peer=192.0.2.7:40000", "via=127.0.0.1:"}));
}

TEST_CASE("v1: TCP4 and TCP6 lines name the client") {
  uint16_t port = FreePort();
  Yinetd yinetd(ProxyService(port, kShowEnv, "    proxy_from: 127.0.0.1\n", "v1"));
  UniqueFd conn = ConnectTcp("127.0.0.1", port);
  SendAll(conn.Get(), "PROXY TCP4 192.0.2.9 198.51.100.1 5555 2222\r\nhello\n");
  CHECK(ReadLine(conn.Get()) == "192.0.2.9 5555 127.0.0.1 198.51.100.1 2222 - -\n");
  CHECK(ReadLine(conn.Get()) == "hello\n");
  UniqueFd six = ConnectTcp("127.0.0.1", port);
  SendAll(six.Get(), "PROXY TCP6 2001:db8::7 2001:db8::1 6000 443\r\n");
  CHECK(ReadLine(six.Get()) == "2001:db8::7 6000 127.0.0.1 2001:db8::1 443 - -\n");
  // A v2 header on a v1 service is invalid.
  UniqueFd v2 = ConnectTcp("127.0.0.1", port);
  SendAll(v2.Get(), V2Header("192.0.2.7", 1));
  CHECK(ReadUntilEof(v2.Get()) == "");
  CHECK(yinetd.WaitForLog({"event=refuse", "reason=proxy_invalid", "detail="}));
}

TEST_CASE("a peer outside proxy_from is refused before anything is read") {
  uint16_t port = FreePort();
  Yinetd yinetd(ProxyService(port, kHold, "    proxy_from: [127.0.0.2]\n"));
  UniqueFd conn = ConnectTcpFrom("127.0.0.1", "127.0.0.1", port);
  SendAll(conn.Get(), V2Header("192.0.2.7", 40000));
  CHECK(ReadUntilEof(conn.Get()) == "");
  CHECK(yinetd.WaitForLog({"event=refuse", "service=gate", "peer=127.0.0.1:", "reason=proxy_untrusted"}));
  UniqueFd trusted = ConnectTcpFrom("127.0.0.2", "127.0.0.1", port);
  SendAll(trusted.Get(), V2Header("192.0.2.7", 40000));
  CHECK(Greeted(trusted.Get()));
  CHECK(yinetd.WaitForLog({"event=accept", "service=gate", "peer=192.0.2.7:40000", "via=127.0.0.2:"}));
  CHECK(Count(yinetd, "accept", "service", "gate") == 1);
}

TEST_CASE("a missing or malformed header is refused as proxy_invalid, and counted") {
  uint16_t port = FreePort();
  uint16_t metrics = FreePort();
  Yinetd yinetd(ProxyService(port, kHold, "    proxy_from: 127.0.0.1\n") +
                "  - name: metrics\n    listen: 127.0.0.1:" + std::to_string(metrics) + "\n    builtin: metrics\n");
  for (const std::string& bad : {std::string("GET / HTTP/1.0\r\n\r\n"), std::string("PROXY TCP4 1.2.3.4\r\n"),
                                 V2Header("192.0.2.7", 1).substr(0, 20)}) {
    UniqueFd conn = ConnectTcp("127.0.0.1", port);
    SendAll(conn.Get(), bad);
    shutdown(conn.Get(), SHUT_WR);  // the truncated one ends here
    CHECK(ReadUntilEof(conn.Get()) == "");
  }
  CHECK(yinetd.WaitForLog({"event=refuse", "reason=proxy_invalid"}, 3));
  CHECK(Count(yinetd, "accept", "service", "gate") == 0);
  std::string exposition = Exchange(metrics, "GET /metrics HTTP/1.0\r\n\r\n");
  CHECK(exposition.find("yinetd_connections_refused_total{service=\"gate\",reason=\"proxy_invalid\"} 3") !=
        std::string::npos);
}

TEST_CASE("a silent peer is dropped at proxy_timeout while other clients are served") {
  uint16_t port = FreePort();
  Yinetd yinetd(ProxyService(port, kHold, "    proxy_from: 127.0.0.1\n    proxy_timeout: 0.5\n"));
  UniqueFd silent = ConnectTcp("127.0.0.1", port);
  UniqueFd partial = ConnectTcp("127.0.0.1", port);
  SendAll(partial.Get(), V2Header("192.0.2.8", 1).substr(0, 10));
  UniqueFd served = ConnectTcp("127.0.0.1", port);
  SendAll(served.Get(), V2Header("192.0.2.7", 40000));
  CHECK(Greeted(served.Get()));
  CHECK(ReadUntilEof(silent.Get()) == "");
  CHECK(ReadUntilEof(partial.Get()) == "");
  CHECK(yinetd.WaitForLog({"event=refuse", "reason=proxy_timeout"}, 2));
  SendAll(served.Get(), "still here\n");
  CHECK(ReadLine(served.Get()) == "still here\n");
}

TEST_CASE("limits and access lists apply to the header's client, not the balancer") {
  uint16_t port = FreePort();
  Yinetd yinetd(ProxyService(port, kHold,
                             "    proxy_from: 127.0.0.1\n    max_per_source: 1\n    deny: [192.0.2.99]\n"));
  UniqueFd first = ConnectTcp("127.0.0.1", port);
  SendAll(first.Get(), V2Header("192.0.2.7", 1000));
  REQUIRE(Greeted(first.Get()));
  UniqueFd same = ConnectTcp("127.0.0.1", port);
  SendAll(same.Get(), V2Header("192.0.2.7", 1001));
  CHECK(ReadUntilEof(same.Get()) == "");
  CHECK(yinetd.WaitForLog({"event=refuse", "peer=192.0.2.7:1001", "via=127.0.0.1:", "reason=max_per_source"}));
  UniqueFd other = ConnectTcp("127.0.0.1", port);  // the same balancer, another client
  SendAll(other.Get(), V2Header("192.0.2.8", 1002));
  CHECK(Greeted(other.Get()));
  UniqueFd denied = ConnectTcp("127.0.0.1", port);
  SendAll(denied.Get(), V2Header("192.0.2.99", 1003));
  CHECK(ReadUntilEof(denied.Get()) == "");
  CHECK(yinetd.WaitForLog({"event=refuse", "peer=192.0.2.99:1003", "reason=denied"}));
}

TEST_CASE("a v2 LOCAL health check is served as the balancer, or closed with proxy_local: close") {
  uint16_t port = FreePort();
  uint16_t closing = FreePort();
  Yinetd yinetd(ProxyService(port, kShowEnv, "    proxy_from: 127.0.0.1\n") +
                "  - name: quiet\n    listen: 127.0.0.1:" + std::to_string(closing) + "\n    program: " + kHold +
                "\n    proxy_protocol: any\n    proxy_from: 127.0.0.1\n    proxy_local: close\n");
  UniqueFd check = ConnectTcp("127.0.0.1", port);
  SendAll(check.Get(), V2Header("192.0.2.7", 1, "", true));
  std::string line = ReadLine(check.Get());
  CHECK(line.rfind("127.0.0.1 ", 0) == 0);                    // the balancer is the peer
  CHECK(line.find(" 127.0.0.1 " + std::to_string(port)) != std::string::npos);  // the real local end
  CHECK(line.find("  ") != std::string::npos);                // and TCPPROXYIP is unset
  UniqueFd closed = ConnectTcp("127.0.0.1", closing);
  SendAll(closed.Get(), V2Header("192.0.2.7", 1, "", true));
  CHECK(ReadUntilEof(closed.Get()) == "");
  UniqueFd unknown = ConnectTcp("127.0.0.1", closing);
  SendAll(unknown.Get(), "PROXY UNKNOWN\r\n");
  CHECK(ReadUntilEof(unknown.Get()) == "");
  CHECK(Count(yinetd, "accept", "service", "quiet") == 0);
}

TEST_CASE("a reload while a header is awaited: the connection is served under the new settings") {
  uint16_t port = FreePort();
  Yinetd yinetd(ProxyService(port, kShowEnv, "    proxy_from: 127.0.0.1\n    proxy_timeout: 10\n"));
  UniqueFd conn = ConnectTcp("127.0.0.1", port);
  std::string header = V2Header("192.0.2.7", 40000);
  SendAll(conn.Get(), header.substr(0, 7));
  yinetd.Rewrite(ProxyService(port, kShowEnv, "    proxy_from: 127.0.0.1\n    proxy_timeout: 10\n"
                                              "    env: {PROXY_AUTHORITY: from-reload}\n"));
  yinetd.Signal(SIGHUP);
  REQUIRE(yinetd.WaitForLog({"event=reload", "result=ok"}));
  SendAll(conn.Get(), header.substr(7));
  CHECK(ReadLine(conn.Get()) == "192.0.2.7 40000 127.0.0.1 198.51.100.1 2222 from-reload -\n");
}

TEST_CASE("a reload while hundreds of headers are awaited: re-checked against proxy_from, closed with their service") {
  uint16_t port = FreePort();
  uint16_t metrics = FreePort();
  const std::string metrics_service =
      "  - name: metrics\n    listen: 127.0.0.1:" + std::to_string(metrics) + "\n    builtin: metrics\n";
  auto config = [&](const std::string& from) {
    return ProxyService(port, kHold, "    proxy_from: " + from + "\n    proxy_timeout: 30\n") + metrics_service;
  };
  Yinetd yinetd(config("127.0.0.0/8"));
  const char* balancers[] = {"127.0.0.1", "127.0.0.2", "127.0.0.3"};
  std::vector<UniqueFd> waiting[3];
  for (int i = 0; i < 300; ++i) {
    waiting[i % 3].push_back(ConnectTcpFrom(balancers[i % 3], "127.0.0.1", port));
    REQUIRE(waiting[i % 3].back().Valid());
  }
  // The supervisor answers while they wait (and has had passes to accept
  // them all; one still in the backlog at the reload meets the same end).
  REQUIRE(Exchange(metrics, "GET /metrics HTTP/1.0\r\n\r\n").find("yinetd_connections_accepted_total") !=
          std::string::npos);
  yinetd.Rewrite(config("[127.0.0.2, 127.0.0.3]"));
  yinetd.Signal(SIGHUP);
  REQUIRE(yinetd.WaitForLog({"event=reload", "result=ok"}));
  // 127.0.0.1 is no longer trusted: its 100 are refused, the others wait on.
  for (UniqueFd& fd : waiting[0]) CHECK(ReadUntilEof(fd.Get()) == "");
  CHECK(yinetd.WaitForLog({"event=refuse", "service=gate", "peer=127.0.0.1:", "reason=proxy_untrusted",
                           "detail=\"not in proxy_from since the reload\""}));
  std::string exposition = Exchange(metrics, "GET /metrics HTTP/1.0\r\n\r\n");
  CHECK(exposition.find("yinetd_connections_refused_total{service=\"gate\",reason=\"proxy_untrusted\"} 100") !=
        std::string::npos);
  SendAll(waiting[1].back().Get(), V2Header("192.0.2.7", 1));
  CHECK(Greeted(waiting[1].back().Get()));
  CHECK(yinetd.WaitForLog({"event=accept", "service=gate", "peer=192.0.2.7:1", "via=127.0.0.2:"}));
  // The service removed: every header still awaited is closed, and logged.
  yinetd.Rewrite("services:\n" + metrics_service);
  yinetd.Signal(SIGHUP);
  REQUIRE(yinetd.WaitForLog({"event=reload", "result=ok"}, 2));
  waiting[1].pop_back();  // the one served: its program runs on
  for (int balancer : {1, 2}) {
    for (UniqueFd& fd : waiting[balancer]) CHECK(ReadUntilEof(fd.Get()) == "");
  }
  CHECK(yinetd.WaitForLog({"event=refuse", "service=gate", "reason=listener_closed"}));
  CHECK(Count(yinetd, "accept", "service", "gate") == 1);
}

TEST_CASE("proxy_timeout is for the whole header: one byte every 0.9 s does not keep a wait alive") {
  uint16_t port = FreePort();
  Yinetd yinetd(ProxyService(port, kHold, "    proxy_from: 127.0.0.1\n    proxy_timeout: 2\n", "v1"));
  UniqueFd conn = ConnectTcp("127.0.0.1", port);
  const std::string header = "PROXY TCP4 192.0.2.7 198.51.100.1 40000 2222\r\n";
  size_t sent = 0;
  for (; sent < header.size(); ++sent) {
    // Each byte well within the timeout of the one before; stop once closed.
    pollfd p{conn.Get(), POLLIN, 0};
    if (poll(&p, 1, 900) == 1) break;
    if (send(conn.Get(), &header[sent], 1, MSG_NOSIGNAL) != 1) break;
  }
  CHECK(sent < header.size());
  CHECK(ReadUntilEof(conn.Get()) == "");
  CHECK(yinetd.WaitForLog({"event=refuse", "service=gate", "reason=proxy_timeout"}));
  CHECK(Count(yinetd, "accept", "service", "gate") == 0);
}

TEST_CASE("hostile headers: a huge v2 length and a v1 line without CRLF are refused at once, without a timeout") {
  uint16_t port = FreePort();
  Yinetd yinetd(ProxyService(port, kHold, "    proxy_from: 127.0.0.1\n    proxy_timeout: 60\n", "any"));
  UniqueFd huge = ConnectTcp("127.0.0.1", port);
  SendAll(huge.Get(), std::string("\r\n\r\n\0\r\nQUIT\n\x21\x11\xff\xff", 16));
  CHECK(ReadUntilEof(huge.Get()) == "");  // long before proxy_timeout
  CHECK(yinetd.WaitForLog({"event=refuse", "reason=proxy_invalid", "longer than 4096 bytes"}));
  UniqueFd endless = ConnectTcp("127.0.0.1", port);
  SendAll(endless.Get(), "PROXY TCP4 192.0.2.7 198.51.100.1 40000 2222" + std::string(100, ' '));
  CHECK(ReadUntilEof(endless.Get()) == "");
  CHECK(yinetd.WaitForLog({"event=refuse", "reason=proxy_invalid", "longer than 107 bytes"}));
  UniqueFd served = ConnectTcp("127.0.0.1", port);
  SendAll(served.Get(), V2Header("192.0.2.7", 1));
  CHECK(Greeted(served.Get()));
}

// Found by the hostile pass: every child but the first of a loop pass failed
// with exec_error step=dup2 (its stderr pipe was not there).
TEST_CASE("many headers from many balancers at once: each connection is served as its own header's client") {
  uint16_t port = FreePort();
  Yinetd yinetd(ProxyService(port, "/bin/sh\n    args: [\"-c\", 'echo \"$TCPREMOTEIP $TCPREMOTEPORT\"']",
                             "    proxy_from: 127.0.0.0/8\n    proxy_timeout: 30\n"));  // a slow (ASan) build too
  std::vector<UniqueFd> conns;
  for (int i = 0; i < 200; ++i) {
    conns.push_back(ConnectTcpFrom("127.0.0." + std::to_string(1 + i % 50), "127.0.0.1", port));
    REQUIRE(conns.back().Valid());
  }
  // Every header goes out only once all are connected: they all arrive together.
  for (int i = 0; i < 200; ++i) SendAll(conns[i].Get(), V2Header("192.0.2." + std::to_string(i % 250), 1000 + i));
  for (int i = 0; i < 200; ++i) {
    CHECK(ReadLine(conns[i].Get()) == "192.0.2." + std::to_string(i % 250) + " " + std::to_string(1000 + i) + "\n");
  }
  CHECK(yinetd.WaitForLog({"event=exit", "service=gate"}, 200));
  CHECK(Count(yinetd, "refuse", "service", "gate") == 0);
  CHECK(yinetd.Events("exec_error").empty());
}

TEST_CASE("1,000 peers that connect and send nothing hold no process, and the supervisor stays responsive") {
  uint16_t port = FreePort();
  uint16_t echo = FreePort();
  Yinetd yinetd(ProxyService(port, kHold, "    proxy_from: 127.0.0.0/8\n    proxy_timeout: 3\n") +
                Service("echo", echo, "/bin/cat"));
  std::vector<UniqueFd> idle;
  for (int i = 0; i < 1000; ++i) {
    // Two balancer addresses of 500 each: below the per-address bound.
    idle.push_back(ConnectTcpFrom(i % 2 == 0 ? "127.0.0.1" : "127.0.0.2", "127.0.0.1", port));
    REQUIRE(idle.back().Valid());
  }
  // Another service answers while they wait, and so does this one.
  CHECK(Exchange(echo, "ping\n") == "ping\n");
  REQUIRE(yinetd.WaitForLog({"event=exit", "service=echo"}));
  UniqueFd served = ConnectTcp("127.0.0.1", port);
  SendAll(served.Get(), V2Header("192.0.2.7", 1));
  CHECK(Greeted(served.Get()));
  CHECK(CountChildren(yinetd.Pid()) == 1);  // the one served, none for the idle
  // At proxy_timeout every idle peer is closed.
  for (UniqueFd& fd : idle) CHECK(ReadUntilEof(fd.Get()) == "");
  CHECK(yinetd.WaitForLog({"event=refuse", "reason=proxy_timeout"}));
  CHECK(CountChildren(yinetd.Pid()) == 1);
}

TEST_CASE("more waits from one balancer address than the bound are refused as proxy_busy") {
  uint16_t port = FreePort();
  Yinetd yinetd(ProxyService(port, kHold, "    proxy_from: 127.0.0.0/8\n    proxy_timeout: 5\n"));
  std::vector<UniqueFd> idle;
  for (int i = 0; i < 520; ++i) idle.push_back(ConnectTcp("127.0.0.1", port));
  CHECK(yinetd.WaitForLog({"event=refuse", "reason=proxy_busy"}));
  UniqueFd other = ConnectTcpFrom("127.0.0.2", "127.0.0.1", port);
  SendAll(other.Get(), V2Header("192.0.2.7", 1));
  CHECK(Greeted(other.Get()));
}

TEST_CASE("--check: proxy_protocol without proxy_from, with udp, with mode wait") {
  auto [code, out] = RunCheck("services:\n  - name: a\n    listen: 127.0.0.1:9\n    program: /bin/cat\n"
                              "    proxy_protocol: v2\n");
  CHECK(code != 0);
  CHECK(out.find("yinetd.yaml:5:21: error: proxy_protocol needs proxy_from") != std::string::npos);
  auto [udp_code, udp_out] = RunCheck("services:\n  - name: a\n    listen: 127.0.0.1:9\n    program: /bin/cat\n"
                                      "    protocol: udp\n    proxy_protocol: v2\n    proxy_from: 10.0.0.1\n");
  CHECK(udp_code != 0);
  CHECK(udp_out.find("not protocol udp") != std::string::npos);
  auto [wait_code, wait_out] = RunCheck("services:\n  - name: a\n    listen: 127.0.0.1:9\n    program: /bin/cat\n"
                                        "    mode: wait\n    proxy_protocol: v1\n    proxy_from: 10.0.0.1\n");
  CHECK(wait_code != 0);
  CHECK(wait_out.find("needs mode nowait") != std::string::npos);
}

// HAProxy in the foreground on a config of our own; stopped by its pid.
class Haproxy {
 public:
  Haproxy(const std::string& dir, const std::string& config) {
    std::string path = dir + "/haproxy.cfg";
    WriteText(path, config);
    log_ = dir + "/haproxy.log";
    pid_ = fork();
    if (pid_ == 0) {
      int out = open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      dup2(out, 1);
      dup2(out, 2);
      execlp("haproxy", "haproxy", "-db", "-f", path.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  ~Haproxy() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      usleep(50'000);
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  bool Running() { return pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0; }
  std::string Log() {
    std::ifstream in(log_);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

 private:
  pid_t pid_ = -1;
  std::string log_;
};

bool HaveHaproxy() { return RunCommand("command -v haproxy >/dev/null").first == 0; }

// The scale-out recipe on loopback: HAProxy on one port, connecting from
// 127.0.0.5 to two yinetd behind it, clients from 127.0.0.1 and 127.0.0.2.
void RunRecipe(const std::string& version, const std::string& send_proxy) {
  uint16_t front = FreePort(), a = FreePort(), b = FreePort();
  std::string keys = "    proxy_from: 127.0.0.5\n    max_per_source: 1\n";
  const std::string program =
      "/bin/sh\n    args: [\"-c\", 'echo \"hi $TCPREMOTEIP via $TCPPROXYIP\"; exec cat']";
  Yinetd first(ProxyService(a, program, keys, version));
  Yinetd second(ProxyService(b, program, keys, version));
  // Each check connects, sends a header (LOCAL for v2) and expects the
  // greeting: an UP server is one yinetd served.
  std::string config =
      "global\n  maxconn 200\n"
      "defaults\n  mode tcp\n  timeout connect 2s\n  timeout client 20s\n  timeout server 20s\n"
      "frontend front\n  bind 127.0.0.1:" + std::to_string(front) + "\n  default_backend yinetd\n"
      "backend yinetd\n  balance roundrobin\n  source 127.0.0.5\n  option tcp-check\n  tcp-check expect rstring ^hi\n"
      "  server a 127.0.0.1:" + std::to_string(a) + " " + send_proxy + " check check-send-proxy inter 300ms\n"
      "  server b 127.0.0.1:" + std::to_string(b) + " " + send_proxy + " check check-send-proxy inter 300ms\n";
  Haproxy haproxy(first.Dir(), config);
  // Both instances answered a health check (a connection without a client).
  REQUIRE(first.WaitForLog({"event=exit", "service=gate", "peer=127.0.0.5:"}));
  REQUIRE(second.WaitForLog({"event=exit", "service=gate", "peer=127.0.0.5:"}));
  REQUIRE(haproxy.Running());
  // A v2 check's header is LOCAL: no client, the balancer itself is the
  // peer. (HAProxy's v1 check line names its own addresses as the client.)
  bool local_check_served = false;
  for (auto& fields : first.Events("accept")) {
    if (fields["peer"].rfind("127.0.0.5:", 0) == 0 && fields.count("via") == 0) local_check_served = true;
  }
  CHECK(local_check_served == (version == "v2"));
  // Round robin: a, b, a. Each yinetd counts the client itself, so the
  // third connection of 127.0.0.1 meets the first on a and is refused.
  UniqueFd one = ConnectTcpFrom("127.0.0.1", "127.0.0.1", front);
  CHECK(ReadLine(one.Get()) == "hi 127.0.0.1 via 127.0.0.5\n");
  UniqueFd two = ConnectTcpFrom("127.0.0.1", "127.0.0.1", front);
  CHECK(ReadLine(two.Get()) == "hi 127.0.0.1 via 127.0.0.5\n");
  UniqueFd three = ConnectTcpFrom("127.0.0.1", "127.0.0.1", front);
  CHECK(ReadUntilEof(three.Get()) == "");
  // The other client is served while the first is held at its limit.
  UniqueFd other = ConnectTcpFrom("127.0.0.2", "127.0.0.1", front);
  CHECK(ReadLine(other.Get()) == "hi 127.0.0.2 via 127.0.0.5\n");
  SendAll(other.Get(), "through haproxy\n");
  CHECK(ReadLine(other.Get()) == "through haproxy\n");
  CHECK((first.WaitForLog({"event=refuse", "peer=127.0.0.1:", "via=127.0.0.5:", "reason=max_per_source"}, 1, 2s) ||
         second.WaitForLog({"event=refuse", "peer=127.0.0.1:", "via=127.0.0.5:", "reason=max_per_source"}, 1, 2s)));
  CHECK(Count(first, "refuse", "reason", "max_per_source") + Count(second, "refuse", "reason", "max_per_source") == 1);
  CHECK(first.WaitForLog({"event=accept", "peer=127.0.0.1:", "via=127.0.0.5:"}));
  CHECK(second.WaitForLog({"event=accept", "peer=127.0.0.1:", "via=127.0.0.5:"}));
  CHECK((first.WaitForLog({"event=accept", "peer=127.0.0.2:", "via=127.0.0.5:"}, 1, 2s) ||
         second.WaitForLog({"event=accept", "peer=127.0.0.2:", "via=127.0.0.5:"}, 1, 2s)));
}

TEST_CASE("scale-out recipe: HAProxy with send-proxy-v2 in front of two yinetd") {
  if (!HaveHaproxy()) {
    MESSAGE("skipped: haproxy is not installed (scripts/setup.sh installs it)");
    return;
  }
  RunRecipe("v2", "send-proxy-v2");
}

TEST_CASE("scale-out recipe: HAProxy with send-proxy (v1) in front of two yinetd") {
  if (!HaveHaproxy()) {
    MESSAGE("skipped: haproxy is not installed (scripts/setup.sh installs it)");
    return;
  }
  RunRecipe("v1", "send-proxy");
}

}  // namespace
}  // namespace yinetd::testing
