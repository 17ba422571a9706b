// The TLS module's pure parts: patterns, the outcome record, the SSL_*
// environment, and the problems BuildContext reports (the end-to-end cases
// with real handshakes are in tests/integration/tls_test.cpp).
#include <doctest/doctest.h>

#include <algorithm>

#include "tls/context.h"
#include "tls/identity.h"
#include "tls/outcome.h"
#include "tls/warm_up.h"

namespace yinetd::tls {
namespace {

TEST_CASE("GlobMatches: '*' takes any run, the rest must be equal") {
  CHECK(GlobMatches("backup-*", "backup-1"));
  CHECK(GlobMatches("backup-*", "backup-"));
  CHECK(GlobMatches("*", ""));
  CHECK(GlobMatches("spiffe://corp/*", "spiffe://corp/a/b"));
  CHECK(GlobMatches("a*b*c", "aXXbYYc"));
  CHECK_FALSE(GlobMatches("a*b*c", "aXXbYY"));
  CHECK_FALSE(GlobMatches("backup-*", "Backup-1"));
  CHECK_FALSE(GlobMatches("backup", "backup-1"));
  // Many stars against a long miss: linear, not exponential.
  CHECK_FALSE(GlobMatches("*a*a*a*a*a*a*a*a*b", std::string(5000, 'a')));
}

TEST_CASE("ServerNameMatches: exact names ignore case; '*.' covers one label") {
  CHECK(ServerNameMatches("www.example.org", "WWW.Example.org"));
  CHECK(ServerNameMatches("*.example.org", "a.example.org"));
  CHECK_FALSE(ServerNameMatches("*.example.org", "a.b.example.org"));
  CHECK_FALSE(ServerNameMatches("*.example.org", "example.org"));
  CHECK_FALSE(ServerNameMatches("*.example.org", ".example.org"));
}

TEST_CASE("an outcome survives its record, and what a client wrote cannot add lines") {
  Outcome sent;
  sent.version = "1.3";
  sent.cipher = "TLS_AES_128_GCM_SHA256";
  sent.client = "CN=evil\nfailure=forged";
  sent.ktls = "off";
  Outcome got = ParseOutcome(FormatOutcome(sent));
  CHECK(got.received);
  CHECK(got.version == "1.3");
  CHECK(got.client == "CN=evil?failure=forged");
  CHECK(got.failure.empty());
  Outcome failure = ParseOutcome(FormatOutcome(Outcome{false, "", "", "", "", "no_client_cert", "x"}));
  CHECK(failure.failure == "no_client_cert");
  CHECK_FALSE(ParseOutcome("").received);
  CHECK_FALSE(ParseOutcome("version=1.3").received);  // a record cut short
  CHECK(FormatOutcome(Outcome{false, "", "", std::string(10000, 'x'), "", "", ""}).size() < 4096);
}

Identity ClientIdentity() {
  Identity identity;
  identity.protocol = "TLSv1.3";
  identity.cipher = "TLS_AES_256_GCM_SHA384";
  identity.server_name = "localhost";
  identity.has_client_cert = true;
  identity.client_verified = true;
  identity.subject = "CN=backup-1,O=Corp";
  identity.common_name = "backup-1";
  identity.san_dns = {"Host.Corp.Example", "b.corp.example"};
  identity.san_uri = {"spiffe://corp/backup"};
  identity.cert_hash = "SHA256:ab";
  return identity;
}

TEST_CASE("the environment: PROTO=SSL, the SSL_ names, and the service's env wins") {
  std::vector<std::string> env = WithTlsEnv({"PROTO=TCP", "TCPREMOTEIP=127.0.0.1", "SSL_CIPHER=mine"},
                                            ClientIdentity());
  CHECK(env[0] == "PROTO=SSL");
  CHECK(std::count(env.begin(), env.end(), "SSL_CIPHER=mine") == 1);
  CHECK(std::count(env.begin(), env.end(), "SSL_CLIENT_VERIFY=SUCCESS") == 1);
  CHECK(std::count(env.begin(), env.end(), "SSL_CLIENT_SAN_DNS=Host.Corp.Example b.corp.example") == 1);
  CHECK(std::count(env.begin(), env.end(), "SSL_TLS_SNI_SERVERNAME=localhost") == 1);
  CHECK(std::none_of(env.begin(), env.end(), [](const std::string& e) { return e.rfind("SSL_ALPN=", 0) == 0; }));
  // clear_env: no PROTO, nothing added.
  CHECK(WithTlsEnv({"ONLY=this"}, ClientIdentity()) == std::vector<std::string>{"ONLY=this"});
  Identity anonymous;
  anonymous.protocol = "TLSv1.2";
  std::vector<std::string> plain = ToEnv(anonymous);
  CHECK(std::count(plain.begin(), plain.end(), "SSL_CLIENT_VERIFY=NONE") == 1);
  CHECK(std::none_of(plain.begin(), plain.end(), [](const std::string& e) { return e.rfind("SSL_CLIENT_S_DN", 0) == 0; }));
}

TEST_CASE("allow_client: CN, DNS (case ignored) and URI patterns; none means everyone") {
  Identity identity = ClientIdentity();
  CHECK(AllowedClient({}, identity));
  CHECK(AllowedClient({"CN=backup-*"}, identity));
  CHECK(AllowedClient({"DNS:host.corp.EXAMPLE"}, identity));
  CHECK(AllowedClient({"CN=other", "URI:spiffe://corp/*"}, identity));
  CHECK_FALSE(AllowedClient({"CN=other", "DNS:*.other"}, identity));
  identity.client_verified = false;
  CHECK_FALSE(AllowedClient({"CN=backup-*"}, identity));
  CHECK_FALSE(AllowedClient({"CN=*"}, Identity{}));
  CHECK(ShortVersion("TLSv1.3") == "1.3");
}

TEST_CASE("BuildContext names the key of a file it cannot read") {
  config::TlsConfig tls;
  tls.cert = "/nonexistent/cert.pem";
  tls.key = "/nonexistent/key.pem";
  tls.cert_where = config::Location{"y.yaml", 5, 13};
  BuildResult built = BuildContext(tls, 0);
  CHECK_FALSE(built.context);
  REQUIRE(built.problems.size() == 1);
  CHECK(built.problems[0].ToString() ==
        "y.yaml:5:13: cannot read certificate /nonexistent/cert.pem: No such file or directory");
}

// A server context with `key` (taken) and a self-signed certificate, made
// in memory; `min_version` as the `tls:` key would set it.
SSL_CTX* SelfSignedContext(EVP_PKEY* key, int min_version) {
  X509* cert = X509_new();
  REQUIRE((key != nullptr && cert != nullptr));
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("warm"), -1, -1, 0);
  X509_set_issuer_name(cert, X509_get_subject_name(cert));
  X509_set_pubkey(cert, key);
  // Ed25519 signs without a separate digest.
  const EVP_MD* digest = EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519 ? nullptr : EVP_sha256();
  REQUIRE(X509_sign(cert, key, digest) > 0);
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  REQUIRE(ctx != nullptr);
  REQUIRE(SSL_CTX_use_certificate(ctx, cert) == 1);
  REQUIRE(SSL_CTX_use_PrivateKey(ctx, key) == 1);
  SSL_CTX_set_min_proto_version(ctx, min_version);
  X509_free(cert);
  EVP_PKEY_free(key);
  return ctx;
}

TEST_CASE("WarmUp completes a TLS 1.3 and a 1.2 handshake once per kind of key") {
  SSL_CTX* only_13 = SelfSignedContext(EVP_EC_gen("P-256"), TLS1_3_VERSION);
  SSL_CTX* both = SelfSignedContext(EVP_EC_gen("P-256"), TLS1_2_VERSION);
  SSL_CTX* edwards = SelfSignedContext(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"), TLS1_2_VERSION);
  // A context that refuses 1.2 completes only the 1.3 handshake...
  CHECK(WarmUp(only_13) == 1);
  // ...and the cache is per process, not per context: an EC key is warm now.
  CHECK(WarmUp(both) == 0);
  CHECK(WarmUp(only_13) == 0);
  // Another kind of key is warmed by both handshakes.
  CHECK(WarmUp(edwards) == 2);
  CHECK(WarmUp(edwards) == 0);
  // A context without a key has nothing to warm.
  SSL_CTX* keyless = SSL_CTX_new(TLS_server_method());
  CHECK(WarmUp(keyless) == 0);
  SSL_CTX_free(keyless);
  SSL_CTX_free(edwards);
  SSL_CTX_free(both);
  SSL_CTX_free(only_13);
}

}  // namespace
}  // namespace yinetd::tls
