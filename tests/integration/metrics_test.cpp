// End to end: `builtin: metrics` (issue 6) answers a real HTTP client, curl,
// with Prometheus text exposition whose counters match the connections the
// test made.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "integration/harness.h"

namespace yinetd::testing {
namespace {

struct HttpReply {
  int exit_code = -1;
  std::string head;
  std::string body;
};

// curl, bounded by its own --max-time; the head (-D -) and the body.
HttpReply Curl(const std::string& arguments) {
  auto [code, out] = RunCommand("curl -sS --max-time 10 -D - " + arguments + " 2>&1");
  HttpReply reply;
  reply.exit_code = code;
  size_t end = out.find("\r\n\r\n");
  reply.head = out.substr(0, end);
  if (end != std::string::npos) reply.body = out.substr(end + 4);
  return reply;
}

std::string Url(uint16_t port, const std::string& path = "/metrics") {
  return "http://127.0.0.1:" + std::to_string(port) + path;
}

// Checks the text exposition format line by line: HELP and TYPE comments,
// then samples `name{labels} value` of a declared family. Returns the
// samples by name-and-labels.
std::map<std::string, double> ParseExposition(const std::string& text) {
  static const std::regex kSample(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*")"
                                  R"((?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*")*\})? (\S+)$)");
  static const std::regex kType(R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$)");
  std::map<std::string, double> samples;
  std::set<std::string> families;
  std::istringstream lines(text);
  std::string line;
  CHECK(!text.empty());
  CHECK(text.back() == '\n');
  while (std::getline(lines, line)) {
    std::smatch match;
    if (line.rfind("# HELP ", 0) == 0) continue;
    if (std::regex_match(line, match, kType)) {
      families.insert(match[1]);
      continue;
    }
    INFO("line: " << line);
    REQUIRE(std::regex_match(line, match, kSample));
    std::string name = match[1];
    std::string family = std::regex_replace(name, std::regex("_(bucket|sum|count)$"), "");
    CHECK((families.count(name) == 1 || families.count(family) == 1));
    samples[name + std::string(match[2])] = std::stod(match[3]);
  }
  return samples;
}

double Value(const std::map<std::string, double>& samples, const std::string& key) {
  INFO("sample: " << key);
  auto it = samples.find(key);
  REQUIRE(it != samples.end());
  return it->second;
}

TEST_CASE("the metrics endpoint answers curl with counters that match the connections made") {
  uint16_t echo = FreePort(), closed = FreePort(), killed = FreePort(), metrics = FreePort();
  Yinetd yinetd("services:\n" + (Service("echo", echo, "/bin/cat") +
                       Service("closed", closed, "/bin/cat", "    deny: [127.0.0.0/8]\n") +
                       Service("killed", killed, "/bin/sh", "    args: [\"-c\", 'kill -KILL $$']\n") +
                       "  - name: metrics\n    listen: 127.0.0.1:" + std::to_string(metrics) +
                       "\n    builtin: metrics\n    allow: [127.0.0.1/32]\n"));
  for (int i = 0; i < 3; ++i) CHECK(Exchange(echo, "ping") == "ping");
  for (int i = 0; i < 2; ++i) CHECK(Exchange(closed, "ping") == "");
  CHECK(Exchange(killed) == "");
  REQUIRE(yinetd.WaitForLog({"event=exit", "service=echo", "status=0"}, 3));
  REQUIRE(yinetd.WaitForLog({"event=refuse", "service=closed", "reason=denied"}, 2));
  REQUIRE(yinetd.WaitForLog({"event=exit", "service=killed", "signal=SIGKILL"}));

  HttpReply reply = Curl(Url(metrics));
  REQUIRE(reply.exit_code == 0);
  CHECK(reply.head.rfind("HTTP/1.0 200 OK\r\n", 0) == 0);
  CHECK(reply.head.find("Content-Type: text/plain; version=0.0.4") != std::string::npos);
  std::map<std::string, double> samples = ParseExposition(reply.body);
  CHECK(Value(samples, R"(yinetd_connections_accepted_total{service="echo"})") == 3);
  CHECK(Value(samples, R"(yinetd_connections_accepted_total{service="closed"})") == 0);
  CHECK(Value(samples, R"(yinetd_connections_accepted_total{service="killed"})") == 1);
  CHECK(Value(samples, R"(yinetd_connections_accepted_total{service="metrics"})") == 0);  // taken before this one
  CHECK(Value(samples, R"(yinetd_connections_refused_total{service="closed",reason="denied"})") == 2);
  CHECK(Value(samples, R"(yinetd_children_running{service="echo"})") == 0);
  CHECK(Value(samples, R"(yinetd_child_exits_total{service="echo",outcome="status"})") == 3);
  CHECK(Value(samples, R"(yinetd_child_exits_total{service="echo",outcome="signal"})") == 0);
  CHECK(Value(samples, R"(yinetd_child_exits_total{service="killed",outcome="signal"})") == 1);
  CHECK(Value(samples, R"(yinetd_child_duration_seconds_count{service="echo"})") == 3);
  CHECK(Value(samples, R"(yinetd_child_duration_seconds_bucket{service="echo",le="+Inf"})") == 3);
  CHECK(Value(samples, R"(yinetd_reloads_total{result="success"})") == 0);
  double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  double started = Value(samples, "process_start_time_seconds");
  CHECK(started <= now);
  CHECK(started > now - 600);

  // A reload is counted; the first scrape now shows as an accepted
  // connection of the metrics service, and its exit as a clean one.
  REQUIRE(yinetd.WaitForLog({"event=exit", "service=metrics", "status=0"}));
  yinetd.Signal(SIGHUP);
  REQUIRE(yinetd.WaitForLog({"event=reload", "result=ok"}));
  samples = ParseExposition(Curl(Url(metrics, "/")).body);
  CHECK(Value(samples, R"(yinetd_reloads_total{result="success"})") == 1);
  CHECK(Value(samples, R"(yinetd_connections_accepted_total{service="metrics"})") == 1);
  CHECK(Value(samples, R"(yinetd_child_exits_total{service="metrics",outcome="status"})") == 1);
  CHECK(Value(samples, R"(yinetd_connections_accepted_total{service="echo"})") == 3);  // kept across the reload
}

TEST_CASE("the metrics endpoint answers HEAD without a body, and 404 and 405 elsewhere") {
  uint16_t metrics = FreePort();
  Yinetd yinetd("services:\n" + ("  - name: metrics\n    listen: 127.0.0.1:" + std::to_string(metrics) +
                       "\n    builtin: metrics\n"));
  HttpReply head = Curl("-I -o /dev/null " + Url(metrics));  // -I alone would print the head twice
  CHECK(head.exit_code == 0);
  CHECK(head.head.rfind("HTTP/1.0 200 OK\r\n", 0) == 0);
  CHECK(head.body == "");
  HttpReply missing = Curl(Url(metrics, "/other"));
  CHECK(missing.head.rfind("HTTP/1.0 404 Not Found\r\n", 0) == 0);
  HttpReply post = Curl("-X POST " + Url(metrics));
  CHECK(post.head.rfind("HTTP/1.0 405 Method Not Allowed\r\n", 0) == 0);
  CHECK(post.head.find("Allow: GET, HEAD") != std::string::npos);
}

TEST_CASE("the metrics endpoint is access-controlled like any service") {
  uint16_t metrics = FreePort();
  Yinetd yinetd("services:\n" + ("  - name: metrics\n    listen: 127.0.0.1:" + std::to_string(metrics) +
                       "\n    builtin: metrics\n    allow: [10.0.0.0/8]\n"));
  HttpReply refused = Curl(Url(metrics));
  CHECK(refused.exit_code != 0);  // closed without a reply
  CHECK(yinetd.WaitForLog({"event=refuse", "service=metrics", "reason=denied"}));
}

}  // namespace
}  // namespace yinetd::testing
