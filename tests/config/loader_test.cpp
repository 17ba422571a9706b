#include "config/loader.h"

#include <doctest/doctest.h>
#include <sys/resource.h>
#include <sys/stat.h>

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
        "shutdown_grace must be a number of seconds from 0 to 3600 (1 hour), like 10 or 0.5, not 'soon'");
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
  CHECK(result.problems[1].message == "service is missing 'program' (or 'builtin' for a built-in service)");
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
        "listen address 7007 is already used by service 'echo' at /etc/yinetd/test.yaml:2:5 (as 127.0.0.1:7007); "
        "to give one address its own service, set reuseport: true on both");
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

TEST_CASE("a user that cannot reach its program is a warning at the program's position") {
  FakeHost host;
  host.modes["/"] = {S_IFDIR | 0755, 0, 0};
  host.modes["/bin"] = {S_IFDIR | 0700, 0, 0};
  host.modes["/bin/cat"] = {S_IFREG | 0755, 0, 0};
  LoadResult result = Load(std::string(kMinimal) + "    user: nobody\n", host);
  REQUIRE(result.config);
  CHECK(result.problems.empty());
  REQUIRE(result.warnings.size() == 1);
  CHECK(result.warnings[0].where.ToString() == "/etc/yinetd/test.yaml:4:14");
  CHECK(result.warnings[0].message ==
        "service 'echo': user 'nobody' cannot search /bin (mode 0700, owner uid 0, group gid 0), so every start "
        "of program /bin/cat will fail; grant that user search (directories) and execute permission on the way, "
        "or move the program");
  // As root, or opened up: nothing to say.
  CHECK(Load(kMinimal, host).warnings.empty());
  host.modes["/bin"] = {S_IFDIR | 0755, 0, 0};
  CHECK(Load(std::string(kMinimal) + "    user: nobody\n", host).warnings.empty());
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

TEST_CASE("an unreadable file is one plain problem, with no line") {
  FakeHost host;
  LoadResult result = LoadConfigFile("/nonexistent/yinetd.yaml", host);
  REQUIRE(result.problems.size() == 1);
  CHECK(result.problems[0].ToString() ==
        "/nonexistent/yinetd.yaml: cannot read the config file: No such file or directory");
}

TEST_CASE("process controls are read, and defaults apply to every service") {
  FakeHost host;
  host.executables.insert("/srv/jail/bin/sh");
  LoadResult result = Load(R"(defaults:
  umask: 027
  nice: 5
  rlimits: {nofile: 256, core: 0}
  no_new_privs: true
services:
  - name: jailed
    listen: 7001
    program: /bin/sh
    chroot: /srv/jail/
    chdir: /tmp
    argv0: jailed-sh
    clear_env: true
    rlimits: {core: unlimited, as: 64M}
  - name: plain
    listen: 7002
    program: /bin/cat
    nice: -3
    umask: 0o077
)", host);
  REQUIRE_MESSAGE(result.problems.empty(), (result.problems.empty() ? "" : result.problems[0].ToString()));
  const ProcessControls& jailed = result.config->services[0].process;
  CHECK(jailed.chroot == "/srv/jail");
  CHECK(jailed.chdir == "/tmp");
  CHECK(jailed.umask == 027);
  CHECK(jailed.nice == 5);
  CHECK(jailed.no_new_privs);
  CHECK(jailed.argv0 == "jailed-sh");
  CHECK(jailed.clear_env);
  // Merged limit by limit: the service's core replaces the default's.
  REQUIRE(jailed.rlimits.size() == 3);
  CHECK(jailed.rlimits[0] == ResourceLimit{"nofile", RLIMIT_NOFILE, 256});
  CHECK(jailed.rlimits[1] == ResourceLimit{"core", RLIMIT_CORE, RLIM_INFINITY});
  CHECK(jailed.rlimits[2] == ResourceLimit{"as", RLIMIT_AS, 64ULL << 20});
  const ProcessControls& plain = result.config->services[1].process;
  CHECK(plain.chroot.empty());
  CHECK(plain.chdir == "/");
  CHECK(plain.umask == 077);
  CHECK(plain.nice == -3);
  CHECK_FALSE(plain.argv0.has_value());
  CHECK_FALSE(plain.clear_env);
  CHECK(plain.rlimits.size() == 2);
}

TEST_CASE("bad process controls are explained") {
  auto message_for = [](const std::string& extra) {
    return OnlyProblem(std::string(kMinimal) + "    " + extra + "\n").message;
  };
  CHECK(message_for("umask: 0999") == "umask must be octal, like 022 or 0077, not '0999'");
  CHECK(message_for("umask: 01777") == "umask must be octal, like 022 or 0077, not '01777'");
  CHECK(message_for("nice: 20") == "nice must be a whole number from -20 (most favoured) to 19, not '20'");
  CHECK(message_for("nice: high") == "nice must be a whole number from -20 (most favoured) to 19, not 'high'");
  CHECK(message_for("chdir: tmp") == "chdir must be an absolute path, not 'tmp'");
  CHECK(message_for("chroot: jail") == "chroot must be an absolute path, not 'jail'");
  CHECK(message_for("no_new_privs: yes") == "no_new_privs must be true or false, not 'yes'");
  CHECK(message_for("rlimits: 5") == "rlimits must be a map like {nofile: 1024, core: 0}, not '5'");
  CHECK(message_for("rlimits: {nofiles: 5}") ==
        "unknown key 'nofiles' under rlimits (nofile, nproc, as, cpu, core, fsize): did you mean 'nofile'?");
  CHECK(message_for("rlimits: {as: lots}") ==
        "rlimits.as must be a number (optionally with K, M, G or T) or unlimited, not 'lots'");
  CHECK(message_for("rlimits: {as: 99999999999T}").find("rlimits.as must be a number") == 0);
  CHECK(message_for("argv0: [a]") == "argv0 must be a single value, not a list");
}

TEST_CASE("with chroot, the program is checked inside it") {
  Problem missing = OnlyProblem(std::string(kMinimal) + "    chroot: /srv/jail\n");
  CHECK(missing.message ==
        "program /srv/jail/bin/cat cannot be run: No such file or directory; check the path and its permissions");
  CHECK(missing.where.line == 4);
  FakeHost host;
  host.executables.insert("/etc/yinetd/hello.sh");
  Problem relative = OnlyProblem(R"(services:
  - {name: a, listen: 7, program: ./hello.sh, chroot: /srv/jail}
)", host);
  CHECK(relative.message == "with chroot, program must be an absolute path inside /srv/jail, not './hello.sh'");
}

TEST_CASE("builtin replaces program; exactly one of them") {
  LoadResult result = Load("services:\n  - {name: echo, listen: 7, builtin: echo}\n");
  REQUIRE(result.config);
  CHECK(result.config->services[0].builtin == "echo");
  CHECK(result.config->services[0].program.empty());
  CHECK(OnlyProblem("services:\n  - {name: e, listen: 7, builtin: echo, program: /bin/cat}\n").message ==
        "a service has either 'program' or 'builtin', not both: remove one");
  CHECK(OnlyProblem("services:\n  - {name: e, listen: 7, builtin: ping}\n").message ==
        "unknown builtin 'ping': the builtins are echo, discard, chargen, daytime, time, metrics");
  CHECK(OnlyProblem("services:\n  - {name: m, listen: 9100, builtin: metrics, protocol: udp}\n").message ==
        "builtin metrics is served over a stream (TCP or unix), not UDP: remove 'protocol: udp'");
  CHECK(Load("services:\n  - {name: m, listen: 9100, builtin: metrics}\n").problems.empty());
  CHECK(OnlyProblem("defaults: {builtin: echo}\n" + std::string(kMinimal)).message ==
        "'builtin' belongs to each service and cannot be set under defaults");
}

TEST_CASE("protocol and mode: udp is wait, tcp is nowait unless told") {
  LoadResult result = Load(R"(services:
  - {name: t, listen: 7000, program: /bin/cat}
  - {name: u, listen: 7000, program: /bin/cat, protocol: udp}
  - {name: w, listen: 7001, program: /bin/cat, mode: wait}
  - {name: v, listen: 7002, program: /bin/cat, protocol: udp, mode: wait}
)");
  REQUIRE_MESSAGE(result.problems.empty(), (result.problems.empty() ? "" : result.problems[0].ToString()));
  const auto& services = result.config->services;
  CHECK(services[0].protocol == Protocol::kTcp);
  CHECK(services[0].mode == Mode::kNowait);
  CHECK(services[1].protocol == Protocol::kUdp);
  CHECK(services[1].mode == Mode::kWait);
  CHECK(services[2].mode == Mode::kWait);
  CHECK(services[3].mode == Mode::kWait);
  CHECK(OnlyProblem("services:\n  - {name: a, listen: 7, program: /bin/cat, mode: sometimes}\n").message ==
        "mode must be nowait or wait, not 'sometimes'");
  CHECK(OnlyProblem("services:\n  - {name: a, listen: 7, program: /bin/cat, protocol: udp, mode: nowait}\n")
            .message.find("protocol udp needs mode wait") == 0);
  CHECK(OnlyProblem("services:\n  - {name: a, listen: 7, program: /bin/cat}\n"
                    "  - {name: b, listen: 7, program: /bin/cat, protocol: udp}\n"
                    "  - {name: c, listen: 7, program: /bin/cat, protocol: udp}\n")
            .message.find("listen address 7 is already used by service 'b'") == 0);
}

TEST_CASE("socket options are read, owners resolved at load") {
  LoadResult result = Load(R"(defaults: {keepalive: true, backlog: 64}
services:
  - name: sock
    listen: [7000, unix:/run/s.sock]
    program: /bin/cat
    ipv6_only: true
    nodelay: true
    reuseport: true
    freebind: true
    bind_interface: lo
    socket_mode: "0660"
    socket_owner: nobody
    socket_group: staff
  - {name: v4, listen: "127.0.0.1:7000", program: /bin/cat}
)");
  REQUIRE_MESSAGE(result.problems.empty(), (result.problems.empty() ? "" : result.problems[0].ToString()));
  const SocketOptions& socket = result.config->services[0].socket;
  CHECK(socket.backlog == 64);
  CHECK(socket.ipv6_only);
  CHECK(socket.keepalive);
  CHECK(socket.nodelay);
  CHECK(socket.reuseport);
  CHECK(socket.freebind);
  CHECK(socket.bind_interface == "lo");
  CHECK(socket.unix_mode == 0660);
  CHECK(socket.unix_owner == 65534u);
  CHECK(socket.unix_group == 50u);
  const SocketOptions& plain = result.config->services[1].socket;
  CHECK(plain.keepalive);
  CHECK_FALSE(plain.nodelay);
  CHECK(plain.backlog == 64);
  CHECK_FALSE(plain.unix_mode.has_value());
}

TEST_CASE("bad socket options are explained; ipv6_only frees the IPv4 half of a port") {
  auto message_for = [](const std::string& extra) {
    return OnlyProblem(std::string(kMinimal) + "    " + extra + "\n").message;
  };
  CHECK(message_for("backlog: 0") == "backlog must be a whole number of at least 1, not '0'");
  CHECK(message_for("nodelay: 1") == "nodelay must be true or false, not '1'");
  CHECK(message_for("socket_mode: 888") == "socket_mode must be octal, like 0660, not '888'");
  CHECK(message_for("socket_owner: ghost") ==
        "unknown user 'ghost' for socket_owner: create it or name an existing user");
  CHECK(message_for("socket_group: ghosts") ==
        "unknown group 'ghosts' for socket_group: create it or name an existing group");
  CHECK(message_for("bind_interface: averyveryverylongname").find("bind_interface must be an interface name") == 0);
  CHECK(OnlyProblem("services:\n  - {name: a, listen: 7000, program: /bin/cat}\n"
                    "  - {name: b, listen: \"127.0.0.1:7000\", program: /bin/cat}\n")
            .message.find("already used by service 'a'") != std::string::npos);
  CHECK(Load("services:\n  - {name: a, listen: 7000, program: /bin/cat, ipv6_only: true}\n"
             "  - {name: b, listen: \"127.0.0.1:7000\", program: /bin/cat}\n").problems.empty());
  CHECK(OnlyProblem("services:\n  - {name: a, listen: 7000, program: /bin/cat, ipv6_only: true}\n"
                    "  - {name: b, listen: \"[::1]:7000\", program: /bin/cat}\n")
            .message.find("already used by service 'a'") != std::string::npos);
}

TEST_CASE("--check finds what bind would refuse: a wildcard and a specific address on one port") {
  auto two = [](const std::string& a, const std::string& b, const std::string& extra = "",
                const std::string& protocol = "tcp") {
    return "services:\n  - {name: a, listen: \"" + a + "\", program: /bin/cat, protocol: " + protocol + extra +
           "}\n  - {name: b, listen: \"" + b + "\", program: /bin/cat, protocol: " + protocol + extra + "}\n";
  };
  // Before: these loaded, and the second bind failed at start.
  CHECK(OnlyProblem(two("0.0.0.0:7000", "127.0.0.1:7000")).message ==
        "listen address 127.0.0.1:7000 is already used by service 'a' at /etc/yinetd/test.yaml:2:5 (as "
        "0.0.0.0:7000); to give one address its own service, set reuseport: true on both");
  CHECK(OnlyProblem(two("127.0.0.1:7000", "0.0.0.0:7000", "", "udp")).message.find("already used") != std::string::npos);
  CHECK(OnlyProblem(two("[::]:7000", "[::1]:7000")).message.find("already used") != std::string::npos);
  // Different families, ports or protocols, or reuseport on both: fine.
  CHECK(Load(two("0.0.0.0:7000", "[::1]:7000")).problems.empty());
  CHECK(Load(two("0.0.0.0:7000", "127.0.0.1:7001")).problems.empty());
  CHECK(Load(two("127.0.0.1:7000", "127.0.0.2:7000")).problems.empty());
  CHECK(Load(two("0.0.0.0:7000", "127.0.0.1:7000", ", reuseport: true")).problems.empty());
  CHECK(Load(two("7000", "127.0.0.1:7000", ", reuseport: true")).problems.empty());
  // The same address stays a conflict even then.
  CHECK(OnlyProblem(two("127.0.0.1:7000", "127.0.0.1:7000", ", reuseport: true")).message.find("already used") != std::string::npos);
}

TEST_CASE("a v4-mapped IPv6 listen address is refused with the IPv4 form to write") {
  CHECK(OnlyProblem("services:\n  - {name: a, listen: \"[::ffff:127.0.0.1]:7000\", program: /bin/cat}\n")
            .message.find("'::ffff:127.0.0.1' is an IPv4 address in IPv6 form: write 127.0.0.1:7000") !=
        std::string::npos);
}

TEST_CASE("one unix socket written two ways is found as one") {
  for (const char* other : {"unix:/run//x.sock", "unix:/run/./x.sock", "unix://run/x.sock"}) {
    CAPTURE(other);
    CHECK(OnlyProblem("services:\n  - {name: a, listen: \"unix:/run/x.sock\", program: /bin/cat}\n"
                      "  - {name: b, listen: \"" + std::string(other) + "\", program: /bin/cat}\n")
              .message.find("listen address unix:/run/x.sock is already used by service 'a'") == 0);
  }
  CHECK(OnlyProblem("services:\n  - {name: a, listen: \"unix:/run/../x.sock\", program: /bin/cat}\n")
            .message.find("must not contain '..'") != std::string::npos);
  CHECK(OnlyProblem("services:\n  - {name: a, listen: \"unix:run/x.sock\", program: /bin/cat}\n")
            .message.find("must be absolute") != std::string::npos);
}

TEST_CASE("per-client limits and access lists are refused in mode wait, unless inherited") {
  CHECK(OnlyProblem("services:\n  - {name: u, listen: 7, program: /bin/cat, protocol: udp, allow: [127.0.0.1]}\n")
            .message == "allow does not apply in mode wait: the program meets its clients itself, yinetd never sees them");
  CHECK(OnlyProblem("services:\n  - {name: w, listen: 7, program: /bin/cat, mode: wait, max_connections: 3}\n")
            .message.find("max_connections does not apply in mode wait") == 0);
  CHECK(Load("defaults: {deny: [10.0.0.0/8], max_connections: 50}\n"
             "services:\n  - {name: u, listen: 7, program: /bin/cat, protocol: udp}\n").problems.empty());
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

TEST_CASE("log.target is stderr by default, or syslog") {
  CHECK(Load(kMinimal).config->log_output == log::Output::kStderr);
  LoadResult result = Load(std::string("log: {target: syslog}\n") + kMinimal);
  REQUIRE(result.config);
  CHECK(result.config->log_output == log::Output::kSyslog);
  CHECK(Load(std::string("log: {target: stderr}\n") + kMinimal).config->log_output ==
        log::Output::kStderr);
  CHECK(OnlyProblem(std::string("log: {target: journal}\n") + kMinimal).message ==
        "log.target must be stderr or syslog; not 'journal'");
}

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
  CHECK(message_for("timeout: 0") == "timeout must be a number of seconds from 0.001 to 604800 (7 days), "
                                     "like 10 or 0.5, not '0'; leave it out for no limit");
  CHECK(message_for("max_conections: 3") == "unknown key 'max_conections' in a service: did you mean 'max_connections'?");
}

TEST_CASE("absurd durations are refused with the allowed range, never wrapped") {
  auto message_for = [](const std::string& line) {
    FakeHost host;
    LoadResult result = LoadConfigText("services:\n  - name: a\n    listen: 7\n    program: /bin/cat\n    " + line + "\n",
                                       "f.yaml", host);
    REQUIRE(result.problems.size() == 1);
    return result.problems[0].message;
  };
  // Before: 1e300 seconds became a wrapped millisecond count, so the deadline
  // lay in the past and every program was killed at once.
  CHECK(message_for("timeout: 1e300") == "timeout must be a number of seconds from 0.001 to 604800 (7 days), "
                                         "like 10 or 0.5, not '1e300'; leave it out for no limit");
  CHECK(message_for("timeout: 0.0001").find("from 0.001") != std::string::npos);  // would round to 0 ms
  CHECK(message_for("timeout: 604801").find("to 604800") != std::string::npos);
  CHECK(message_for("timeout: inf").find("not 'inf'") != std::string::npos);
  CHECK(message_for("kill_grace: 9223372036854775807") ==
        "kill_grace must be a number of seconds from 0 to 3600 (1 hour), like 10 or 0.5, not '9223372036854775807'");
  CHECK(message_for("kill_grace: -1").find("from 0 to 3600") != std::string::npos);
  CHECK(OnlyProblem("shutdown_grace: 1e19\n" + std::string(kMinimal)).message ==
        "shutdown_grace must be a number of seconds from 0 to 3600 (1 hour), like 10 or 0.5, not '1e19'");
}

TEST_CASE("the largest durations allowed load exactly") {
  LoadResult result = Load("shutdown_grace: 3600\nservices:\n  - name: a\n    listen: 7\n    program: /bin/cat\n"
                           "    timeout: 604800\n    kill_grace: 3600\n");
  REQUIRE(result.config);
  CHECK(result.config->shutdown_grace == std::chrono::hours(1));
  CHECK(result.config->services[0].timeout == std::chrono::hours(7 * 24));
  CHECK(result.config->services[0].kill_grace == std::chrono::hours(1));
  result = Load("services:\n  - name: a\n    listen: 7\n    program: /bin/cat\n    timeout: 0.001\n    kill_grace: 0\n");
  REQUIRE(result.config);
  CHECK(result.config->services[0].timeout == std::chrono::milliseconds(1));
  CHECK(result.config->services[0].kill_grace == std::chrono::milliseconds(0));
}

}  // namespace
}  // namespace yinetd::config

namespace yinetd::config {
namespace {

TEST_CASE("include: services from conf.d files load in sorted order, with the main file's defaults") {
  FakeHost host;
  host.files["/etc/yinetd/yinetd.yaml"] = "include: conf.d/*.yaml\nwatch: true\ndefaults: {stderr: null}\n"
                                          "services:\n  - {name: main, listen: 7000, program: /bin/cat}\n";
  host.files["/etc/yinetd/conf.d/b.yaml"] = "services:\n  - {name: b, listen: 7002, program: /bin/cat}\n";
  host.files["/etc/yinetd/conf.d/a.yaml"] = "services:\n  - {name: a, listen: 7001, program: /bin/cat}\n";
  host.files["/etc/yinetd/conf.d/empty.yaml"] = "";
  host.files["/etc/yinetd/conf.d/notes.txt"] = "not yaml: [";
  LoadResult result = LoadConfigFile("/etc/yinetd/yinetd.yaml", host);
  REQUIRE_MESSAGE(result.problems.empty(), (result.problems.empty() ? "" : result.problems[0].ToString()));
  const Config& config = *result.config;
  REQUIRE(config.services.size() == 3);
  CHECK(config.services[0].name == "main");
  CHECK(config.services[1].name == "a");
  CHECK(config.services[2].name == "b");
  CHECK(config.services[1].stderr_mode == StderrMode::kNull);
  CHECK(config.services[1].where.file == "/etc/yinetd/conf.d/a.yaml");
  CHECK(config.watch);
  CHECK(config.files == std::vector<std::string>{"/etc/yinetd/yinetd.yaml", "/etc/yinetd/conf.d/a.yaml",
                                                 "/etc/yinetd/conf.d/b.yaml", "/etc/yinetd/conf.d/empty.yaml"});
}

TEST_CASE("include: errors name the included file; duplicates name both places") {
  FakeHost host;
  host.files["/etc/yinetd/yinetd.yaml"] = "include: [conf.d/*.yaml, extra.yaml]\n"
                                          "services:\n  - {name: web, listen: 7000, program: /bin/cat}\n";
  host.files["/etc/yinetd/conf.d/a.yaml"] = "services:\n  - name: web\n    listen: 7001\n    program: /bin/cat\n"
                                            "  - name: typo\n    lisen: 7003\n";
  host.files["/etc/yinetd/conf.d/b.yaml"] = "log: {level: debug}\n";
  LoadResult result = LoadConfigFile("/etc/yinetd/yinetd.yaml", host);
  std::vector<std::string> texts;
  for (const auto& p : result.problems) texts.push_back(p.ToString());
  std::string all;
  for (const auto& t : texts) all += t + "\n";
  REQUIRE_MESSAGE(texts.size() == 6, all);
  CHECK(texts[5].find("/etc/yinetd/yinetd.yaml:1:26: include /etc/yinetd/extra.yaml: no such file") == 0);
  CHECK(texts[0] == "/etc/yinetd/conf.d/a.yaml:2:5: duplicate service name 'web': it is already used at /etc/yinetd/yinetd.yaml:3:5");
  CHECK(texts[1] == "/etc/yinetd/conf.d/a.yaml:5:5: service is missing 'listen'");
  CHECK(texts[3] == "/etc/yinetd/conf.d/a.yaml:6:5: unknown key 'lisen' in a service: did you mean 'listen'?");
  CHECK(texts[4].find("/etc/yinetd/conf.d/b.yaml:1:1: only 'services:' may appear in an included file") == 0);
  CHECK(texts[2] == "/etc/yinetd/conf.d/a.yaml:5:5: service is missing 'program' (or 'builtin' for a built-in service)");
}

TEST_CASE("include of a missing literal file is an error; an empty glob is not") {
  FakeHost host;
  host.files["/etc/yinetd/yinetd.yaml"] = "include: [missing.yaml, conf.d/*.yaml]\n"
                                          "services:\n  - {name: web, listen: 7000, program: /bin/cat}\n";
  LoadResult result = LoadConfigFile("/etc/yinetd/yinetd.yaml", host);
  REQUIRE(result.problems.size() == 1);
  CHECK(result.problems[0].ToString() ==
        "/etc/yinetd/yinetd.yaml:1:11: include /etc/yinetd/missing.yaml: no such file; fix the path or use a glob like conf.d/*.yaml");
}

}  // namespace
}  // namespace yinetd::config

namespace yinetd::config {
namespace {

std::string ProxyService(const std::string& keys, const std::string& listen = "127.0.0.1:2222") {
  return "services:\n  - name: gate\n    listen: " + listen + "\n    program: /bin/cat\n" + keys;
}

TEST_CASE("proxy_* keys are read, with proxy_timeout 3 and proxy_local serve by default") {
  LoadResult result = Load(ProxyService("    proxy_protocol: v2\n    proxy_from: [10.0.0.0/24, 127.0.0.1]\n"));
  REQUIRE(result.problems.empty());
  const ProxySettings& proxy = result.config->services[0].proxy;
  CHECK(proxy.protocol == ProxyProtocol::kV2);
  REQUIRE(proxy.from.size() == 2);
  CHECK(proxy.from[0].ToString() == "10.0.0.0/24");
  CHECK(proxy.timeout == std::chrono::seconds(3));
  CHECK(proxy.local == ProxyLocal::kServe);
  result = Load(ProxyService("    proxy_protocol: any\n    proxy_from: 10.0.0.1\n    proxy_timeout: 0.5\n"
                             "    proxy_local: close\n"));
  REQUIRE(result.problems.empty());
  const ProxySettings& other = result.config->services[0].proxy;
  CHECK(other.protocol == ProxyProtocol::kAny);
  CHECK(other.timeout == std::chrono::milliseconds(500));
  CHECK(other.local == ProxyLocal::kClose);
  CHECK(Load(ProxyService("    proxy_protocol: v1\n    proxy_from: ::1\n")).config->services[0].proxy.protocol ==
        ProxyProtocol::kV1);
  CHECK_FALSE(Load(kMinimal).config->services[0].proxy.Enabled());
}

TEST_CASE("proxy_* keys apply from defaults to every service") {
  LoadResult result = Load(R"(defaults:
  proxy_protocol: v2
  proxy_from: [192.0.2.0/24]
  proxy_timeout: 2
services:
  - name: a
    listen: 127.0.0.1:2222
    program: /bin/cat
)");
  REQUIRE(result.problems.empty());
  CHECK(result.config->services[0].proxy.protocol == ProxyProtocol::kV2);
  CHECK(result.config->services[0].proxy.timeout == std::chrono::seconds(2));
}

TEST_CASE("proxy_protocol without proxy_from is an error at proxy_protocol") {
  Problem problem = OnlyProblem(ProxyService("    proxy_protocol: v2\n"));
  CHECK(problem.where.line == 5);
  CHECK(problem.where.column == 21);
  CHECK(problem.message.find("needs proxy_from") != std::string::npos);
}

TEST_CASE("proxy_protocol with udp, with mode wait, or on a unix socket is an error") {
  Problem udp = OnlyProblem(ProxyService("    protocol: udp\n    proxy_protocol: v2\n    proxy_from: 10.0.0.1\n"));
  CHECK(udp.message.find("not protocol udp") != std::string::npos);
  Problem wait = OnlyProblem(ProxyService("    mode: wait\n    proxy_protocol: v2\n    proxy_from: 10.0.0.1\n"));
  CHECK(wait.message.find("needs mode nowait") != std::string::npos);
  Problem unix_socket =
      OnlyProblem(ProxyService("    proxy_protocol: v2\n    proxy_from: 10.0.0.1\n", "unix:/run/gate.sock"));
  CHECK(unix_socket.message.find("IP listen addresses") != std::string::npos);
}

TEST_CASE("bad proxy_* values are explained") {
  CHECK(OnlyProblem(ProxyService("    proxy_protocol: v3\n    proxy_from: 10.0.0.1\n")).message ==
        "proxy_protocol must be v1, v2 or any (leave it out for none), not 'v3'");
  CHECK(OnlyProblem(ProxyService("    proxy_protocol: v2\n    proxy_from: 10.0.0.1\n    proxy_timeout: 0\n"))
            .message.find("proxy_timeout must be a number of seconds from 0.001 to 60") != std::string::npos);
  CHECK(OnlyProblem(ProxyService("    proxy_protocol: v2\n    proxy_from: 10.0.0.1\n    proxy_timeout: 61\n"))
            .message.find("from 0.001 to 60") != std::string::npos);
  CHECK(OnlyProblem(ProxyService("    proxy_protocol: v2\n    proxy_from: 10.0.0.1\n    proxy_local: drop\n"))
            .message == "proxy_local must be serve or close, not 'drop'");
  CHECK(OnlyProblem(ProxyService("    proxy_protocol: v2\n    proxy_from: 10.0.0.1/8\n"))
            .message.find("proxy_from: ") == 0);
}

TEST_CASE("a proxy_* key written in a service without proxy_protocol is an error") {
  Problem problem = OnlyProblem(ProxyService("    proxy_from: 10.0.0.1\n"));
  CHECK(problem.message == "proxy_from needs proxy_protocol: v1, v2 or any");
}

TEST_CASE("unknown keys from xinetd, inetd and tcpserver name the yinetd key") {
  auto message = [](const std::string& line) {
    return OnlyProblem("services:\n  - name: a\n    listen: 7\n    program: /bin/cat\n    " + line + "\n").message;
  };
  CHECK(message("server: /bin/cat") == "unknown key 'server' in a service: yinetd calls it 'program'");
  CHECK(message("only_from: 10.0.0.0/8") == "unknown key 'only_from' in a service: yinetd calls it 'allow'");
  CHECK(message("instances: 5") == "unknown key 'instances' in a service: yinetd calls it 'max_connections'");
  CHECK(message("server_args: [x]") == "unknown key 'server_args' in a service: yinetd calls it 'args'");
  CHECK(message("cps: 5") == "unknown key 'cps' in a service: yinetd calls it 'max_rate'");
  CHECK(message("uid: nobody") == "unknown key 'uid' in a service: yinetd calls it 'user'");
  CHECK(message("disable: yes") ==
        "unknown key 'disable' in a service: to turn a service off, remove it or comment it out");
  CHECK(OnlyProblem("defaults:\n  only_from: 10.0.0.0/8\nservices:\n  - {name: a, listen: 7, program: /bin/cat}\n")
            .message == "unknown key 'only_from' under defaults: yinetd calls it 'allow'");
}

TEST_CASE("a relative program gets a hint that names only paths that exist") {
  auto message = [](const std::string& program) {
    return OnlyProblem("services:\n  - {name: a, listen: 7, program: " + program + "}\n").message;
  };
  CHECK(message("cat") == "program 'cat' is not an absolute path: write the full path, like /bin/cat");
  CHECK(message("bin/cat") == "program 'bin/cat' is not an absolute path: write the program's full path "
                              "(starting with /), or ./PATH for a path relative to this file");
  CHECK(message("nosuch") == "program 'nosuch' is not an absolute path: write the program's full path "
                             "(starting with /), or ./PATH for a path relative to this file");
  FakeHost host;
  host.executables.insert("/etc/yinetd/bin/tool");
  CHECK(OnlyProblem("services:\n  - {name: a, listen: 7, program: bin/tool}\n", host).message ==
        "program 'bin/tool' is not an absolute path: write ./bin/tool for /etc/yinetd/bin/tool, relative to this file");
}

TEST_CASE("a tab in the indentation is named as such, in the main file and in an included one") {
  Problem tab = OnlyProblem("services:\n\t- name: a\n");
  CHECK(tab.where.ToString() == "/etc/yinetd/test.yaml:2:1");
  CHECK(tab.message == "this line is indented with a tab: YAML indents with spaces only; replace the tab with spaces");
  FakeHost host;
  host.files["/etc/yinetd/conf.d/a.yaml"] = "services:\n  - name: a\n  \tlisten: 7\n";
  Problem included = OnlyProblem("include: conf.d/*.yaml\nservices:\n  - {name: b, listen: 8, program: /bin/cat}\n", host);
  CHECK(included.where.ToString() == "/etc/yinetd/conf.d/a.yaml:3:3");
  // A tab inside a value is fine.
  CHECK(Load("services:\n  - {name: a, listen: 7, program: /bin/cat, args: [\"a\tb\"]}\n").config);
}

const char* kTlsService = R"(services:
  - name: s
    listen: 127.0.0.1:7443
    program: /bin/cat
    tls:
      cert: certs/server.pem
      key: /etc/k.key
)";

TEST_CASE("tls: every key is read; a relative path is relative to the config file") {
  LoadResult result = Load(std::string(kTlsService) + R"(      client_ca: /etc/ca.pem
      client_cert: require
      allow_client: ["CN=backup-*", "URI:spiffe://corp/*"]
      min_version: "1.3"
      alpn: [h2, http/1.1]
      handshake_timeout: 2.5
      sni:
        - names: ["*.example.org"]
          cert: /etc/org.pem
          key: /etc/org.key
)");
  REQUIRE(result.config);
  const TlsConfig& tls = *result.config->services[0].tls;
  CHECK(tls.cert == "/etc/yinetd/certs/server.pem");
  CHECK(tls.key == "/etc/k.key");
  CHECK(tls.client_cert == ClientCert::kRequire);
  CHECK(tls.allow_client.size() == 2);
  CHECK(tls.min_version == "1.3");
  CHECK(tls.alpn == std::vector<std::string>{"h2", "http/1.1"});
  CHECK(tls.handshake_timeout == std::chrono::milliseconds(2500));
  REQUIRE(tls.sni.size() == 1);
  CHECK(tls.sni[0].names == std::vector<std::string>{"*.example.org"});
  CHECK(tls.key_where.line == 7);
  CHECK(tls.key_where.column == 12);
  CHECK(tls.Files().size() == 5);
}

TEST_CASE("tls: bad values are named at their line and column") {
  CHECK(OnlyProblem(std::string(kTlsService) + "      client_cert: sometimes\n").ToString() ==
        "/etc/yinetd/test.yaml:8:20: tls.client_cert must be none, optional or require, not 'sometimes'");
  CHECK(OnlyProblem(std::string(kTlsService) + "      min_version: \"1.1\"\n").where.line == 8);
  CHECK(OnlyProblem(std::string(kTlsService) + "      sni:\n        - cert: /a\n          key: /b\n").message ==
        "a tls.sni entry needs names: the server names it answers, like [\"*.example.org\"]");
  CHECK(OnlyProblem(std::string(kTlsService) + "      client_cert: optional\n").message.find("needs client_ca") !=
        std::string::npos);
  CHECK(OnlyProblem(std::string(kTlsService) + "      client_ca: /ca\n      client_cert: require\n"
                                              "      allow_client: [\"O=x\"]\n").message.find("CN=, DNS: or URI:") !=
        std::string::npos);
  CHECK(OnlyProblem(std::string(kTlsService) + "      crt: /x\n").message ==
        "unknown key 'crt' under tls: did you mean 'cert'?");
  CHECK(OnlyProblem(R"(services:
  - name: s
    listen: 127.0.0.1:7443
    program: /bin/cat
    tls: {key: /k}
)").message.find("tls is missing 'cert'") != std::string::npos);
}

TEST_CASE("tls with protocol udp or mode wait is an error naming the fix; from defaults it is left out") {
  CHECK(OnlyProblem(std::string(kTlsService) + "    mode: wait\n").message.find("tls needs mode nowait") == 0);
  CHECK(OnlyProblem(std::string(kTlsService) + "    protocol: udp\n").message.find("tls needs a stream") == 0);
  LoadResult result = Load(R"(defaults:
  tls: {cert: /c.pem, key: /k.pem}
services:
  - name: udp
    listen: 127.0.0.1:7000
    program: /bin/cat
    protocol: udp
  - name: tcp
    listen: 127.0.0.1:7001
    program: /bin/cat
)");
  REQUIRE(result.config);
  CHECK_FALSE(result.config->services[0].tls);
  CHECK(result.config->services[1].tls->cert == "/c.pem");
}

}  // namespace
}  // namespace yinetd::config
