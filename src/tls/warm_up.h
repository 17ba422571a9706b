// WarmUp: one handshake of a server context with a client of our own, in
// memory, so that every TLS front forked afterwards inherits OpenSSL's
// algorithm caches instead of filling them for its one connection.
//
// OpenSSL 3 finds each algorithm a handshake uses (key exchange, signature,
// key derivation, cipher, digest) in its provider store the first time a
// process asks for it, and caches what it found. A front is a fork of the
// supervisor that makes exactly one handshake and exits, so without this
// each front repeats every lookup and throws the result away. No socket and
// no client is involved: both ends are ours, over a BIO pair, and no byte
// of a connection is ever parsed here (the handshakes with clients still run
// only in fronts).
#pragma once

#include <openssl/ssl.h>

namespace yinetd::tls {

// Runs a TLS 1.3 and a TLS 1.2 handshake against `server` once per kind of
// private key (EC, RSA, Ed25519...) in this process; later calls with a key
// of a kind already seen return at once. Returns how many of the handshakes
// completed (0 when already warm). Failures are otherwise ignored: the cache
// is only an optimisation.
int WarmUp(SSL_CTX* server);

}  // namespace yinetd::tls
