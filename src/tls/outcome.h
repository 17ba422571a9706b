// Outcome: what a connection's front tells the supervisor about its
// handshake, on a pipe of its own.
//
// The front writes one record before the program exists and closes the pipe
// (front.h), so the program can never write to it: unlike its stderr, what
// arrives here is ours. The supervisor reads it when `ctl connections` asks
// (for the running connection's TLS and CLIENT columns) or else when the
// child is reaped, for the exit line (tls=, client=), the tls_error line and
// the handshake-failure metric.
#pragma once

#include <string>
#include <string_view>

namespace yinetd::tls {

struct Outcome {
  bool received = false;  // a record came at all
  std::string version;    // "1.3"; "" when the handshake failed
  std::string cipher;
  std::string client;     // the client certificate's subject, if any
  std::string ktls;       // kernel TLS in use: "send+recv", "send", "recv" or "off"
  std::string failure;    // one word (handshake_timeout, no_client_cert, ...); "" on success
  std::string detail;     // OpenSSL's reason, for the log
};

// One write's worth: "key=value\n" lines, each value cut to a bound and with
// control characters replaced, so the record fits a pipe's atomic write.
std::string FormatOutcome(const Outcome& outcome);
// What FormatOutcome wrote; unknown keys and malformed lines are skipped.
Outcome ParseOutcome(std::string_view text);

}  // namespace yinetd::tls
