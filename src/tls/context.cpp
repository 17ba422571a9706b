#include "tls/context.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <ctime>

#include "sys/sys_error.h"

namespace yinetd::tls {
namespace {

// OpenSSL's last queued error as text, and the queue emptied.
std::string TakeError() {
  unsigned long code = 0, last = 0;
  while ((code = ERR_get_error()) != 0) last = code;
  if (last == 0) return "unknown error";
  char text[256];
  ERR_error_string_n(last, text, sizeof text);
  return text;
}

// A clearer message than OpenSSL's for the common case of a missing or
// unreadable file.
std::string WhyUnreadable(const std::string& path) {
  FILE* file = std::fopen(path.c_str(), "r");
  if (file == nullptr) return ErrnoText(errno);
  std::fclose(file);
  return "";
}

std::string FormatTime(int64_t seconds) {
  time_t t = static_cast<time_t>(seconds);
  tm utc{};
  gmtime_r(&t, &utc);
  char text[32];
  strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

EVP_PKEY* ReadKey(const std::string& path) {
  FILE* file = std::fopen(path.c_str(), "r");
  if (file == nullptr) return nullptr;
  EVP_PKEY* key = PEM_read_PrivateKey(file, nullptr, nullptr, nullptr);
  std::fclose(file);
  return key;
}

int64_t ToEpoch(const ASN1_TIME* time) {
  tm parts{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &parts) != 1) return 0;
  return static_cast<int64_t>(timegm(&parts));
}

// ALPN protocols in wire format: each prefixed by its length.
std::string AlpnWire(const std::vector<std::string>& protocols) {
  std::string wire;
  for (const std::string& name : protocols) {
    wire += static_cast<char>(name.size());
    wire += name;
  }
  return wire;
}

// The server's order wins; no protocol in common is a fatal alert
// (no_application_protocol, RFC 7301 section 3.2).
int SelectAlpn(SSL*, const unsigned char** out, unsigned char* out_len, const unsigned char* in,
               unsigned int in_len, void* arg) {
  const auto* wire = static_cast<const std::string*>(arg);
  unsigned char* selected = nullptr;
  int result = SSL_select_next_proto(&selected, out_len, reinterpret_cast<const unsigned char*>(wire->data()),
                                     static_cast<unsigned int>(wire->size()), in, in_len);
  if (result != OPENSSL_NPN_NEGOTIATED) return SSL_TLSEXT_ERR_ALERT_FATAL;
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

// Builds the SSL_CTXs of one ServerContext, collecting problems.
struct Builder {
  const config::TlsConfig& config;
  int64_t now;
  std::vector<config::Problem>& problems;
  const std::string* alpn_wire;

  void Report(const config::Location& where, std::string message) {
    problems.push_back(config::Problem{where, std::move(message)});
  }

  // One certificate and key with every setting of the block; nullptr after
  // reporting why not.
  SSL_CTX* NewContext(const std::string& cert, const config::Location& cert_where, const std::string& key,
                      const config::Location& key_where, std::vector<CertExpiry>& expiries) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == nullptr) {
      Report(config.where, "cannot create a TLS context: " + TakeError());
      return nullptr;
    }
    if (!LoadPair(ctx, cert, cert_where, key, key_where, expiries) || !Configure(ctx)) {
      SSL_CTX_free(ctx);
      return nullptr;
    }
    return ctx;
  }

  bool LoadPair(SSL_CTX* ctx, const std::string& cert, const config::Location& cert_where, const std::string& key,
                const config::Location& key_where, std::vector<CertExpiry>& expiries) {
    ERR_clear_error();
    std::string why = WhyUnreadable(cert);
    if (!why.empty()) {
      Report(cert_where, "cannot read certificate " + cert + ": " + why);
      return false;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1) {
      Report(cert_where, "certificate chain " + cert + " is not usable PEM (leaf first): " + TakeError());
      return false;
    }
    why = WhyUnreadable(key);
    if (!why.empty()) {
      Report(key_where, "cannot read private key " + key + ": " + why);
      return false;
    }
    EVP_PKEY* pkey = ReadKey(key);
    if (pkey == nullptr) {
      Report(key_where, "private key " + key + " is not a usable PEM key: " + TakeError());
      return false;
    }
    bool matches = X509_check_private_key(SSL_CTX_get0_certificate(ctx), pkey) == 1;
    bool used = matches && SSL_CTX_use_PrivateKey(ctx, pkey) == 1;
    EVP_PKEY_free(pkey);
    if (!matches) {
      ERR_clear_error();
      Report(key_where, "private key " + key + " does not match the certificate in " + cert +
                            ": point key and cert at the same pair");
      return false;
    }
    if (!used) {
      Report(key_where, "private key " + key + " cannot be used: " + TakeError());
      return false;
    }
    return CheckDates(SSL_CTX_get0_certificate(ctx), cert, cert_where, expiries);
  }

  bool CheckDates(X509* leaf, const std::string& cert, const config::Location& cert_where,
                  std::vector<CertExpiry>& expiries) {
    int64_t not_before = ToEpoch(X509_get0_notBefore(leaf));
    int64_t not_after = ToEpoch(X509_get0_notAfter(leaf));
    if (not_after <= now) {
      Report(cert_where, "certificate " + cert + " expired on " + FormatTime(not_after) + ": renew it");
      return false;
    }
    if (not_before > now) {
      Report(cert_where, "certificate " + cert + " is not valid before " + FormatTime(not_before) +
                             ": check the clock or the certificate");
      return false;
    }
    expiries.push_back(CertExpiry{cert, not_after});
    return true;
  }

  bool Configure(SSL_CTX* ctx) {
    int min = config.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION;
    SSL_CTX_set_min_proto_version(ctx, min);
    // Kernel TLS where the kernel has it (the record layer then runs in the
    // kernel); OpenSSL falls back to its own silently. No renegotiation: a
    // client could make us repeat the costly part at will.
    // A bare TCP EOF from the client reads as close_notify: a half-close
    // that the program sees as the end of its stdin, as without TLS, and
    // after which its answer still goes out.
    SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    // Every front is a fork of us: a server-side session cache would live
    // and die in one child. Tickets carry the session instead, sealed with
    // this context's ticket key, which every front shares.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    static const unsigned char kSessionContext[] = "yinetd";
    SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
    if (!alpn_wire->empty()) SSL_CTX_set_alpn_select_cb(ctx, SelectAlpn, const_cast<std::string*>(alpn_wire));
    return LoadClientCa(ctx);
  }

  bool LoadClientCa(SSL_CTX* ctx) {
    if (config.client_cert == config::ClientCert::kNone) return true;
    std::string why = WhyUnreadable(config.client_ca);
    if (!why.empty()) {
      Report(config.client_ca_where, "cannot read client_ca " + config.client_ca + ": " + why);
      return false;
    }
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(config.client_ca.c_str());
    if (names == nullptr || SSL_CTX_load_verify_locations(ctx, config.client_ca.c_str(), nullptr) != 1) {
      if (names != nullptr) sk_X509_NAME_pop_free(names, X509_NAME_free);
      Report(config.client_ca_where, "client_ca " + config.client_ca +
                                         " holds no usable PEM certificate: " + TakeError());
      return false;
    }
    SSL_CTX_set_client_CA_list(ctx, names);
    int mode = SSL_VERIFY_PEER;
    if (config.client_cert == config::ClientCert::kRequire) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx, mode, nullptr);
    return true;
  }
};

ServerContext::~ServerContext() {
  for (Named& named : sni_) SSL_CTX_free(named.ctx);
  SSL_CTX_free(main_);
}

int64_t ServerContext::NotAfter() const {
  int64_t soonest = 0;
  for (const CertExpiry& expiry : expiries_) {
    if (soonest == 0 || expiry.not_after < soonest) soonest = expiry.not_after;
  }
  return soonest;
}

int ServerContext::OnServerName(SSL* ssl, int*, void* arg) {
  const auto* self = static_cast<const ServerContext*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (name == nullptr) return SSL_TLSEXT_ERR_OK;
  for (const Named& named : self->sni_) {
    for (const std::string& pattern : named.names) {
      if (ServerNameMatches(pattern, name)) {
        SSL_set_SSL_CTX(ssl, named.ctx);
        return SSL_TLSEXT_ERR_OK;
      }
    }
  }
  return SSL_TLSEXT_ERR_OK;  // the default certificate
}

BuildResult BuildContext(const config::TlsConfig& config, int64_t now) {
  BuildResult result;
  // Not make_shared: the constructor is private.
  std::shared_ptr<ServerContext> context(new ServerContext(config));
  // The ALPN callback's list lives as long as the context.
  context->alpn_wire_ = AlpnWire(config.alpn);
  Builder builder{context->config_, now, result.problems, &context->alpn_wire_};
  context->main_ = builder.NewContext(config.cert, config.cert_where, config.key, config.key_where,
                                      context->expiries_);
  for (const config::TlsSni& entry : config.sni) {
    SSL_CTX* ctx = builder.NewContext(entry.cert, entry.cert_where, entry.key, entry.key_where, context->expiries_);
    if (ctx != nullptr) context->sni_.push_back(ServerContext::Named{entry.names, ctx});
  }
  if (!result.problems.empty()) return result;
  if (!config.sni.empty()) {
    SSL_CTX_set_tlsext_servername_callback(context->main_, ServerContext::OnServerName);
    SSL_CTX_set_tlsext_servername_arg(context->main_, context.get());
  }
  result.context = std::move(context);
  return result;
}

std::vector<config::Problem> CheckContexts(const config::Config& config, int64_t now) {
  std::vector<config::Problem> problems;
  for (const config::ServiceConfig& service : config.services) {
    if (!service.tls) continue;
    BuildResult built = BuildContext(*service.tls, now);
    problems.insert(problems.end(), built.problems.begin(), built.problems.end());
  }
  return problems;
}

bool GlobMatches(std::string_view pattern, std::string_view name) {
  // Iterative wildcard match: on a mismatch, let the last '*' take one more
  // character. Linear in practice, never exponential.
  size_t p = 0, n = 0, star = std::string_view::npos, resume = 0;
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = n;
    } else if (p < pattern.size() && pattern[p] == name[n]) {
      ++p;
      ++n;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool ServerNameMatches(std::string_view pattern, std::string_view name) {
  if (pattern.size() > 2 && pattern.substr(0, 2) == "*.") {
    size_t dot = name.find('.');
    if (dot == std::string_view::npos || dot == 0) return false;
    return EqualsIgnoringCase(name.substr(dot), pattern.substr(1));
  }
  return EqualsIgnoringCase(pattern, name);
}

}  // namespace yinetd::tls
