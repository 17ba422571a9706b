#include "spawn/child_env.h"

#include <doctest/doctest.h>

#include <algorithm>

namespace yinetd::spawn {
namespace {

ServiceEnv Service() {
  ServiceEnv service;
  service.name = "echo";
  return service;
}

const std::vector<std::string> kArgs{"-u", "two words"};

Connection TcpConnection() {
  return Connection{net::Endpoint{"127.0.0.1", 40000, false}, net::Endpoint{"127.0.0.1", 7007, false}};
}

TEST_CASE("argv is the program path then args") {
  CHECK(BuildArgv("/bin/cat", std::nullopt, kArgs) == std::vector<std::string>{"/bin/cat", "-u", "two words"});
}

TEST_CASE("argv0 replaces argv[0] only") {
  CHECK(BuildArgv("/bin/cat", "kitty", kArgs) == std::vector<std::string>{"kitty", "-u", "two words"});
}

TEST_CASE("clear_env leaves only the service's env") {
  ServiceEnv service = Service();
  service.clear_env = true;
  CHECK(BuildEnv(service, TcpConnection()).empty());
  service.env = {{"A", "1"}, {"PATH", "/bin"}};
  CHECK(BuildEnv(service, TcpConnection()) == std::vector<std::string>{"A=1", "PATH=/bin"});
}

TEST_CASE("a unix peer's credentials get the UCSPI-UNIX names") {
  Connection unix_peer{net::Endpoint{"", 0, true}, net::Endpoint{"/run/x.sock", 0, true},
                       net::PeerCredentials{1234, 1000, 100}};
  std::vector<std::string> env = BuildEnv(Service(), unix_peer);
  CHECK(std::vector<std::string>(env.begin(), env.begin() + 4) ==
        std::vector<std::string>{"PROTO=UNIX", "UNIXREMOTEUID=1000", "UNIXREMOTEGID=100", "UNIXREMOTEPID=1234"});
  unix_peer.credentials.reset();
  CHECK(BuildEnv(Service(), unix_peer)[1] == "YINETD_SERVICE=echo");
}

TEST_CASE("wait mode has no peer: PROTO names the protocol, or UNIX for a unix socket") {
  ServiceEnv service = Service();
  service.datagram = true;
  service.env = {{"A", "1"}};
  net::Address inet = std::get<net::Address>(net::ParseAddress("127.0.0.1:7"));
  net::Address unix_socket = std::get<net::Address>(net::ParseAddress("unix:/run/x.sock"));
  CHECK(BuildWaitEnv(service, inet) == std::vector<std::string>{"PROTO=UDP", "YINETD_SERVICE=echo",
                                                                std::string("PATH=") + kDefaultPath, "A=1"});
  service.datagram = false;
  CHECK(BuildWaitEnv(service, inet)[0] == "PROTO=TCP");
  CHECK(BuildWaitEnv(service, unix_socket)[0] == "PROTO=UNIX");
  service.clear_env = true;
  CHECK(BuildWaitEnv(service, inet) == std::vector<std::string>{"A=1"});
}

TEST_CASE("a TCP connection gets the UCSPI-TCP and systemd names") {
  std::vector<std::string> env = BuildEnv(Service(), TcpConnection());
  CHECK(env == std::vector<std::string>{
                   "PROTO=TCP",
                   "TCPREMOTEIP=127.0.0.1",
                   "TCPREMOTEPORT=40000",
                   "TCPLOCALIP=127.0.0.1",
                   "TCPLOCALPORT=7007",
                   "REMOTE_ADDR=127.0.0.1",
                   "REMOTE_PORT=40000",
                   "YINETD_SERVICE=echo",
                   std::string("PATH=") + kDefaultPath,
               });
}

TEST_CASE("IPv6 peers keep their plain address") {
  Connection c{net::Endpoint{"::1", 5, false}, net::Endpoint{"::1", 6, false}};
  std::vector<std::string> env = BuildEnv(Service(), c);
  CHECK(std::count(env.begin(), env.end(), "TCPREMOTEIP=::1") == 1);
  CHECK(std::count(env.begin(), env.end(), "TCPLOCALPORT=6") == 1);
}

TEST_CASE("the service's env comes last and overrides PATH") {
  ServiceEnv service = Service();
  service.env = {{"PATH", "/opt/bin"}, {"LANG", "C"}, {"EMPTY", ""}};
  std::vector<std::string> env = BuildEnv(service, TcpConnection());
  CHECK(std::count_if(env.begin(), env.end(), [](auto& e) { return e.rfind("PATH=", 0) == 0; }) == 1);
  CHECK(env[env.size() - 3] == "PATH=/opt/bin");
  CHECK(env[env.size() - 2] == "LANG=C");
  CHECK(env.back() == "EMPTY=");
}

TEST_CASE("a unix peer gets PROTO=UNIX and no TCP names") {
  Connection c{net::Endpoint{"", 0, true}, net::Endpoint{"/run/x.sock", 0, true}};
  std::vector<std::string> env = BuildEnv(Service(), c);
  CHECK(env.front() == "PROTO=UNIX");
  CHECK(std::none_of(env.begin(), env.end(), [](auto& e) { return e.rfind("TCP", 0) == 0; }));
}

TEST_CASE("exec arrays point into the strings and end in NULL") {
  std::vector<std::string> strings{"a", "bc"};
  std::vector<char*> array = ToExecArray(strings);
  REQUIRE(array.size() == 3);
  CHECK(std::string(array[0]) == "a");
  CHECK(std::string(array[1]) == "bc");
  CHECK(array[2] == nullptr);
}

}  // namespace
}  // namespace yinetd::spawn

namespace yinetd::spawn {
namespace {

bool Has(const std::vector<std::string>& env, const std::string& entry) {
  return std::find(env.begin(), env.end(), entry) != env.end();
}

bool HasName(const std::vector<std::string>& env, const std::string& name) {
  return std::any_of(env.begin(), env.end(), [&](const std::string& e) { return e.rfind(name + "=", 0) == 0; });
}

TEST_CASE("behind a balancer: the header's addresses, the balancer in TCPPROXYIP/PORT, and the TLVs") {
  ServiceEnv service;
  service.name = "gate";
  Connection connection{net::Endpoint{"192.0.2.7", 40000, false}, net::Endpoint{"198.51.100.1", 2222, false}};
  connection.proxy = net::Endpoint{"10.0.0.2", 51000, false};
  connection.tlvs.alpn = "h2";
  connection.tlvs.authority = "www.example";
  connection.tlvs.unique_id = std::string("id\0\n$(x)", 8);
  connection.tlvs.ssl_version = "TLSv1.3";
  connection.tlvs.ssl_cn = "Jane Doe";
  connection.tlvs.ssl_cipher = "TLS_AES_128_GCM_SHA256";
  std::vector<std::string> env = BuildEnv(service, connection);
  for (const char* entry : {"TCPREMOTEIP=192.0.2.7", "TCPREMOTEPORT=40000", "REMOTE_ADDR=192.0.2.7",
                            "REMOTE_PORT=40000", "TCPLOCALIP=198.51.100.1", "TCPLOCALPORT=2222",
                            "TCPPROXYIP=10.0.0.2", "TCPPROXYPORT=51000", "PROXY_ALPN=h2",
                            "PROXY_AUTHORITY=www.example", "PROXY_UNIQUE_ID=id%00%0A%24%28x%29",
                            "PROXY_SSL_VERSION=TLSv1.3", "PROXY_SSL_CN=Jane%20Doe",
                            "PROXY_SSL_CIPHER=TLS_AES_128_GCM_SHA256"}) {
    CAPTURE(entry);
    CHECK(Has(env, entry));
  }
}

TEST_CASE("without a balancer, or a header without TLVs, no TCPPROXY* or PROXY_* variables") {
  ServiceEnv service;
  Connection direct{net::Endpoint{"127.0.0.1", 1, false}, net::Endpoint{"127.0.0.1", 2, false}};
  std::vector<std::string> env = BuildEnv(service, direct);
  CHECK_FALSE(HasName(env, "TCPPROXYIP"));
  CHECK_FALSE(HasName(env, "PROXY_ALPN"));
  direct.proxy = net::Endpoint{"10.0.0.2", 3, false};
  env = BuildEnv(service, direct);
  CHECK(Has(env, "TCPPROXYIP=10.0.0.2"));
  CHECK_FALSE(HasName(env, "PROXY_ALPN"));
  CHECK_FALSE(HasName(env, "PROXY_SSL_CN"));
}

TEST_CASE("EscapeEnvValue keeps safe bytes and percent-encodes the rest, '%' included") {
  CHECK(EscapeEnvValue("a-Z_0.9:/@+=,") == "a-Z_0.9:/@+=,");
  CHECK(EscapeEnvValue("100%") == "100%25");
  CHECK(EscapeEnvValue("`;|&<>'\"\\ ") == "%60%3B%7C%26%3C%3E%27%22%5C%20");
  CHECK(EscapeEnvValue("\xff\x80") == "%FF%80");
  CHECK(EscapeEnvValue("") == "");
}

}  // namespace
}  // namespace yinetd::spawn
