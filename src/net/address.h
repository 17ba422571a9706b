// Address: what a service listens on, parsed from the config's `listen`.
//
// Forms: "127.0.0.1:7007", "[::1]:7007", a bare port "7007" (every address,
// IPv4 and IPv6), "*:7007" (the same), and "unix:/run/x.sock". Only numeric
// hosts: a superserver must not depend on DNS to start. Pure: no syscalls.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace yinetd::net {

struct Address {
  enum class Family { kIPv4, kIPv6, kAny, kUnix };

  Family family = Family::kAny;
  std::string host;  // numeric, canonical form; empty for kAny and kUnix
  uint16_t port = 0;
  std::string path;  // kUnix only

  // Canonical text, parseable again: "127.0.0.1:7007", "[::1]:7007",
  // "7007", "unix:/path".
  std::string ToString() const;
  bool IsInet() const { return family != Family::kUnix; }
  bool operator==(const Address&) const = default;
};

// The address, or a sentence saying what is wrong with `text`.
std::variant<Address, std::string> ParseAddress(std::string_view text);

// `text` in single quotes, for the messages above. Built by appending:
// `"'" + std::string(...)` inlines string::insert at -O3, where GCC 12
// reports a -Wrestrict false positive (GCC bug 105329, fixed in GCC 13).
std::string Quoted(std::string_view text);

// A socket address ready for bind/connect.
struct SockAddr {
  sockaddr_storage storage = {};
  socklen_t length = 0;

  const sockaddr* Get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  sockaddr* Get() { return reinterpret_cast<sockaddr*>(&storage); }
  int Family() const { return storage.ss_family; }
};

// For kAny, `any_as_ipv6` picks [::] (dual stack) or 0.0.0.0.
SockAddr ToSockAddr(const Address& address, bool any_as_ipv6 = true);

// One end of a connection as the environment and logs show it. IPv4-mapped
// IPv6 addresses are shown as plain IPv4.
struct Endpoint {
  std::string ip;    // "127.0.0.1", "::1", or the unix path ("" if unnamed)
  uint16_t port = 0;
  bool is_unix = false;

  // "127.0.0.1:40000", "[::1]:40000", "unix:/path" or "unix:".
  std::string ToString() const;
};

Endpoint ToEndpoint(const sockaddr* addr, socklen_t length);

// The process at the other end of a unix socket, as the kernel saw it when
// it connected (SO_PEERCRED).
struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

}  // namespace yinetd::net
