#include "config/loader.h"

#include <doctest/doctest.h>

#include "config/fake_host.h"

namespace yinetd::config {
namespace {

LoadResult Load(const std::string& text, FakeHost host = FakeHost()) {
  return LoadConfigText(text, "/etc/yinetd/test.yaml", host);
}

// The one problem `text` has; fails the test if it has none or several.
Problem OnlyProblem(const std::string& text, FakeHost host = FakeHost()) {
  LoadResult result = Load(text, std::move(host));
  REQUIRE_MESSAGE(result.problems.size() == 1, "problems: " << result.problems.size());
  CHECK_FALSE(result.config.has_value());
  return result.problems[0];
}

const char* kMinimal = R"(services:
  - name: echo
    listen: 127.0.0.1:7007
    program: /bin/cat
)";

TEST_CASE("a minimal config loads with defaults filled in") {
  LoadResult result = Load(kMinimal);
  REQUIRE(result.problems.empty());
  REQUIRE(result.config);
  const Config& config = *result.config;
  REQUIRE(config.services.size() == 1);
  const ServiceConfig& echo = config.services[0];
  CHECK(echo.name == "echo");
  REQUIRE(echo.listen.size() == 1);
  CHECK(echo.listen[0].ToString() == "127.0.0.1:7007");
  CHECK(echo.program == "/bin/cat");
  CHECK(echo.args.empty());
  CHECK(echo.stderr_mode == StderrMode::kLog);
  CHECK_FALSE(echo.credentials.has_value());
  CHECK(config.shutdown_grace == std::chrono::seconds(10));
  CHECK_FALSE(config.log_level.has_value());
  CHECK(echo.where.line == 2);
}

TEST_CASE("every documented key is read") {
  LoadResult result = Load(R"(log:
  level: debug
shutdown_grace: 2.5
defaults:
  env: {LANG: C, SHARED: from-defaults}
  stderr: socket
services:
  - name: full
    listen: [127.0.0.1:7001, "[::1]:7001", 7002, unix:/run/full.sock]
    program: /bin/sh
    args: ["-c", "echo hi"]
    env: {SHARED: from-service, N: 3}
    user: nobody
    group: staff
  - name: quiet
    listen: 7003
    program: /bin/cat
    stderr: null
)");
  REQUIRE_MESSAGE(result.problems.empty(), (result.problems.empty() ? "" : result.problems[0].ToString()));
  const Config& config = *result.config;
  CHECK(config.log_level == log::Level::kDebug);
  CHECK(config.shutdown_grace == std::chrono::milliseconds(2500));
  const ServiceConfig& full = config.services[0];
  REQUIRE(full.listen.size() == 4);
  CHECK(full.listen[1].ToString() == "[::1]:7001");
  CHECK(full.listen[2].family == net::Address::Family::kAny);
  CHECK(full.listen[3].path == "/run/full.sock");
  CHECK(full.args == std::vector<std::string>{"-c", "echo hi"});
  CHECK(full.stderr_mode == StderrMode::kSocket);
  REQUIRE(full.credentials);
  CHECK(full.credentials->uid == 65534);
  CHECK(full.credentials->gid == 50);
  CHECK(full.credentials->set_uid);
  CHECK(full.env == std::vector<std::pair<std::string, std::string>>{
                        {"LANG", "C"}, {"SHARED", "from-service"}, {"N", "3"}});
  CHECK(config.services[1].stderr_mode == StderrMode::kNull);
  CHECK(config.services[1].env.size() == 2);  // from defaults
}

TEST_CASE("stderr accepts null quoted or not") {
  for (const char* value : {"null", "\"null\"", "~"}) {
    LoadResult result = Load(std::string(kMinimal) + "    stderr: " + value + "\n");
    REQUIRE(result.config);
    CHECK(result.config->services[0].stderr_mode == StderrMode::kNull);
  }
}

TEST_CASE("group alone keeps the uid and sets the gid") {
  LoadResult result = Load(std::string(kMinimal) + "    group: nogroup\n");
  REQUIRE(result.config);
  const auto& credentials = *result.config->services[0].credentials;
  CHECK_FALSE(credentials.set_uid);
  CHECK(credentials.gid == 65534);
}

TEST_CASE("a ./program is relative to the file that names it") {
  FakeHost host;
  host.executables.insert("/etc/services/hello.sh");
  LoadResult result = Load(R"(services:
  - name: hello
    listen: 7000
    program: ../services/hello.sh
)", host);
  REQUIRE(result.config);
  CHECK(result.config->services[0].program == "/etc/services/hello.sh");
}

TEST_CASE("unknown keys at every level") {
  LoadResult result = Load(R"(servics: []
log: {levle: info}
defaults: {progam: /bin/cat}
services:
  - name: echo
    lisen: 127.0.0.1:7007
    listen: 127.0.0.1:7007
    program: /bin/cat
)");
  // Sorted by place, whatever order they were found in.
  REQUIRE(result.problems.size() == 4);
  CHECK(result.problems[0].where.ToString() == "/etc/yinetd/test.yaml:1:1");
  CHECK(result.problems[0].message == "unknown key 'servics' at the top level: did you mean 'services'?");
  CHECK(result.problems[1].where.ToString() == "/etc/yinetd/test.yaml:2:7");
  CHECK(result.problems[1].message == "unknown key 'levle' under log: did you mean 'level'?");
  CHECK(result.problems[2].where.ToString() == "/etc/yinetd/test.yaml:3:12");
  CHECK(result.problems[2].message == "unknown key 'progam' under defaults");
  CHECK(result.problems[3].where.ToString() == "/etc/yinetd/test.yaml:6:5");
  CHECK(result.problems[3].message == "unknown key 'lisen' in a service: did you mean 'listen'?");
}

TEST_CASE("keys that belong to one service are refused under defaults") {
  Problem problem = OnlyProblem(std::string("defaults: {program: /bin/cat}\n") + kMinimal);
  CHECK(problem.message == "'program' belongs to each service and cannot be set under defaults");
  CHECK(problem.where.line == 1);
}

TEST_CASE("wrong types are named with what was found") {
  CHECK(OnlyProblem("services: {echo: 1}\n").message.find("services must be a list") == 0);
  CHECK(OnlyProblem(std::string(kMinimal) + "    args: -u\n").message ==
        "args must be a list, like args: [\"-u\", \"x\"], not '-u'");
  CHECK(OnlyProblem(std::string(kMinimal) + "    env: [A]\n").message ==
        "env must be a map of NAME: value, not a list");
  CHECK(OnlyProblem(std::string(kMinimal) + "    user: [a, b]\n").message ==
        "user must be a single value, not a list");
  CHECK(OnlyProblem("shutdown_grace: soon\n" + std::string(kMinimal)).message ==
        "shutdown_grace must be a number of seconds, like 10 or 0.5, not 'soon'");
  CHECK(OnlyProblem(std::string(kMinimal) + "    stderr: file\n").message ==
        "stderr must be log, socket or null; not 'file'");
  CHECK(OnlyProblem("log: {level: loud}\n" + std::string(kMinimal)).message ==
        "log.level must be one of trace, debug, info, warn, error; not 'loud'");
  CHECK(OnlyProblem("- a\n- b\n").message ==
        "the file must be a map with a 'services:' list, not a list");
}

TEST_CASE("a service without program or listen is reported at its entry") {
  LoadResult result = Load(R"(services:
  - name: echo
)");
  REQUIRE(result.problems.size() == 2);
  CHECK(result.problems[0].where.ToString() == "/etc/yinetd/test.yaml:2:5");
  CHECK(result.problems[0].message == "service is missing 'listen'");
  CHECK(result.problems[1].message == "service is missing 'program'");
}

TEST_CASE("program must be absolute and executable") {
  Problem relative = OnlyProblem(R"(services:
  - name: echo
    listen: 7007
    program: cat
)");
  CHECK(relative.where.ToString() == "/etc/yinetd/test.yaml:4:14");
  CHECK(relative.message.find("program 'cat' is not an absolute path") == 0);
  Problem missing = OnlyProblem(R"(services:
  - name: echo
    listen: 7007
    program: /bin/nope
)");
  CHECK(missing.message ==
        "program /bin/nope cannot be run: No such file or directory; check the path and its permissions");
}

TEST_CASE("duplicate names and listen addresses name both places") {
  LoadResult result = Load(R"(services:
  - name: echo
    listen: 127.0.0.1:7007
    program: /bin/cat
  - name: echo
    listen: 7007
    program: /bin/cat
)");
  REQUIRE(result.problems.size() == 2);
  CHECK(result.problems[0].message ==
        "duplicate service name 'echo': it is already used at /etc/yinetd/test.yaml:2:5");
  CHECK(result.problems[0].where.line == 5);
  CHECK(result.problems[1].message ==
        "listen address 7007 is already used by service 'echo' at /etc/yinetd/test.yaml:2:5");
}

TEST_CASE("different hosts on one port do not clash") {
  LoadResult result = Load(R"(services:
  - {name: a, listen: 127.0.0.1:7007, program: /bin/cat}
  - {name: b, listen: 127.0.0.2:7007, program: /bin/cat}
  - {name: c, listen: "[::1]:7007", program: /bin/cat}
)");
  CHECK(result.problems.empty());
}

TEST_CASE("bad addresses and ports are explained") {
  auto message_for = [](const std::string& listen) {
    return OnlyProblem("services:\n  - {name: a, program: /bin/cat, listen: \"" + listen + "\"}\n").message;
  };
  CHECK(message_for("127.0.0.1:70000") == "listen '127.0.0.1:70000': port 70000 is out of range (1-65535)");
  CHECK(message_for("0") == "listen '0': port 0 is out of range (1-65535)");
  CHECK(message_for("localhost:80") ==
        "listen 'localhost:80': 'localhost' is not a numeric IPv4 address (host names are not looked up)");
  CHECK(message_for("::1:80") == "listen '::1:80': IPv6 addresses need brackets: [::1]:PORT");
  CHECK(message_for("unix:run/x") == "listen 'unix:run/x': a unix socket path must be absolute");
}

TEST_CASE("unknown users and groups are errors; switching needs root") {
  CHECK(OnlyProblem(std::string(kMinimal) + "    user: ghost\n").message ==
        "unknown user 'ghost': create it or name an existing user");
  CHECK(OnlyProblem(std::string(kMinimal) + "    group: ghosts\n").message ==
        "unknown group 'ghosts': create it or name an existing group");
  FakeHost unprivileged;
  unprivileged.euid = 1000;
  CHECK(OnlyProblem(std::string(kMinimal) + "    user: nobody\n", unprivileged).message.find("needs root") !=
        std::string::npos);
}

TEST_CASE("bad names are refused") {
  CHECK(OnlyProblem("services:\n  - {name: 'a b', listen: 7, program: /bin/cat}\n").message ==
        "service name 'a b' may only use letters, digits, '_', '.' and '-'");
  CHECK(OnlyProblem(std::string(kMinimal) + "    env: {1X: y}\n").message.find("environment name '1X'") == 0);
}

TEST_CASE("YAML syntax errors carry the parser's position") {
  Problem problem = OnlyProblem("services:\n  - name: [unclosed\n");
  CHECK(problem.where.file == "/etc/yinetd/test.yaml");
  CHECK(problem.where.line >= 2);
  CHECK(problem.message.find("YAML syntax error") == 0);
}

TEST_CASE("an empty file or an empty list has no services") {
  CHECK(OnlyProblem("").message == "the file must be a map with a 'services:' list, not nothing");
  CHECK(OnlyProblem("services: []\n").message == "no services are configured: add a 'services:' list");
}

TEST_CASE("an unreadable file is one problem at line 0") {
  FakeHost host;
  LoadResult result = LoadConfigFile("/nonexistent/yinetd.yaml", host);
  REQUIRE(result.problems.size() == 1);
  CHECK(result.problems[0].ToString() ==
        "/nonexistent/yinetd.yaml:0:0: cannot read the config file: No such file or directory");
}

TEST_CASE("NearestWord suggests only close words") {
  CHECK(NearestWord("lisen", {"listen", "program"}) == "listen");
  CHECK(NearestWord("progarm", {"listen", "program"}) == "program");
  CHECK(NearestWord("zzz", {"listen", "program"}) == "");
}

}  // namespace
}  // namespace yinetd::config

namespace yinetd::config {
namespace {

TEST_CASE("limit keys are read, from defaults too") {
  FakeHost host;
  LoadResult result = LoadConfigText(R"(max_children: 100
defaults:
  max_connections: 10
  deny: [10.0.0.0/8]
  kill_grace: 0.5
services:
  - name: guarded
    listen: 7007
    program: /bin/cat
    max_per_source: 2
    max_rate: 5
    max_rate_per_source: 0.5
    source_prefix_v4: 24
    source_prefix_v6: 48
    overflow: queue
    allow: ["127.0.0.0/8", "::1"]
    refuse_message: "busy, try later"
    timeout: 30
)", "/etc/yinetd/test.yaml", host);
  REQUIRE_MESSAGE(result.problems.empty(), (result.problems.empty() ? "" : result.problems[0].ToString()));
  const Config& config = *result.config;
  CHECK(config.max_children == 100);
  const ServiceConfig& s = config.services[0];
  CHECK(s.limits.max_connections == 10);
  CHECK(s.limits.max_per_source == 2);
  CHECK(s.limits.max_rate == 5.0);
  CHECK(s.limits.max_rate_per_source == 0.5);
  CHECK(s.limits.source_prefix_v4 == 24);
  CHECK(s.limits.source_prefix_v6 == 48);
  CHECK(s.limits.overflow == Overflow::kQueue);
  REQUIRE(s.access.allow.size() == 2);
  CHECK(s.access.allow[1].ToString() == "::1/128");
  REQUIRE(s.access.deny.size() == 1);
  CHECK(s.refuse_message == "busy, try later");
  CHECK(s.timeout == std::chrono::seconds(30));
  CHECK(s.kill_grace == std::chrono::milliseconds(500));
}

TEST_CASE("limit defaults") {
  FakeHost host;
  LoadResult result = LoadConfigText("services:\n  - {name: a, listen: 7, program: /bin/cat}\n", "f.yaml", host);
  REQUIRE(result.config);
  const ServiceConfig& s = result.config->services[0];
  CHECK_FALSE(s.limits.max_connections.has_value());
  CHECK(s.limits.source_prefix_v4 == 32);
  CHECK(s.limits.source_prefix_v6 == 64);
  CHECK(s.limits.overflow == Overflow::kRefuse);
  CHECK(s.access.allow.empty());
  CHECK_FALSE(s.timeout.has_value());
  CHECK(s.kill_grace == std::chrono::seconds(2));
  CHECK_FALSE(result.config->max_children.has_value());
}

TEST_CASE("bad limit values are explained") {
  auto message_for = [](const std::string& line) {
    FakeHost host;
    LoadResult result = LoadConfigText("services:\n  - name: a\n    listen: 7\n    program: /bin/cat\n    " + line + "\n",
                                       "f.yaml", host);
    REQUIRE(result.problems.size() == 1);
    CHECK(result.problems[0].where.line == 5);
    return result.problems[0].message;
  };
  CHECK(message_for("max_connections: 0") == "max_connections must be a whole number from 1 to 1000000, not '0'");
  CHECK(message_for("max_per_source: two") == "max_per_source must be a whole number from 1 to 1000000, not 'two'");
  CHECK(message_for("max_rate: -1") ==
        "max_rate must be a number of connections a second above 0, like 5 or 0.5, not '-1'");
  CHECK(message_for("source_prefix_v4: 33") == "source_prefix_v4 must be a whole number from 0 to 32, not '33'");
  CHECK(message_for("overflow: drop") == "overflow must be refuse or queue; not 'drop'");
  CHECK(message_for("allow: [10.0.0.1/8]") == "allow: '10.0.0.1/8' has host bits set: did you mean 10.0.0.0/8?");
  CHECK(message_for("deny: nowhere") == "deny: 'nowhere' is not a numeric IPv4 or IPv6 address");
  CHECK(message_for("timeout: 0") == "timeout must be above 0 seconds; leave it out for no limit");
  CHECK(message_for("max_conections: 3") == "unknown key 'max_conections' in a service: did you mean 'max_connections'?");
}

}  // namespace
}  // namespace yinetd::config
