#include "control/report.h"

#include <doctest/doctest.h>

#include "control/protocol.h"

namespace yinetd::control {
namespace {

Snapshot Example() {
  Snapshot snapshot;
  snapshot.version = "1.0";
  snapshot.config_file = "/etc/yinetd/yinetd.yaml";
  snapshot.pid = 42;
  snapshot.uptime_ms = 61'500;
  snapshot.max_children = 100;
  snapshot.services = {{"echo", {"127.0.0.1:7", "[::1]:7"}, 2, 10, 1, 8},
                       {"udp", {"127.0.0.1:13"}, 0, 3, 0, 3}};
  snapshot.connections = {{"echo", 100, "127.0.0.1:4000", "", "nobody", 1500, "", ""},
                          {"echo", 101, "127.0.0.1:4001", "", "", 20, "", ""},
                          {"gate", 102, "203.0.113.9:5000", "10.0.0.2:41000", "", 7, "", ""},
                          {"secure", 103, "127.0.0.1:4002", "", "", 700, "1.3", "CN=backup 1,O=Corp"}};
  return snapshot;
}

TEST_CASE("status names each service with its listeners and counts") {
  std::string text = StatusText(Example());
  CHECK(text.find("yinetd 1.0, pid 42, up 61.5s, config /etc/yinetd/yinetd.yaml\n") == 0);
  CHECK(text.find("2 service(s), 2 running (at most 100)\n") != std::string::npos);
  CHECK(text.find("echo: listen 127.0.0.1:7,[::1]:7 running 2 accepted 10 refused 1 exited 8\n") !=
        std::string::npos);
  CHECK(text.find("udp: listen 127.0.0.1:13 running 0 accepted 3 refused 0 exited 3\n") != std::string::npos);
}

TEST_CASE("status --json is one object with every field") {
  CHECK(StatusJson(Example()) ==
        "{\"version\":\"1.0\",\"pid\":42,\"uptime_ms\":61500,\"config\":\"/etc/yinetd/yinetd.yaml\","
        "\"running\":2,\"max_children\":100,\"services\":["
        "{\"name\":\"echo\",\"listen\":[\"127.0.0.1:7\",\"[::1]:7\"],\"running\":2,\"accepted\":10,"
        "\"refused\":1,\"exited\":8},"
        "{\"name\":\"udp\",\"listen\":[\"127.0.0.1:13\"],\"running\":0,\"accepted\":3,\"refused\":0,"
        "\"exited\":3}]}\n");
}

TEST_CASE("connections: one line per running program, a dash for what is unknown") {
  CHECK(ConnectionsText(Example()) ==
        "SERVICE PID PEER VIA USER AGE TLS CLIENT\n"
        "echo 100 127.0.0.1:4000 - nobody 1.5s - -\n"
        "echo 101 127.0.0.1:4001 - - 0.0s - -\n"
        "gate 102 203.0.113.9:5000 10.0.0.2:41000 - 0.0s - -\n"
        "secure 103 127.0.0.1:4002 - - 0.7s 1.3 CN=backup 1,O=Corp\n");
  CHECK(ConnectionsText(Snapshot{}) == "SERVICE PID PEER VIA USER AGE TLS CLIENT\n");
  CHECK(ConnectionsJson(Snapshot{}) == "[]\n");
  CHECK(ConnectionsJson(Example()).find("{\"service\":\"echo\",\"pid\":100,\"peer\":\"127.0.0.1:4000\","
                                        "\"via\":\"\",\"user\":\"nobody\",\"age_ms\":1500,\"tls\":\"\",\"tls_client\":\"\"}") == 1);
  // A PROXY connection names its client as the peer and the balancer as via.
  CHECK(ConnectionsJson(Example()).find("{\"service\":\"gate\",\"pid\":102,\"peer\":\"203.0.113.9:5000\","
                                        "\"via\":\"10.0.0.2:41000\",\"user\":\"\",\"age_ms\":7,") !=
        std::string::npos);
  CHECK(ConnectionsJson(Example()).find("\"age_ms\":700,\"tls\":\"1.3\",\"tls_client\":\"CN=backup 1,O=Corp\"}") !=
        std::string::npos);
}

TEST_CASE("a JSON string escapes quotes, backslashes, control and non-ASCII bytes") {
  CHECK(JsonString("a\"b\\c") == "\"a\\\"b\\\\c\"");
  CHECK(JsonString("line\nbreak\x01") == "\"line\\u000abreak\\u0001\"");
  CHECK(JsonString("\xc3\xa9") == "\"\\u00c3\\u00a9\"");
  CHECK(JsonString("unix:/run/x") == "\"unix:/run/x\"");
}

TEST_CASE("reload: ok, partial with the addresses, refused with FILE:LINE:COLUMN") {
  ReloadOutcome ok;
  ok.added = 1;
  ok.kept = 2;
  Printed printed = ReloadReport(ok);
  CHECK(printed.exit_status == kExitOk);
  CHECK(printed.text == "ok: added 1, removed 0, changed 0, kept 2\n");

  ReloadOutcome partial = ok;
  partial.result = ReloadOutcome::Result::kPartial;
  partial.unbound = {"127.0.0.1:80: Address already in use", "[::1]:80: Permission denied"};
  printed = ReloadReport(partial);
  CHECK(printed.exit_status == kExitPartial);
  CHECK(printed.text == "partial: added 1, removed 0, changed 0, kept 2\n"
                        "not bound: 127.0.0.1:80: Address already in use\n"
                        "not bound: [::1]:80: Permission denied\n");

  ReloadOutcome refused;
  refused.result = ReloadOutcome::Result::kRefused;
  refused.problems = {{{"/etc/yinetd/yinetd.yaml", 3, 12}, "port 99999 is out of range"}};
  printed = ReloadReport(refused);
  CHECK(printed.exit_status == kExitFailed);
  CHECK(printed.text == "refused: the old config keeps serving\n"
                        "/etc/yinetd/yinetd.yaml:3:12: port 99999 is out of range\n");
}

TEST_CASE("check prints the problems, or the plan") {
  CheckOutcome bad;
  bad.problems = {{{"/x.yaml", 1, 2}, "oops"}};
  Printed printed = CheckReport(bad);
  CHECK(printed.exit_status == kExitFailed);
  CHECK(printed.text == "/x.yaml:1:2: oops\n1 problem(s): a reload would be refused\n");

  CheckOutcome plan;
  plan.added = {"new"};
  plan.changed = {"echo"};
  plan.removed = {"old"};
  plan.kept = {"daytime"};
  printed = CheckReport(plan);
  CHECK(printed.exit_status == kExitOk);
  CHECK(printed.text == "add new\nchange echo\nremove old\nkeep daytime\nOK: a reload would apply the changes above\n");

  CheckOutcome same;
  same.kept = {"echo"};
  CHECK(CheckReport(same).text == "keep echo\nOK: a reload would change nothing\n");
}

}  // namespace
}  // namespace yinetd::control
