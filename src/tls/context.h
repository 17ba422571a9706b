// ServerContext: one service's TLS settings, built once in the supervisor.
//
// Built at startup and at each reload from the service's `tls:` block: the
// certificate chain and key are read and checked (readable, key matches
// certificate, not expired), client CAs loaded, ALPN and SNI set up. Every
// connection's front (front.h) is forked from the supervisor and uses this
// context as it is, so session tickets issued on one connection resume on
// the next. The files are never opened in a child and the key never reaches
// a program.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"

namespace yinetd::tls {

// When one certificate of a context expires.
struct CertExpiry {
  std::string file;
  int64_t not_after = 0;  // seconds since the epoch
};

struct BuildResult;

class ServerContext {
 public:
  ServerContext(const ServerContext&) = delete;
  ServerContext& operator=(const ServerContext&) = delete;
  ~ServerContext();

  // The default certificate's context; SNI switches a connection to another
  // of ours from the ClientHello callback.
  SSL_CTX* Get() const { return main_; }
  const config::TlsConfig& Config() const { return config_; }
  // Every certificate (the default one first, then the SNI ones).
  const std::vector<CertExpiry>& Expiries() const { return expiries_; }
  // The soonest expiry of them all.
  int64_t NotAfter() const;

 private:
  friend struct Builder;
  friend BuildResult BuildContext(const config::TlsConfig& config, int64_t now);
  explicit ServerContext(config::TlsConfig config) : config_(std::move(config)) {}

  config::TlsConfig config_;
  SSL_CTX* main_ = nullptr;
  struct Named {
    std::vector<std::string> names;
    SSL_CTX* ctx;
  };
  std::vector<Named> sni_;
  std::vector<CertExpiry> expiries_;
  std::string alpn_wire_;  // `alpn` in wire format, for the selection callback

  static int OnServerName(SSL* ssl, int* alert, void* arg);
};

struct BuildResult {
  std::shared_ptr<const ServerContext> context;  // set exactly when problems is empty
  std::vector<config::Problem> problems;
};

// Reads and checks every file of `config`; `now` (seconds since the epoch)
// decides what has expired. Each problem points at the key that named the
// file.
BuildResult BuildContext(const config::TlsConfig& config, int64_t now);

// BuildContext for every service with tls: (for --check and startup): the
// problems of them all.
std::vector<config::Problem> CheckContexts(const config::Config& config, int64_t now);

// Whether `name` matches `pattern`, where '*' stands for any run of
// characters (none included). Case-sensitive, as DNs and URIs are;
// DnsNameMatches below is the case-insensitive one for host names.
bool GlobMatches(std::string_view pattern, std::string_view name);
// A server name against an SNI name: "host.example" exactly, or
// "*.example" for one label before ".example"; ASCII case is ignored.
bool ServerNameMatches(std::string_view pattern, std::string_view name);

}  // namespace yinetd::tls
