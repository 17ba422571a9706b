// Built-in services: the small RFC services inetd answers itself (echo,
// discard, chargen, daytime, time), served in a forked child without exec.
//
// Each is one row of a table: adding a builtin is one more row and its two
// functions. The serve functions run in the child after fork, so they make
// only async-signal-safe calls (read, write, send, recvfrom, sendto, time)
// and never allocate.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace yinetd::builtin {

struct Builtin {
  std::string_view name;
  std::string_view rfc;
  // Serves one stream connection on `fd` until the client is done.
  void (*serve_stream)(int fd);
  // Answers the datagrams waiting on `fd` (a UDP socket), then returns.
  void (*serve_datagram)(int fd);
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

// RFC 864's line `index`: 72 printable characters, each line starting one
// further along the 95 printable ASCII characters, then CRLF (74 bytes).
void ChargenLine(size_t index, char* out);

}  // namespace yinetd::builtin
