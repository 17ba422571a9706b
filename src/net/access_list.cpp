#include "net/access_list.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "net/address.h"

namespace yinetd::net {
std::optional<IpAddress> ParseIp(const std::string& text) {
  IpAddress address;
  if (inet_pton(AF_INET, text.c_str(), address.bytes.data()) == 1) return address;
  in6_addr in6;
  if (inet_pton(AF_INET6, text.c_str(), &in6) != 1) return std::nullopt;
  if (IN6_IS_ADDR_V4MAPPED(&in6)) {
    std::memcpy(address.bytes.data(), &in6.s6_addr[12], 4);
    return address;
  }
  address.v6 = true;
  std::memcpy(address.bytes.data(), &in6, 16);
  return address;
}

IpAddress IpAddress::Masked(int prefix) const {
  IpAddress out = *this;
  for (size_t i = 0; i < 16; ++i) {
    int bits = std::clamp(prefix - static_cast<int>(i) * 8, 0, 8);
    out.bytes[i] &= static_cast<uint8_t>(0xff00 >> bits);
    if (i >= Size()) out.bytes[i] = 0;
  }
  return out;
}

std::string IpAddress::ToString() const {
  char text[INET6_ADDRSTRLEN];
  inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), text, sizeof text);
  return text;
}

std::optional<IpAddress> IpOf(const sockaddr* addr) {
  IpAddress address;
  if (addr->sa_family == AF_INET) {
    std::memcpy(address.bytes.data(), &reinterpret_cast<const sockaddr_in*>(addr)->sin_addr, 4);
    return address;
  }
  if (addr->sa_family != AF_INET6) return std::nullopt;
  const in6_addr& in6 = reinterpret_cast<const sockaddr_in6*>(addr)->sin6_addr;
  if (IN6_IS_ADDR_V4MAPPED(&in6)) {
    std::memcpy(address.bytes.data(), &in6.s6_addr[12], 4);
  } else {
    address.v6 = true;
    std::memcpy(address.bytes.data(), &in6, 16);
  }
  return address;
}

bool Cidr::Contains(const IpAddress& address) const {
  return address.v6 == network.v6 && address.Masked(prefix) == network;
}

std::string Cidr::ToString() const { return network.ToString() + "/" + std::to_string(prefix); }

std::variant<Cidr, std::string> ParseCidr(std::string_view text) {
  size_t slash = text.find('/');
  std::string host(text.substr(0, slash));
  auto address = ParseIp(host);
  if (!address) return Quoted(host) + " is not a numeric IPv4 or IPv6 address";
  int max_prefix = address->v6 ? 128 : 32;
  int prefix = max_prefix;
  if (slash != std::string_view::npos) {
    std::string_view digits = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (ec != std::errc() || end != digits.data() + digits.size() || prefix < 0 || prefix > max_prefix) {
      return "prefix length '" + std::string(digits) + "' must be a number from 0 to " +
             std::to_string(max_prefix);
    }
  }
  Cidr cidr{address->Masked(prefix), prefix};
  if (!(cidr.network == *address)) {
    return Quoted(text) + " has host bits set: did you mean " + cidr.ToString() + "?";
  }
  return cidr;
}

bool AccessList::Permits(const IpAddress& address) const {
  auto matches = [&](const Cidr& cidr) { return cidr.Contains(address); };
  if (std::any_of(deny.begin(), deny.end(), matches)) return false;
  return allow.empty() || std::any_of(allow.begin(), allow.end(), matches);
}

}  // namespace yinetd::net
