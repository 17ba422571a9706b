#include "tls/identity.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>

#include "tls/context.h"

namespace yinetd::tls {
namespace {

std::string FromBio(BIO* bio) {
  char* data = nullptr;
  long length = BIO_get_mem_data(bio, &data);
  std::string text(data, length > 0 ? static_cast<size_t>(length) : 0);
  BIO_free(bio);
  return text;
}

// RFC 2253, with UTF-8 kept as it is rather than escaped to \XX.
std::string NameText(const X509_NAME* name) {
  BIO* bio = BIO_new(BIO_s_mem());
  X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  return FromBio(bio);
}

std::string CommonName(const X509_NAME* name) {
  int index = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (index < 0) return "";
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8 = nullptr;
  int length = ASN1_STRING_to_UTF8(&utf8, data);
  if (length < 0) return "";
  std::string text(reinterpret_cast<char*>(utf8), static_cast<size_t>(length));
  OPENSSL_free(utf8);
  return text;
}

std::string Hex(const unsigned char* data, size_t length, bool upper) {
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string text;
  for (size_t i = 0; i < length; ++i) {
    text += digits[data[i] >> 4];
    text += digits[data[i] & 15];
  }
  return text;
}

std::string Serial(X509* cert) {
  BIGNUM* number = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
  if (number == nullptr) return "";
  char* hex = BN_bn2hex(number);
  std::string text = hex != nullptr ? hex : "";
  OPENSSL_free(hex);
  BN_free(number);
  return text;
}

std::string TimeText(const ASN1_TIME* time) {
  BIO* bio = BIO_new(BIO_s_mem());
  ASN1_TIME_print(bio, time);
  return FromBio(bio);
}

void ReadSubjectAltNames(X509* cert, Identity& identity) {
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type != GEN_DNS && name->type != GEN_URI) continue;
    const ASN1_IA5STRING* text = name->d.ia5;
    std::string value(reinterpret_cast<const char*>(ASN1_STRING_get0_data(text)),
                      static_cast<size_t>(ASN1_STRING_length(text)));
    (name->type == GEN_DNS ? identity.san_dns : identity.san_uri).push_back(std::move(value));
  }
  GENERAL_NAMES_free(names);
}

void ReadClientCert(SSL* ssl, Identity& identity) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return;
  identity.has_client_cert = true;
  identity.client_verified = SSL_get_verify_result(ssl) == X509_V_OK;
  identity.subject = NameText(X509_get_subject_name(cert));
  identity.issuer = NameText(X509_get_issuer_name(cert));
  identity.common_name = CommonName(X509_get_subject_name(cert));
  identity.serial = Serial(cert);
  identity.not_after = TimeText(X509_get0_notAfter(cert));
  ReadSubjectAltNames(cert, identity);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (X509_digest(cert, EVP_sha256(), digest, &length) == 1) identity.cert_hash = "SHA256:" + Hex(digest, length, false);
  X509_free(cert);
}

std::string Joined(const std::vector<std::string>& items) {
  std::string text;
  for (const std::string& item : items) text += (text.empty() ? "" : " ") + item;
  return text;
}

std::string Lower(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower;
}

}  // namespace

Identity Identify(SSL* ssl) {
  Identity identity;
  identity.protocol = SSL_get_version(ssl);
  if (const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl)) identity.cipher = SSL_CIPHER_get_name(cipher);
  if (const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) identity.server_name = name;
  const unsigned char* alpn = nullptr;
  unsigned int alpn_length = 0;
  SSL_get0_alpn_selected(ssl, &alpn, &alpn_length);
  if (alpn != nullptr) identity.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_length);
  ReadClientCert(ssl, identity);
  return identity;
}

std::string ShortVersion(std::string_view protocol) {
  if (protocol.substr(0, 4) == "TLSv") return std::string(protocol.substr(4));
  return std::string(protocol);
}

std::vector<std::string> ToEnv(const Identity& identity) {
  std::vector<std::string> env = {"SSL_PROTOCOL=" + identity.protocol, "SSL_CIPHER=" + identity.cipher};
  if (!identity.server_name.empty()) env.push_back("SSL_TLS_SNI_SERVERNAME=" + identity.server_name);
  if (!identity.alpn.empty()) env.push_back("SSL_ALPN=" + identity.alpn);
  if (!identity.has_client_cert) {
    env.push_back("SSL_CLIENT_VERIFY=NONE");
    return env;
  }
  env.push_back(std::string("SSL_CLIENT_VERIFY=") + (identity.client_verified ? "SUCCESS" : "FAILED"));
  env.push_back("SSL_CLIENT_S_DN=" + identity.subject);
  env.push_back("SSL_CLIENT_I_DN=" + identity.issuer);
  env.push_back("SSL_CLIENT_M_SERIAL=" + identity.serial);
  env.push_back("SSL_CLIENT_V_END=" + identity.not_after);
  if (!identity.san_dns.empty()) env.push_back("SSL_CLIENT_SAN_DNS=" + Joined(identity.san_dns));
  if (!identity.san_uri.empty()) env.push_back("SSL_CLIENT_SAN_URI=" + Joined(identity.san_uri));
  env.push_back("SSL_PEER_CERT_HASH=" + identity.cert_hash);
  return env;
}

std::vector<std::string> WithTlsEnv(const std::vector<std::string>& envp, const Identity& identity) {
  std::vector<std::string> env = envp;
  auto proto = std::find_if(env.begin(), env.end(), [](const std::string& e) { return e.rfind("PROTO=", 0) == 0; });
  if (proto == env.end()) return env;
  *proto = "PROTO=SSL";
  for (std::string& entry : ToEnv(identity)) {
    // The service's own env: wins, as it does over the other names.
    std::string name = entry.substr(0, entry.find('=') + 1);
    bool set = std::any_of(env.begin(), env.end(), [&](const std::string& e) { return e.rfind(name, 0) == 0; });
    if (!set) env.push_back(std::move(entry));
  }
  return env;
}

bool AllowedClient(const std::vector<std::string>& patterns, const Identity& identity) {
  if (patterns.empty()) return true;
  if (!identity.has_client_cert || !identity.client_verified) return false;
  for (const std::string& pattern : patterns) {
    std::string_view p = pattern;
    if (p.rfind("CN=", 0) == 0 && !identity.common_name.empty() && GlobMatches(p.substr(3), identity.common_name)) {
      return true;
    }
    if (p.rfind("DNS:", 0) == 0) {
      std::string lower = Lower(p.substr(4));
      for (const std::string& dns : identity.san_dns) {
        if (GlobMatches(lower, Lower(dns))) return true;
      }
    }
    if (p.rfind("URI:", 0) == 0) {
      for (const std::string& uri : identity.san_uri) {
        if (GlobMatches(p.substr(4), uri)) return true;
      }
    }
  }
  return false;
}

}  // namespace yinetd::tls
