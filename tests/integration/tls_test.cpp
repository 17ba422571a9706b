// End to end: TLS (issue 12). Each case makes its own ECDSA P-256
// certificates (make_pki.sh, with the openssl command line) and talks to
// the real yinetd with Python's ssl module (tls_client.py) or
// `openssl s_client`.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "integration/harness.h"
#include "sandbox/probe.h"

namespace yinetd::testing {
namespace {

std::string Source(const std::string& relative) {
  const char* root = std::getenv("YINETD_SOURCE_ROOT");
  return std::string(root != nullptr ? root : ".") + "/" + relative;
}

// A temp dir with the test PKI in it, removed afterwards.
class Pki {
 public:
  Pki() {
    char pattern[] = "/tmp/yinetd-pki.XXXXXX";
    dir_ = mkdtemp(pattern);
    auto [code, out] = RunCommand("timeout 60 bash " + Source("tests/integration/make_pki.sh") + " " + dir_);
    REQUIRE(code == 0);
  }
  ~Pki() { std::filesystem::remove_all(dir_); }
  std::string operator/(const std::string& name) const { return dir_ + "/" + name; }
  const std::string& Dir() const { return dir_; }

 private:
  std::string dir_;
};

std::string TlsBlock(const Pki& pki, const std::string& extra = "", const std::string& cert = "server") {
  return "    tls:\n      cert: " + pki / (cert + ".pem") + "\n      key: " + pki / (cert + ".key") + "\n" + extra;
}

std::string Config(const std::string& services, const std::string& top = "") {
  return top + "services:\n" + services;
}

// Runs tls_client.py; returns its JSON line.
std::string Client(const Pki& pki, uint16_t port, const std::string& options) {
  auto [code, out] = RunCommand("timeout 90 python3 " + Source("tests/integration/tls_client.py") +
                                " --port " + std::to_string(port) + " --ca " + pki / "ca.pem" + " " + options);
  CHECK(code == 0);
  return out;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool Has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Empty if this kernel does TLS: OpenSSL asks for it the same way, by
// giving a connected TCP socket the "tls" upper-layer protocol (which also
// loads the module when it can be loaded). Otherwise why not.
std::string WhyNoKernelTls() {
  UniqueFd listener(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (bind(listener.Get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      listen(listener.Get(), 1) != 0 ||
      getsockname(listener.Get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return "no loopback socket to probe kernel TLS with";
  }
  UniqueFd client = ConnectTcp("127.0.0.1", ntohs(address.sin_port));
  if (setsockopt(client.Get(), SOL_TCP, TCP_ULP, "tls", 3) != 0) {
    return std::string("this kernel has no TLS (setsockopt TCP_ULP \"tls\": ") + strerror(errno) + ")";
  }
  return "";
}

TEST_CASE("10 MiB go through /bin/cat over TLS intact, and the exit line says tls=1.3") {
  Pki pki;
  uint16_t port = FreePort();
  Yinetd yinetd(Config(Service("secure-echo", port, "/bin/cat", TlsBlock(pki))));
  std::string payload;
  for (size_t i = 0; payload.size() < (10u << 20); ++i) payload += std::to_string(i * 2654435761u) + "\n";
  payload.resize(10u << 20);
  WriteText(pki / "payload", payload);
  std::string result = Client(pki, port, "--send " + pki / "payload" + " --out " + pki / "received");
  CHECK(Has(result, "\"version\": \"TLSv1.3\""));
  CHECK(Has(result, "\"ending\": \"close_notify\""));
  CHECK(ReadFile(pki / "received") == payload);
  CHECK(yinetd.WaitForLog({"event=exit", "service=secure-echo", "status=0", "tls=1.3"}));
}

TEST_CASE("a sandboxed TLS service: the program is confined, the TLS front in front of it still works") {
  const config::KernelSupport kernel = sandbox::ProbeKernel();
  if (!kernel.seccomp || !kernel.namespaces) {
    MESSAGE("skipped: this kernel or yinetd offers no seccomp or no namespaces here");
    return;
  }
  Pki pki;
  uint16_t port = FreePort();
  // The front is forked into the connection's pid namespace, and forks the
  // program there; only the program applies the filters (the front needs
  // its inet socket and calls outside the set).
  // Every key whose child step reads a descriptor the service holds: the
  // network namespace (setns), the Landlock ruleset and the service's mount
  // namespace (hidden). The front must keep them open for the program.
  bool landlock = kernel.landlock_abi > 0;
  std::string confinement = "    sandbox:\n      system_calls: service\n      address_families: [unix]\n"
                            "      namespaces: [pid]\n      private_network: true\n      hidden: [" +
                            (pki / "hidden") + "]\n" + (landlock ? "      read_only: true\n" : "");
  WriteText(pki / "hidden/secret", "not for the program\n");
  Yinetd yinetd(Config(Service("boxed", port, Helper("sandbox_probe"),
                               "    args: [\"-\", \"" + (pki / "hidden") + "\"]\n" + TlsBlock(pki) +
                                   confinement)));
  WriteText(pki / "command", "kill 999999\n");
  std::string result = Client(pki, port, "--send " + pki / "command" + " --out " + pki / "report");
  CHECK(Has(result, "\"version\": \"TLSv1.3\""));
  std::string report = ReadFile(pki / "report");
  INFO(report);
  CHECK(Has(report, "Seccomp=2\n"));
  CHECK(Has(report, "NoNewPrivs=1\n"));
  CHECK(Has(report, "socket_inet="));
  CHECK_FALSE(Has(report, "socket_inet=ok"));  // EAFNOSUPPORT, or EPERM under the call list
  CHECK(Has(report, "socket_unix=ok\n"));
  CHECK(Has(report, "syslog_call=EPERM\n"));
  CHECK(Has(report, "pid=2\n"));  // the front is 1
  CHECK(Has(report, "kill=ESRCH"));
  // private_network: the program started at all (with the namespace's fd
  // closed by the front, its setns failed and it never ran); it cannot
  // list its interfaces here, address_families refuses the socket.
  CHECK(Has(report, "read_hidden=ENOENT\n"));
  if (landlock) CHECK_FALSE(Has(report, "write_etc=ok"));
  CHECK(yinetd.WaitForLog({"event=exit", "service=boxed", "status=0", "tls=1.3"}));
}

TEST_CASE("proxy_protocol with tls: the PROXY header comes first on the wire, then the handshake") {
  Pki pki;
  uint16_t port = FreePort();
  Yinetd yinetd(Config(Service("proxied-tls", port, "/bin/cat",
                               "    proxy_protocol: v1\n    proxy_from: [127.0.0.0/8]\n" + TlsBlock(pki))));
  WriteText(pki / "payload", "through the balancer\n");
  std::string result = Client(pki, port, "--proxy-v1 'PROXY TCP4 192.0.2.9 198.51.100.1 5555 443' --send " +
                                             pki / "payload" + " --out " + pki / "received");
  CHECK(Has(result, "\"version\": \"TLSv1.3\""));
  CHECK(ReadFile(pki / "received") == "through the balancer\n");
  CHECK(yinetd.WaitForLog(
      {"event=exit", "service=proxied-tls", "peer=192.0.2.9:5555", "via=127.0.0.1:", "status=0", "tls=1.3"}));
}

TEST_CASE("the program sees PROTO=SSL and the SSL_ names, with and without a client certificate") {
  Pki pki;
  uint16_t port = FreePort();
  Yinetd yinetd(Config(Service("env", port, "/bin/sh",
                               "    args: ['-c', 'env | grep -E \"^(PROTO|SSL_|TCPREMOTEIP)\" | sort']\n" +
                                   TlsBlock(pki, "      client_ca: " + pki / "ca.pem" +
                                                     "\n      client_cert: optional\n"))));
  Client(pki, port, "--out " + pki / "anon");
  std::string anon = ReadFile(pki / "anon");
  CHECK(Has(anon, "PROTO=SSL\n"));
  CHECK(Has(anon, "SSL_PROTOCOL=TLSv1.3\n"));
  CHECK(Has(anon, "SSL_CIPHER=TLS_"));
  CHECK(Has(anon, "SSL_TLS_SNI_SERVERNAME=localhost\n"));
  CHECK(Has(anon, "SSL_CLIENT_VERIFY=NONE\n"));
  CHECK(Has(anon, "TCPREMOTEIP=127.0.0.1\n"));
  CHECK_FALSE(Has(anon, "SSL_CLIENT_S_DN"));

  Client(pki, port, "--cert " + pki / "client.pem" + " --key " + pki / "client.key" + " --out " + pki / "known");
  std::string known = ReadFile(pki / "known");
  CHECK(Has(known, "SSL_CLIENT_VERIFY=SUCCESS\n"));
  CHECK(Has(known, "SSL_CLIENT_S_DN=CN=backup-1,O=Corp\n"));
  CHECK(Has(known, "SSL_CLIENT_I_DN=CN=yinetd test CA\n"));
  CHECK(Has(known, "SSL_CLIENT_SAN_DNS=host.corp.example\n"));
  CHECK(Has(known, "SSL_CLIENT_SAN_URI=spiffe://corp/backup\n"));
  CHECK(Has(known, "SSL_CLIENT_M_SERIAL="));
  CHECK(Has(known, "SSL_CLIENT_V_END="));
  CHECK(Has(known, "SSL_PEER_CERT_HASH=SHA256:"));
  CHECK(yinetd.WaitForLog({"event=exit", "service=env", "tls=1.3", "client=\"CN=backup-1,O=Corp\""}));
}

TEST_CASE("require refuses a client without a certificate and one signed by another CA") {
  Pki pki;
  uint16_t port = FreePort();
  Yinetd yinetd(Config(Service("strict", port, "/bin/echo",
                               "    args: [welcome]\n" +
                                   TlsBlock(pki, "      client_ca: " + pki / "ca.pem" +
                                                     "\n      client_cert: require\n"))));
  std::string none = Client(pki, port, "--out " + pki / "none");
  CHECK(ReadFile(pki / "none").empty());
  std::string stranger =
      Client(pki, port, "--cert " + pki / "stranger.pem" + " --key " + pki / "stranger.key" + " --out " + pki / "s");
  CHECK(ReadFile(pki / "s").empty());
  Client(pki, port, "--cert " + pki / "client.pem" + " --key " + pki / "client.key" + " --out " + pki / "ok");
  CHECK(ReadFile(pki / "ok") == "welcome\n");
  CHECK(yinetd.WaitForLog({"event=tls_error", "service=strict", "reason=no_client_cert"}));
  CHECK(yinetd.WaitForLog({"event=tls_error", "service=strict", "reason=bad_client_cert"}));
  CHECK(yinetd.Events("exit").size() == 1);
}

TEST_CASE("allow_client lets in the names that match, by CN, DNS or URI, and no other") {
  Pki pki;
  uint16_t by_cn = FreePort(), by_uri = FreePort();
  std::string verify = "      client_ca: " + pki / "ca.pem" + "\n      client_cert: require\n";
  Yinetd yinetd(Config(
      Service("cn", by_cn, "/bin/echo", "    args: [in]\n" + TlsBlock(pki, verify + "      allow_client: [\"CN=backup-*\"]\n")) +
      Service("uri", by_uri, "/bin/echo",
              "    args: [in]\n" + TlsBlock(pki, verify + "      allow_client: [\"URI:spiffe://corp/*\", \"DNS:*.other\"]\n"))));
  std::string client = "--cert " + pki / "client.pem" + " --key " + pki / "client.key";
  std::string intruder = "--cert " + pki / "intruder.pem" + " --key " + pki / "intruder.key";
  Client(pki, by_cn, client + " --out " + pki / "a");
  CHECK(ReadFile(pki / "a") == "in\n");
  Client(pki, by_uri, client + " --out " + pki / "b");
  CHECK(ReadFile(pki / "b") == "in\n");
  Client(pki, by_cn, intruder + " --out " + pki / "c");
  CHECK(ReadFile(pki / "c").empty());
  CHECK(yinetd.WaitForLog({"event=tls_error", "service=cn", "reason=client_not_allowed", "detail=\"CN=intruder\""}));
}

TEST_CASE("SNI picks the certificate for the name, and ALPN agrees on the server's first choice") {
  Pki pki;
  uint16_t port = FreePort();
  Yinetd yinetd(Config(Service("named", port, "/bin/sh",
                               "    args: ['-c', 'echo \"$SSL_TLS_SNI_SERVERNAME $SSL_ALPN\"']\n" +
                                   TlsBlock(pki, "      alpn: [h2, http/1.1]\n"
                                                 "      sni:\n"
                                                 "        - names: [\"*.example.org\"]\n"
                                                 "          cert: " + pki / "org.pem" + "\n"
                                                 "          key: " + pki / "org.key" + "\n"))));
  std::string org = Client(pki, port, "--sni www.example.org --alpn http/1.1,h2 --out " + pki / "org");
  CHECK(Has(org, "\"server_cn\": \"www.example.org\""));
  CHECK(Has(org, "\"alpn\": \"h2\""));
  CHECK(ReadFile(pki / "org") == "www.example.org h2\n");
  std::string plain = Client(pki, port, "--alpn http/1.1 --out " + pki / "plain");
  CHECK(Has(plain, "\"server_cn\": \"localhost\""));
  CHECK(ReadFile(pki / "plain") == "localhost http/1.1\n");
  std::string none = Client(pki, port, "--alpn spdy/1 --out " + pki / "none");
  CHECK(Has(none, "error"));
  CHECK(yinetd.WaitForLog({"event=tls_error", "service=named", "reason=no_alpn"}));
}

TEST_CASE("min_version 1.3 refuses a TLS 1.2 client; the default takes it") {
  Pki pki;
  uint16_t strict = FreePort(), lenient = FreePort();
  Yinetd yinetd(Config(Service("v13", strict, "/bin/echo", "    args: [hi]\n" + TlsBlock(pki, "      min_version: \"1.3\"\n")) +
                       Service("v12", lenient, "/bin/echo", "    args: [hi]\n" + TlsBlock(pki))));
  std::string refused = Client(pki, strict, "--max-version 1.2");
  CHECK(Has(refused, "error"));
  std::string served = Client(pki, lenient, "--max-version 1.2 --out " + pki / "v12");
  CHECK(Has(served, "\"version\": \"TLSv1.2\""));
  CHECK(ReadFile(pki / "v12") == "hi\n");
  CHECK(yinetd.WaitForLog({"event=tls_error", "service=v13", "reason=protocol_version"}));
  CHECK(yinetd.WaitForLog({"event=exit", "service=v12", "tls=1.2"}));
}

TEST_CASE("a silent client is dropped at handshake_timeout while others are served") {
  Pki pki;
  uint16_t port = FreePort();
  Yinetd yinetd(Config(Service("patient", port, "/bin/echo", "    args: [hi]\n" + TlsBlock(pki, "      handshake_timeout: 1\n"))));
  UniqueFd silent = ConnectTcp("127.0.0.1", port);
  Client(pki, port, "--out " + pki / "served");
  CHECK(ReadFile(pki / "served") == "hi\n");
  CHECK(yinetd.WaitForLog({"event=tls_error", "service=patient", "reason=handshake_timeout"}));
  CHECK(ReadUntilEof(silent.Get(), 5s).empty());  // closed by the front, not left hanging
}

TEST_CASE("openssl s_client talks to a TLS service and sees close_notify at the end") {
  Pki pki;
  uint16_t port = FreePort();
  Yinetd yinetd(Config(Service("hello", port, "/bin/echo", "    args: [hello over tls]\n" + TlsBlock(pki))));
  auto [code, out] = RunCommand("echo | timeout 30 openssl s_client -connect 127.0.0.1:" + std::to_string(port) +
                                " -CAfile " + pki / "ca.pem" + " -verify_return_error -ign_eof 2>&1");
  CHECK(code == 0);
  CHECK(Has(out, "hello over tls"));
  CHECK(Has(out, "Verify return code: 0 (ok)"));
  CHECK(Has(out, "closed"));  // s_client's note on the server's close_notify
}

TEST_CASE("half-close works both ways: the client's EOF reaches the program, and the program's EOF the client") {
  Pki pki;
  uint16_t port = FreePort();
  // Answers, shuts down its sending side (the client then sees
  // close_notify), then reads everything the client still sends and stores it.
  WriteText(pki / "halves.py",
            "import socket, sys\n"
            "out = socket.socket(fileno=1)\n"
            "out.sendall(b'first\\n')\n"
            "out.shutdown(socket.SHUT_WR)\n"
            "open(sys.argv[1], 'wb').write(sys.stdin.buffer.read())\n");
  Yinetd yinetd(Config(Service("halves", port, "/usr/bin/python3",
                               "    args: ['" + pki / "halves.py" + "', '" + pki / "late" + "']\n" + TlsBlock(pki))));
  WriteText(pki / "payload", std::string(100000, 'x'));
  std::string result = Client(pki, port, "--hold 0.5 --send " + pki / "payload" + " --out " + pki / "early");
  CHECK(Has(result, "\"ending\": \"close_notify\""));
  CHECK(ReadFile(pki / "early") == "first\n");
  CHECK(yinetd.WaitForLog({"event=exit", "service=halves", "status=0"}));
  CHECK(ReadFile(pki / "late") == std::string(100000, 'x'));
  // A bare TCP half-close (no close_notify) ends the program's stdin too.
  uint16_t cat_port = FreePort();
  Yinetd cat(Config(Service("cat", cat_port, "/bin/cat", TlsBlock(pki))));
  WriteText(pki / "small", "abc");
  Client(pki, cat_port, "--bare-eof --send " + pki / "small" + " --out " + pki / "back");
  CHECK(ReadFile(pki / "back") == "abc");
}

// The program answers only at EOF, so nothing comes back until the client
// has sent all and closed. The client used to wait for the server right
// after its last chunk, before its close_notify: it hung whenever the
// server's session tickets had already arrived (about one run in five under
// load; every run with --hold, which lets them arrive first).
TEST_CASE("the client's close_notify ends the program's stdin, and its answer still comes back") {
  Pki pki;
  uint16_t port = FreePort();
  Yinetd after(Config(Service("after", port, "/bin/sh", "    args: ['-c', 'wc -c']\n" + TlsBlock(pki))));
  WriteText(pki / "payload", std::string(100000, 'x'));
  for (std::string hold : {"", "--hold 0.5 "}) {
    CAPTURE(hold);
    std::filesystem::remove(pki / "count");
    std::string result = Client(pki, port, "--timeout 20 " + hold + "--send " + pki / "payload" + " --out " + pki / "count");
    CHECK(Has(result, "\"ending\": \"close_notify\""));
    CHECK(ReadFile(pki / "count") == "100000\n");
  }
}

TEST_CASE("the program's exit status and a timeout are logged as for any service") {
  Pki pki;
  uint16_t port = FreePort(), slow = FreePort();
  Yinetd yinetd(Config(Service("fails", port, "/bin/sh", "    args: ['-c', 'echo bye; exit 7']\n" + TlsBlock(pki)) +
                       Service("slow", slow, "/bin/sleep", "    args: ['30']\n    timeout: 1\n" + TlsBlock(pki))));
  Client(pki, port, "--out " + pki / "bye");
  CHECK(ReadFile(pki / "bye") == "bye\n");
  CHECK(yinetd.WaitForLog({"event=exit", "service=fails", "status=7", "tls=1.3"}));
  Client(pki, slow, "--out " + pki / "slow");
  CHECK(yinetd.WaitForLog({"event=exit", "service=slow", "signal=SIGTERM", "reason=timeout"}));
}

TEST_CASE("watch: true rotates the certificate while a connection stays open; a broken key keeps the old one") {
  Pki pki;
  uint16_t port = FreePort();
  std::filesystem::copy_file(pki / "server.pem", pki / "live.pem");
  std::filesystem::copy_file(pki / "server.key", pki / "live.key");
  Yinetd yinetd(Config(Service("rotating", port, "/bin/sh",
                               "    args: ['-c', 'echo $SSL_PEER_CERT_HASH; cat']\n" + TlsBlock(pki, "", "live")),
                       "watch: true\n"));
  // A connection that stays open across the rotation.
  std::thread held([&] {
    std::string result = Client(pki, port, "--hold 3 --send " + pki / "server.key" + " --out " + pki / "held");
    CHECK(Has(result, "close_notify"));
  });
  CHECK(yinetd.WaitForLog({"event=accept", "service=rotating"}));
  // Rotate: a new pair, written the way tools do (new file, renamed over).
  std::filesystem::copy_file(pki / "server2.pem", pki / "next.pem");
  std::filesystem::copy_file(pki / "server2.key", pki / "next.key");
  std::filesystem::rename(pki / "next.key", pki / "live.key");
  std::filesystem::rename(pki / "next.pem", pki / "live.pem");
  CHECK(yinetd.WaitForLog({"event=tls_reload", "service=rotating", "result=ok", "trigger=watch"}));
  held.join();
  CHECK(ReadFile(pki / "held").find(ReadFile(pki / "server.key")) != std::string::npos);
  auto [c1, fingerprint_new] =
      RunCommand("echo | timeout 20 openssl s_client -connect 127.0.0.1:" + std::to_string(port) + " -CAfile " +
                 pki / "ca.pem" + " 2>/dev/null | openssl x509 -noout -fingerprint -sha256");
  auto [c2, fingerprint_server2] = RunCommand("openssl x509 -in " + pki / "server2.pem" + " -noout -fingerprint -sha256");
  CHECK(c1 == 0);
  CHECK(fingerprint_new == fingerprint_server2);
  // A key that does not match: the old context serves on, and the log says why.
  std::filesystem::copy_file(pki / "org.key", pki / "bad.key");
  std::filesystem::rename(pki / "bad.key", pki / "live.key");
  CHECK(yinetd.WaitForLog({"event=tls_reload", "service=rotating", "result=error", "kept=old", "does not match"}));
  auto [c3, fingerprint_kept] =
      RunCommand("echo | timeout 20 openssl s_client -connect 127.0.0.1:" + std::to_string(port) + " -CAfile " +
                 pki / "ca.pem" + " 2>/dev/null | openssl x509 -noout -fingerprint -sha256");
  CHECK(c3 == 0);
  CHECK(fingerprint_kept == fingerprint_server2);
}

TEST_CASE("a flood of failing handshakes logs a few tls_error lines and counts the rest as suppressed") {
  Pki pki;
  uint16_t port = FreePort();
  Yinetd yinetd(Config(Service("flooded", port, "/bin/cat", TlsBlock(pki))));
  // Plain HTTP at a TLS port: each front fails at once with not_tls.
  constexpr int kClients = 40;
  std::vector<UniqueFd> clients;
  for (int i = 0; i < kClients; ++i) clients.push_back(ConnectTcp("127.0.0.1", port));
  for (UniqueFd& client : clients) SendAll(client.Get(), "GET / HTTP/1.0\r\n\r\n");
  for (UniqueFd& client : clients) ReadUntilEof(client.Get(), 10s);
  // Every failure is either its own line or counted in a suppressed= line.
  long logged = 0, suppressed = 0;
  for (int tries = 0; tries < 100 && logged + suppressed < kClients; ++tries) {
    std::this_thread::sleep_for(100ms);
    logged = suppressed = 0;
    for (const LogFields& line : yinetd.Events("tls_error")) {
      if (line.at("service") != "flooded" || line.at("reason") != "not_tls") continue;
      if (line.count("suppressed") != 0) {
        suppressed += std::stol(line.at("suppressed"));
      } else {
        ++logged;
      }
    }
  }
  CHECK(logged + suppressed == kClients);
  CHECK(suppressed > 0);
  CHECK(logged < kClients);
  CHECK(yinetd.WaitForLog({"event=tls_error", "service=flooded", "reason=not_tls", "suppressed="}));
}

TEST_CASE("SIGHUP rotates the certificate without watch: new connections get the new one, an open one goes on") {
  Pki pki;
  uint16_t port = FreePort();
  std::filesystem::copy_file(pki / "server.pem", pki / "live.pem");
  std::filesystem::copy_file(pki / "server.key", pki / "live.key");
  Yinetd yinetd(Config(Service("hup", port, "/bin/cat", TlsBlock(pki, "", "live"))));
  auto fingerprint = [&](const std::string& file) {
    return RunCommand("openssl x509 -in " + file + " -noout -fingerprint -sha256").second;
  };
  auto served = [&] {
    return RunCommand("echo | timeout 20 openssl s_client -connect 127.0.0.1:" + std::to_string(port) + " -CAfile " +
                      pki / "ca.pem" + " 2>/dev/null | openssl x509 -noout -fingerprint -sha256")
        .second;
  };
  CHECK(served() == fingerprint(pki / "server.pem"));
  // A connection that stays open across the rotation and sends after it.
  WriteText(pki / "payload", "still here\n");
  std::thread held([&] {
    std::string result = Client(pki, port, "--hold 3 --send " + pki / "payload" + " --out " + pki / "held");
    CHECK(Has(result, "\"ending\": \"close_notify\""));
  });
  CHECK(yinetd.WaitForLog({"event=accept", "service=hup"}, 2));
  std::filesystem::copy_file(pki / "server2.pem", pki / "live.pem", std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(pki / "server2.key", pki / "live.key", std::filesystem::copy_options::overwrite_existing);
  yinetd.Signal(SIGHUP);
  CHECK(yinetd.WaitForLog({"event=tls_reload", "service=hup", "result=ok", "trigger=SIGHUP"}));
  CHECK(served() == fingerprint(pki / "server2.pem"));
  held.join();
  CHECK(ReadFile(pki / "held") == "still here\n");
}

TEST_CASE("with user:, the front and the program both run as that user") {
  if (geteuid() != 0) {
    MESSAGE("skipped: user: needs yinetd to run as root");
    return;
  }
  Pki pki;
  uint16_t port = FreePort();
  // The program's parent is its front; it prints both real uids.
  Yinetd yinetd(Config(Service(
      "dropped", port, "/bin/sh",
      "    user: nobody\n"
      "    args: ['-c', 'echo \"$(id -u) $(awk ''/^Uid:/ {print $2}'' /proc/$PPID/status)\"']\n" +
          TlsBlock(pki))));
  Client(pki, port, "--out " + pki / "uids");
  auto [code, nobody] = RunCommand("id -u nobody");
  REQUIRE(code == 0);
  nobody.erase(nobody.find_last_not_of('\n') + 1);
  CHECK(ReadFile(pki / "uids") == nobody + " " + nobody + "\n");
}

TEST_CASE("behind a TLS front the program holds only fds 0, 1 and 2, and the front only its two sockets") {
  Pki pki;
  WriteText(pki / "go", "g");
  for (std::string mode : {"log", "socket", "null"}) {
    CAPTURE(mode);
    uint16_t port = FreePort();
    Yinetd yinetd(Config(Service("fds", port, Helper("fd_lister"),
                                 "    args: [--parent]\n    stderr: " + mode + "\n" + TlsBlock(pki))));
    Client(pki, port, "--send " + pki / "go" + " --out " + pki / "fds");
    // The front is not dumpable: only root may list its descriptors.
    std::string parent = geteuid() == 0 ? " parent=socket,socket" : " parent=";
    CHECK(ReadFile(pki / "fds") == "fds=0,1,2" + parent + "\n");
  }
}

TEST_CASE("behind a TLS front the process controls apply, and a failing one is an exec_error naming the step") {
  Pki pki;
  uint16_t port = FreePort(), lost = FreePort();
  std::string script = "pwd; umask; nice; grep NoNewPrivs /proc/self/status; grep \"Max open files\" /proc/self/limits";
  Yinetd yinetd(Config(
      Service("controlled", port, "/bin/sh",
              "    args: ['-c', '" + script + "']\n    chdir: /tmp\n    umask: \"0027\"\n    nice: 5\n"
              "    no_new_privs: true\n    rlimits: {nofile: 100}\n" + TlsBlock(pki)) +
      Service("lost", lost, "/bin/cat", "    chdir: /nonexistent/dir\n" + TlsBlock(pki))));
  Client(pki, port, "--out " + pki / "controls");
  std::string out = ReadFile(pki / "controls");
  CHECK(out.rfind("/tmp\n0027\n5\nNoNewPrivs:\t1\nMax open files ", 0) == 0);
  std::istringstream limit(out.substr(out.find("Max open files") + 14));
  std::string soft, hard;
  limit >> soft >> hard;
  CHECK(soft == "100");
  CHECK(hard == "100");
  Client(pki, lost, "--out " + pki / "lost");
  CHECK(ReadFile(pki / "lost") == "");
  CHECK(yinetd.WaitForLog({"event=exec_error", "service=lost", "step=chdir"}));
  CHECK(yinetd.WaitForLog({"event=exit", "service=lost", "status=127", "tls=1.3"}));
}

TEST_CASE("kernel TLS: used where the kernel has it, a silent fallback where it does not") {
  std::string why_not = WhyNoKernelTls();
  Pki pki;
  uint16_t port = FreePort();
  Yinetd yinetd(Config(Service("ktls", port, "/bin/cat", TlsBlock(pki))));
  WriteText(pki / "payload", std::string(200000, 'k'));
  std::string result = Client(pki, port, "--send " + pki / "payload" + " --out " + pki / "back");
  CHECK(ReadFile(pki / "back") == std::string(200000, 'k'));
  REQUIRE(yinetd.WaitForLog({"event=exit", "service=ktls", "status=0", "ktls="}));
  std::string ktls = yinetd.Events("exit").at(0)["ktls"];
  if (!why_not.empty()) {
    MESSAGE("skipped: " << why_not << ", so kTLS cannot be tested here; the connection was served by "
            "OpenSSL's own record layer, ktls=" << ktls);
    CHECK(ktls == "off");
    return;
  }
  // TLS 1.3 with AES-GCM: OpenSSL 3 hands at least the sending side to the kernel.
  CHECK(ktls.find("send") != std::string::npos);
}

TEST_CASE("ctl connections shows a running TLS connection's version and client, and the exit line still has them") {
  Pki pki;
  uint16_t port = FreePort();
  Yinetd yinetd(Config(Service("shown", port, "/bin/cat",
                               TlsBlock(pki, "      client_ca: " + pki / "ca.pem" + "\n      client_cert: require\n"))));
  WriteText(pki / "payload", "hi\n");
  std::thread held([&] {
    Client(pki, port, "--hold 4 --cert " + pki / "client.pem" + " --key " + pki / "client.key" + " --send " +
                          pki / "payload" + " --out " + pki / "held");
  });
  REQUIRE(yinetd.WaitForLog({"event=accept", "service=shown"}));
  std::string pid = yinetd.Events("accept").at(0)["pid"];
  // The front reports when its handshake is done; until then the line has dashes.
  std::string text;
  for (int tries = 0; tries < 50 && !Has(text, " 1.3 "); ++tries) {
    std::this_thread::sleep_for(50ms);
    text = yinetd.Ctl("connections").second;
  }
  CHECK(Has(text, "SERVICE PID PEER VIA USER AGE TLS CLIENT\n"));
  CHECK(Has(text, "shown " + pid + " 127.0.0.1:"));
  CHECK(Has(text, " 1.3 CN=backup-1,O=Corp\n"));
  std::string json = yinetd.Ctl("connections --json").second;
  CHECK(Has(json, "\"tls\":\"1.3\",\"tls_client\":\"CN=backup-1,O=Corp\""));
  held.join();
  CHECK(ReadFile(pki / "held") == "hi\n");
  CHECK(yinetd.WaitForLog({"event=exit", "service=shown", "pid=" + pid, "tls=1.3", "client=\"CN=backup-1,O=Corp\""}));
  CHECK(yinetd.Ctl("connections").second == "SERVICE PID PEER VIA USER AGE TLS CLIENT\n");
}

TEST_CASE("session tickets from one connection resume on the next (one context for all fronts)") {
  Pki pki;
  uint16_t port = FreePort();
  Yinetd yinetd(Config(Service("resume", port, "/bin/echo", "    args: [hi]\n" + TlsBlock(pki))));
  std::string result = Client(pki, port, "--max-version 1.2 --connections 2");
  CHECK(Has(result, "\"resumed\": [false, true]"));
}

TEST_CASE("the metrics export certificate expiry and handshake failures by reason") {
  Pki pki;
  uint16_t port = FreePort(), metrics = FreePort();
  Yinetd yinetd(Config(Service("guarded", port, "/bin/echo", "    args: [hi]\n" + TlsBlock(pki, "      handshake_timeout: 0.5\n")) +
                       "  - name: metrics\n    listen: 127.0.0.1:" + std::to_string(metrics) + "\n    builtin: metrics\n"));
  UniqueFd silent = ConnectTcp("127.0.0.1", port);
  CHECK(yinetd.WaitForLog({"event=tls_error", "reason=handshake_timeout"}));
  std::string text = Exchange(metrics, "GET /metrics HTTP/1.0\r\n\r\n");
  CHECK(Has(text, "yinetd_tls_handshake_failures_total{service=\"guarded\",reason=\"handshake_timeout\"} 1"));
  CHECK(Has(text, "yinetd_tls_cert_expiry_timestamp_seconds{service=\"guarded\",cert=\"" + pki / "server.pem" + "\"} "));
}

TEST_CASE("--check names the file, line and column of each TLS problem") {
  Pki pki;
  std::string config = Config(
      "  - name: a\n    listen: 127.0.0.1:1\n    program: /bin/cat\n    tls:\n      cert: " + pki / "server.pem" +
      "\n      key: " + pki / "org.key" + "\n" +
      "  - name: b\n    listen: 127.0.0.1:2\n    program: /bin/cat\n    tls:\n      cert: /nonexistent.pem\n      key: " +
      pki / "server.key" + "\n      client_cert: sometimes\n" +
      "  - name: c\n    listen: 127.0.0.1:3\n    program: /bin/cat\n    protocol: udp\n    tls:\n      cert: x\n      key: y\n"
      "      sni:\n        - cert: x\n          key: y\n");
  auto [code, out] = RunCheck(config);
  CHECK(code == 1);
  CHECK(Has(out, "yinetd.yaml:14:20: error: tls.client_cert must be none, optional or require"));
  CHECK(Has(out, "yinetd.yaml:20:7: error: tls needs a stream"));
  CHECK(Has(out, "yinetd.yaml:23:11: error: a tls.sni entry needs names"));
  auto [code2, out2] = RunCheck(Config(
      "  - name: a\n    listen: 127.0.0.1:1\n    program: /bin/cat\n    tls:\n      cert: " + pki / "server.pem" +
      "\n      key: " + pki / "org.key" + "\n" +
      "  - name: b\n    listen: 127.0.0.1:2\n    program: /bin/cat\n    tls:\n      cert: /nonexistent.pem\n      key: " +
      pki / "server.key" + "\n"));
  CHECK(code2 == 1);
  CHECK(Has(out2, "yinetd.yaml:7:12: error: private key " + pki / "org.key" + " does not match the certificate"));
  CHECK(Has(out2, "yinetd.yaml:12:13: error: cannot read certificate /nonexistent.pem: No such file or directory"));
}

TEST_CASE("--check refuses an expired certificate") {
  Pki pki;
  // -days -1: a certificate whose notAfter is a day ago.
  auto [made, ignored] = RunCommand("cd " + pki.Dir() + " && openssl req -new -key server.key -subj /CN=old 2>/dev/null | "
                                    "openssl x509 -req -signkey server.key -days -1 -out old.pem 2>/dev/null");
  REQUIRE(made == 0);
  auto [code, out] = RunCheck(Config("  - name: a\n    listen: 127.0.0.1:1\n    program: /bin/cat\n    tls:\n      cert: " +
                                     pki / "old.pem" + "\n      key: " + pki / "server.key" + "\n"));
  CHECK(code == 1);
  CHECK(Has(out, "yinetd.yaml:6:13: error: certificate " + pki / "old.pem" + " expired on "));
  CHECK(Has(out, ": renew it"));
}

}  // namespace
}  // namespace yinetd::testing
