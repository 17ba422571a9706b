#include "tls/warm_up.h"

#include <openssl/err.h>

#include <set>

namespace yinetd::tls {
namespace {

// Both ends in turn until both are done or one fails (a handshake over a
// BIO pair takes three or four turns); whether both completed.
bool Handshake(SSL_CTX* server_ctx, SSL_CTX* client_ctx) {
  bool completed = false;
  SSL* server = SSL_new(server_ctx);
  SSL* client = SSL_new(client_ctx);
  BIO* client_end = nullptr;
  BIO* server_end = nullptr;
  if (server != nullptr && client != nullptr && BIO_new_bio_pair(&client_end, 0, &server_end, 0) == 1) {
    SSL_set_bio(client, client_end, client_end);
    SSL_set_bio(server, server_end, server_end);
    SSL_set_connect_state(client);
    SSL_set_accept_state(server);
    auto pending = [](SSL* ssl, int result) {
      if (result == 1) return false;
      int error = SSL_get_error(ssl, result);
      return error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE;
    };
    for (int turn = 0; turn < 8; ++turn) {
      int client_result = SSL_do_handshake(client);
      int server_result = SSL_do_handshake(server);
      completed = client_result == 1 && server_result == 1;
      if (completed) break;
      bool client_pending = pending(client, client_result);
      bool server_pending = pending(server, server_result);
      if ((client_result <= 0 && !client_pending) || (server_result <= 0 && !server_pending)) break;
    }
  }
  SSL_free(client);  // each SSL frees its BIO
  SSL_free(server);
  return completed;
}

}  // namespace

int WarmUp(SSL_CTX* server) {
  EVP_PKEY* key = SSL_CTX_get0_privatekey(server);
  if (key == nullptr) return 0;
  static std::set<int> warmed;
  if (!warmed.insert(EVP_PKEY_get_base_id(key)).second) return 0;
  int completed = 0;
  SSL_CTX* client = SSL_CTX_new(TLS_client_method());
  if (client != nullptr) {
    SSL_CTX_set_verify(client, SSL_VERIFY_NONE, nullptr);
    completed += Handshake(server, client) ? 1 : 0;
    SSL_CTX_set_max_proto_version(client, TLS1_2_VERSION);
    completed += Handshake(server, client) ? 1 : 0;
    SSL_CTX_free(client);
  }
  ERR_clear_error();
  return completed;
}

}  // namespace yinetd::tls
