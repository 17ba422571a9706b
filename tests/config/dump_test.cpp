#include "config/dump.h"

#include <doctest/doctest.h>

#include "config/fake_host.h"
#include "config/loader.h"

namespace yinetd::config {
namespace {

ServiceConfig WithoutTlsPlaces(ServiceConfig service);

// Loads `text`, dumps it, loads the dump: both must load, to the same values.
void CheckRoundTrip(const std::string& text, FakeHost host = FakeHost()) {
  host.files["/etc/yinetd/conf.d/extra.yaml"] =
      "services:\n  - {name: extra, listen: \"unix:/run/extra.sock\", program: /bin/cat, socket_mode: \"0660\"}\n";
  LoadResult first = LoadConfigText(text, "/etc/yinetd/yinetd.yaml", host);
  for (const Problem& problem : first.problems) MESSAGE(problem.ToString());
  REQUIRE(first.config);
  std::string dumped = DumpYaml(*first.config);
  LoadResult second = LoadConfigText(dumped, "/tmp/dump.yaml", host);
  for (const Problem& problem : second.problems) MESSAGE(problem.ToString());
  INFO(dumped);
  REQUIRE(second.config);
  const Config& a = *first.config;
  const Config& b = *second.config;
  CHECK(a.watch == b.watch);
  CHECK(a.log_level == b.log_level);
  CHECK(a.log_output == b.log_output);
  CHECK(a.shutdown_grace == b.shutdown_grace);
  CHECK(a.max_children == b.max_children);
  CHECK(a.control_socket == b.control_socket);
  REQUIRE(a.services.size() == b.services.size());
  for (size_t i = 0; i < a.services.size(); ++i) {
    INFO(a.services[i].name);
    CHECK(WithoutTlsPlaces(a.services[i]).SameSettings(WithoutTlsPlaces(b.services[i])));
  }
}

// `service` with its tls keys' FILE:LINE:COLUMN cleared: the dump puts
// them at other lines of another file, which is not a change of setting.
ServiceConfig WithoutTlsPlaces(ServiceConfig service) {
  if (!service.tls) return service;
  TlsConfig& tls = *service.tls;
  tls.where = tls.cert_where = tls.key_where = tls.client_ca_where = Location{};
  for (TlsSni& sni : tls.sni) sni.where = sni.cert_where = sni.key_where = Location{};
  return service;
}

std::string Dumped(const std::string& text, FakeHost host = FakeHost()) {
  LoadResult loaded = LoadConfigText(text, "/etc/yinetd/yinetd.yaml", host);
  for (const Problem& problem : loaded.problems) MESSAGE(problem.ToString());
  REQUIRE(loaded.config);
  return DumpYaml(*loaded.config);
}

TEST_CASE("a minimal config dumps every default, and loads again to the same config") {
  const char* text = "services:\n  - {name: echo, listen: 7007, program: /bin/cat}\n";
  CheckRoundTrip(text);
  FakeHost host;
  LoadResult loaded = LoadConfigText(text, "/etc/yinetd/yinetd.yaml", host);
  REQUIRE(loaded.config);
  std::string dumped = DumpYaml(*loaded.config);
  for (std::string key : {"shutdown_grace: 10", "control: /run/yinetd/control", "backlog: 1024",
                          "mode: nowait", "protocol: tcp", "stderr: log", "kill_grace: 2", "overflow: refuse",
                          "# max_connections: no limit", "# timeout: none", "chdir: /"}) {
    CHECK_MESSAGE(dumped.find(key) != std::string::npos, key);
  }
}

TEST_CASE("defaults are merged and includes inlined") {
  const char* text = R"(defaults:
  user: nobody
  max_rate: 2.5
  env: {LANG: C}
include: conf.d/*.yaml
log: {level: warn, target: syslog}
shutdown_grace: 0.25
max_children: 7
control: false
watch: true
services:
  - name: echo
    listen: ["127.0.0.1:7", "[::1]:7"]
    program: /bin/cat
    args: ["-u", "quote \" and \\ backslash", "#not a comment"]
    env: {GREETING: "hello: world"}
    group: staff
)";
  CheckRoundTrip(text);
  FakeHost host;
  host.files["/etc/yinetd/conf.d/extra.yaml"] = "services: []\n";
  LoadResult loaded = LoadConfigText(text, "/etc/yinetd/yinetd.yaml", host);
  REQUIRE(loaded.config);
  std::string dumped = DumpYaml(*loaded.config);
  INFO(dumped);
  CHECK(dumped.find("defaults") == std::string::npos);
  CHECK(dumped.find("include") == std::string::npos);
  CHECK(dumped.find("user: nobody") != std::string::npos);
  CHECK(dumped.find("# uid 65534, gid 50") != std::string::npos);
}

TEST_CASE("every kind of service survives the round trip") {
  CheckRoundTrip(R"(services:
  - name: daytime
    listen: 127.0.0.1:13
    builtin: daytime
    protocol: udp
  - name: wait
    listen: 127.0.0.1:9000
    program: /bin/sh
    mode: wait
    stderr: null
    source_prefix_v4: 24
  - name: full
    listen: 9001
    program: /bin/sh
    argv0: shell
    chroot: /srv/jail
    chdir: /home
    umask: "027"
    nice: -5
    rlimits: {nofile: 64, as: 1G, core: unlimited}
    no_new_privs: true
    clear_env: true
    backlog: 16
    ipv6_only: true
    keepalive: true
    nodelay: true
    reuseport: true
    freebind: true
    bind_interface: lo
    max_connections: 5
    max_per_source: 2
    max_rate: 0.1
    max_rate_per_source: 1000000
    source_prefix_v6: 48
    overflow: queue
    allow: [10.0.0.0/8, "::1"]
    deny: 10.1.0.0/16
    refuse_message: "busy\n"
    timeout: 0.001
    kill_grace: 1.5
    stderr: socket
)",
                [] {
                  FakeHost host;
                  host.executables.insert("/srv/jail/bin/sh");
                  return host;
                }());
}

TEST_CASE("sandbox keys and user: dynamic survive the round trip") {
  CheckRoundTrip(R"(dynamic_users: 61000-61999
services:
  - name: boxed
    listen: 127.0.0.1:7010
    program: /bin/cat
    user: dynamic
    sandbox:
      private_network: true
      private_tmp: true
      read_only: true
      writable: [/var/lib/notes]
      hidden: [/home, /root]
      system_calls: service
      address_families: [unix, inet, inet6]
      namespaces: [pid, ipc, uts]
      memory_max: 256M
      tasks_max: 64
      cpu_max: 50%
  - name: listed
    listen: 127.0.0.1:7011
    program: /bin/cat
    sandbox: {system_calls: [read, write, exit_group], address_families: [netlink, packet, vsock]}
)");
}

TEST_CASE("proxy_* keys survive the round trip") {
  CheckRoundTrip(R"(services:
  - name: gate
    listen: 127.0.0.1:2222
    program: /bin/cat
    proxy_protocol: v2
    proxy_from: [10.0.0.0/24, "::1"]
    proxy_timeout: 0.5
    proxy_local: close
  - name: any
    listen: 127.0.0.1:2223
    program: /bin/cat
    proxy_protocol: any
    proxy_from: 192.0.2.1
)");
}

TEST_CASE("socket_owner and socket_group are dumped as the names written, and load again") {
  const char* text = R"(services:
  - name: local
    listen: "unix:/run/local.sock"
    program: /bin/cat
    socket_mode: "0660"
    socket_owner: nobody
    socket_group: staff
)";
  CheckRoundTrip(text);
  std::string dumped = Dumped(text);
  INFO(dumped);
  CHECK(dumped.find("socket_owner: nobody\n") != std::string::npos);
  CHECK(dumped.find("# socket_owner: uid 65534\n") != std::string::npos);
  CHECK(dumped.find("socket_group: staff\n") != std::string::npos);
  CHECK(dumped.find("# socket_group: gid 50\n") != std::string::npos);
}

TEST_CASE("a TLS service's keys are dumped, defaults included, and load again") {
  const char* text = R"(services:
  - name: plain
    listen: 127.0.0.1:7443
    program: /bin/cat
    tls: {cert: certs/server.pem, key: /etc/k.key}
  - name: full
    listen: 127.0.0.1:7444
    program: /bin/cat
    tls:
      cert: /etc/c.pem
      key: /etc/c.key
      client_ca: /etc/ca.pem
      client_cert: require
      allow_client: ["CN=backup-*", "URI:spiffe://corp/*"]
      min_version: "1.3"
      alpn: [h2, http/1.1]
      handshake_timeout: 2.5
      sni:
        - names: ["*.example.org", example.org]
          cert: /etc/org.pem
          key: /etc/org.key
)";
  CheckRoundTrip(text);
  std::string dumped = Dumped(text);
  INFO(dumped);
  // The defaults of the short one, shown.
  for (std::string key : {"cert: /etc/yinetd/certs/server.pem", "client_cert: none", "min_version: 1.2",
                          "handshake_timeout: 10", "client_cert: require", "min_version: 1.3",
                          "handshake_timeout: 2.5", "client_ca: /etc/ca.pem", "cert: /etc/org.pem"}) {
    CHECK_MESSAGE(dumped.find(key) != std::string::npos, key);
  }
}

}  // namespace
}  // namespace yinetd::config
