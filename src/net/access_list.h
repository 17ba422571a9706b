// IP addresses, CIDR prefixes and allow/deny lists. Pure: no syscalls.
//
// An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is always taken as the IPv4
// address it carries, so a rule for 10.0.0.0/8 also covers a client that
// reaches a dual-stack listener over IPv6.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace yinetd::net {

struct IpAddress {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};  // IPv4 uses the first 4

  size_t Size() const { return v6 ? 16 : 4; }
  // This address with every bit past `prefix` cleared.
  IpAddress Masked(int prefix) const;
  std::string ToString() const;
  bool operator==(const IpAddress&) const = default;
  auto operator<=>(const IpAddress&) const = default;
};

// A numeric IPv4 or IPv6 address ("192.0.2.7", "2001:db8::1"); an
// IPv4-mapped one is taken as IPv4. nullopt for anything else.
std::optional<IpAddress> ParseIp(const std::string& text);

// The IP address of a socket address; nullopt for non-IP (unix) sockets.
std::optional<IpAddress> IpOf(const sockaddr* addr);

struct Cidr {
  IpAddress network;  // already masked
  int prefix = 0;

  bool Contains(const IpAddress& address) const;
  std::string ToString() const;  // "10.0.0.0/8", "::1/128"
  bool operator==(const Cidr&) const = default;
};

// "10.0.0.0/8", "192.0.2.7" (a /32), "2001:db8::/32", "::1" (a /128). Host
// bits past the prefix are an error, as they usually mean a typo.
std::variant<Cidr, std::string> ParseCidr(std::string_view text);

// allow/deny: with an `allow` list only matching addresses get in; `deny`
// wins over `allow`. Empty lists permit everyone.
struct AccessList {
  std::vector<Cidr> allow;
  std::vector<Cidr> deny;

  bool Permits(const IpAddress& address) const;
  bool operator==(const AccessList&) const = default;
};

}  // namespace yinetd::net
