// Identity: what a finished handshake tells about the connection and its
// client, and the SSL_* environment that says it to the program.
//
// The variable names are the ones programs written for Apache mod_ssl,
// stunnel's exec mode and s6-tlsd already read. Identify() reads a live SSL;
// the rest is pure and tested on its own.
#pragma once

#include <openssl/ssl.h>

#include <string>
#include <string_view>
#include <vector>

namespace yinetd::tls {

struct Identity {
  std::string protocol;     // "TLSv1.3"
  std::string cipher;       // "TLS_AES_256_GCM_SHA384"
  std::string server_name;  // SNI, "" if the client sent none
  std::string alpn;         // "" if none was agreed
  bool has_client_cert = false;
  bool client_verified = false;
  std::string subject;      // RFC 2253, "CN=a,O=b"
  std::string issuer;
  std::string serial;       // upper-case hex
  std::string not_after;    // as mod_ssl prints it: "Dec  2 04:00:00 2027 GMT"
  std::vector<std::string> san_dns;
  std::vector<std::string> san_uri;
  std::string common_name;  // the subject's CN, for allow_client
  std::string cert_hash;    // "SHA256:" and the DER certificate's digest in hex
};

Identity Identify(SSL* ssl);

// "1.3" for "TLSv1.3": the short form for the log.
std::string ShortVersion(std::string_view protocol);

// The SSL_* variables, "NAME=value" each. Several SAN entries of one kind
// are separated by a space (neither a host name nor a URI holds one).
std::vector<std::string> ToEnv(const Identity& identity);

// `envp` for the program: PROTO=TCP becomes PROTO=SSL and the SSL_*
// variables follow. Without PROTO (clear_env) the environment is left as
// the service's `env:` made it.
std::vector<std::string> WithTlsEnv(const std::vector<std::string>& envp, const Identity& identity);

// allow_client: true if any pattern matches. "CN=glob" matches the
// subject's common name, "DNS:glob" a DNS name (case ignored), "URI:glob" a
// URI of the certificate's subjectAltName. No patterns: everyone.
bool AllowedClient(const std::vector<std::string>& patterns, const Identity& identity);

}  // namespace yinetd::tls
