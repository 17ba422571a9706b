// Built-in services: the small RFC services inetd answers itself (echo,
// discard, chargen, daytime, time), and yinetd's own metrics over HTTP,
// served in a forked child without exec.
//
// Each is one row of a table: adding a builtin is one more row and its
// functions. The serve functions run in the child after fork, so they make
// only async-signal-safe calls (read, write, send, recvfrom, sendto, poll,
// time) and never allocate. What only the parent knows (the metrics) it
// renders before fork and hands over as `prepared`.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace yinetd::builtin {

struct Builtin {
  std::string_view name;
  std::string_view standard;  // "RFC 862", ...
  // Serves one stream connection on `fd` until the client is done.
  void (*serve_stream)(int fd, std::string_view prepared);
  // Answers the datagrams waiting on `fd` (a UDP socket), then returns;
  // nullptr for a builtin that has no datagram form.
  void (*serve_datagram)(int fd);
  // Its `prepared` text is the supervisor's metrics exposition.
  bool serves_metrics = false;
};

// The builtin called `name`, or nullptr.
const Builtin* Find(std::string_view name);

// Every builtin's name, for messages.
std::vector<std::string_view> Names();

// RFC 868: seconds since 1900-01-01 00:00 UTC, modulo 2^32, for `unix_time`.
uint32_t Rfc868Time(int64_t unix_time);

// RFC 867 leaves the format open; ours is ctime's, in UTC, with CRLF:
// "Wed Nov 25 11:47:00 2026\r\n". Writes at most 32 bytes; returns the
// length. Pure arithmetic, safe after fork.
size_t FormatDaytime(int64_t unix_time, char* out);

// The metrics builtin: reads one HTTP request on `fd` and answers it with
// `prepared`, the exposition text. The whole exchange gets `exchange_ms`:
// a client that trickles its request or does not read the reply is
// dropped then, and cannot hold a process for longer.
inline constexpr int kMetricsExchangeMs = 10000;
void ServeMetrics(int fd, std::string_view prepared, int exchange_ms);

// The answer to an HTTP request for the metrics, from its request line:
// 200 for GET or HEAD of / or /metrics (any query ignored), 404 for another
// path, 405 for another method, 400 for what is not a request line.
struct HttpAnswer {
  int status = 400;
  bool with_body = true;  // false for HEAD
};
HttpAnswer AnswerHttp(std::string_view request_head);

// The response head for `status` with a body of `body_size` bytes, into
// `out` (kHttpHeadMax bytes); returns its length. Safe after fork.
inline constexpr size_t kHttpHeadMax = 256;
size_t FormatHttpHead(int status, size_t body_size, char* out);

// Whether a datagram from `peer` goes unanswered, as BSD inetd's do: a
// reply to another small service (echo 7, discard 9, daytime 13, chargen 19,
// time 37, or anything on a port below 1024, or NFS on 2049) could start an
// endless ping-pong between two servers, and a reply to a forged broadcast,
// multicast or 0.0.0.0/8 source would go to many hosts or none. Pure, safe
// after fork. Loopback sources are answered.
inline constexpr uint16_t kLowestAnsweredPort = 1024;
inline constexpr uint16_t kNfsPort = 2049;
bool IsStormSource(const sockaddr* peer, socklen_t length);

// RFC 864's line `index`: 72 printable characters, each line starting one
// further along the 95 printable ASCII characters, then CRLF (74 bytes).
void ChargenLine(size_t index, char* out);

}  // namespace yinetd::builtin
