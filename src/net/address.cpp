#include "net/address.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstring>

namespace yinetd::net {
namespace {

constexpr std::string_view kUnixPrefix = "unix:";

std::variant<uint16_t, std::string> ParsePort(std::string_view text) {
  if (text.empty()) return std::string("missing port number after ':'");
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc::result_out_of_range || (ec == std::errc() && end == text.data() + text.size() &&
                                               (value == 0 || value > 65535))) {
    return "port " + std::string(text) + " is out of range (1-65535)";
  }
  if (ec != std::errc() || end != text.data() + text.size()) {
    return "port " + Quoted(text) + " is not a number";
  }
  return static_cast<uint16_t>(value);
}

// Canonical numeric text for an address of `family`, or "" if invalid.
std::string CanonicalHost(int family, std::string_view text) {
  std::string host(text);
  unsigned char bytes[sizeof(in6_addr)];
  if (inet_pton(family, host.c_str(), bytes) != 1) return "";
  char out[INET6_ADDRSTRLEN];
  return inet_ntop(family, bytes, out, sizeof out);
}

// One spelling per socket file: "//" and "/./" say the same as "/", so
// they are dropped, and ".." (whose meaning depends on symlinks) is refused.
// Otherwise "/run/x.sock" and "/run//x.sock" would pass --check as two
// sockets and collide at bind.
// Returns "" with `error` set for a path that cannot be normalised.
std::string NormalUnixPath(std::string_view path, std::string& error) {
  std::string normal;
  size_t i = 0;
  while (i < path.size()) {
    size_t end = std::min(path.find('/', i), path.size());
    std::string_view part = path.substr(i, end - i);
    i = end + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      error = "a unix socket path must not contain '..': write the directory it means";
      return "";
    }
    normal.append(1, '/').append(part);
  }
  if (normal.empty() || path.back() == '/') {
    error = "a unix socket path must name a file, not a directory";
    return "";
  }
  return normal;
}

std::variant<Address, std::string> ParseUnix(std::string_view written) {
  if (written.empty() || written[0] != '/') return std::string("a unix socket path must be absolute");
  std::string error;
  std::string normal = NormalUnixPath(written, error);
  if (normal.empty()) return error;
  std::string_view path = normal;
  if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return "unix socket path is longer than " + std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) +
           " bytes";
  }
  Address address;
  address.family = Address::Family::kUnix;
  address.path = std::string(path);
  return address;
}

std::variant<Address, std::string> WithPort(Address address, std::string_view port_text) {
  auto port = ParsePort(port_text);
  if (auto* error = std::get_if<std::string>(&port)) return *error;
  address.port = std::get<uint16_t>(port);
  return address;
}

std::variant<Address, std::string> ParseBracketed(std::string_view text) {
  size_t close = text.find(']');
  if (close == std::string_view::npos) return std::string("missing ']' after IPv6 address");
  if (close + 1 >= text.size() || text[close + 1] != ':') {
    return std::string("expected ':PORT' after ']'");
  }
  Address address;
  address.family = Address::Family::kIPv6;
  address.host = CanonicalHost(AF_INET6, text.substr(1, close - 1));
  if (address.host.empty()) {
    return Quoted(text.substr(1, close - 1)) + " is not a numeric IPv6 address";
  }
  // An IPv6 listener never gets these (yinetd binds IPv6 addresses
  // IPv6-only), so the bind would fail at start: refused here instead.
  if (address.host.rfind("::ffff:", 0) == 0 && address.host.find('.') != std::string::npos) {
    return Quoted(address.host) + " is an IPv4 address in IPv6 form: write " + address.host.substr(7) + ":" +
           std::string(text.substr(close + 2));
  }
  return WithPort(std::move(address), text.substr(close + 2));
}

std::variant<Address, std::string> ParseHostPort(std::string_view text) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return WithPort(Address{}, text);
  std::string_view host = text.substr(0, colon);
  Address address;
  if (host == "*" || host.empty()) {
    address.family = Address::Family::kAny;
  } else if (host.find(':') != std::string_view::npos) {
    return "IPv6 addresses need brackets: [" + std::string(host) + "]:PORT";
  } else {
    address.family = Address::Family::kIPv4;
    address.host = CanonicalHost(AF_INET, host);
    if (address.host.empty()) {
      return Quoted(host) + " is not a numeric IPv4 address (host names are not looked up)";
    }
  }
  return WithPort(std::move(address), text.substr(colon + 1));
}

}  // namespace

std::variant<Address, std::string> ParseAddress(std::string_view text) {
  if (text.empty()) return std::string("empty address");
  if (text.substr(0, kUnixPrefix.size()) == kUnixPrefix) return ParseUnix(text.substr(kUnixPrefix.size()));
  if (text[0] == '[') return ParseBracketed(text);
  return ParseHostPort(text);
}

std::string Address::ToString() const {
  switch (family) {
    case Family::kIPv4: return host + ":" + std::to_string(port);
    case Family::kIPv6: return "[" + host + "]:" + std::to_string(port);
    case Family::kAny: return std::to_string(port);
    case Family::kUnix: return std::string(kUnixPrefix) + path;
  }
  return "";
}

SockAddr ToSockAddr(const Address& address, bool any_as_ipv6) {
  SockAddr out;
  bool v6 = address.family == Address::Family::kIPv6 ||
            (address.family == Address::Family::kAny && any_as_ipv6);
  if (address.family == Address::Family::kUnix) {
    auto* un = reinterpret_cast<sockaddr_un*>(&out.storage);
    un->sun_family = AF_UNIX;
    std::memcpy(un->sun_path, address.path.c_str(), address.path.size() + 1);
    out.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.path.size() + 1);
  } else if (v6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(address.port);
    in6->sin6_addr = in6addr_any;
    if (!address.host.empty()) inet_pton(AF_INET6, address.host.c_str(), &in6->sin6_addr);
    out.length = sizeof(sockaddr_in6);
  } else {
    auto* in4 = reinterpret_cast<sockaddr_in*>(&out.storage);
    in4->sin_family = AF_INET;
    in4->sin_port = htons(address.port);
    in4->sin_addr.s_addr = htonl(INADDR_ANY);
    if (!address.host.empty()) inet_pton(AF_INET, address.host.c_str(), &in4->sin_addr);
    out.length = sizeof(sockaddr_in);
  }
  return out;
}

std::string Endpoint::ToString() const {
  if (is_unix) return std::string(kUnixPrefix) + ip;
  if (ip.find(':') != std::string::npos) return "[" + ip + "]:" + std::to_string(port);
  return ip + ":" + std::to_string(port);
}

Endpoint ToEndpoint(const sockaddr* addr, socklen_t length) {
  Endpoint endpoint;
  char text[INET6_ADDRSTRLEN] = "";
  if (addr->sa_family == AF_INET) {
    const auto* in4 = reinterpret_cast<const sockaddr_in*>(addr);
    inet_ntop(AF_INET, &in4->sin_addr, text, sizeof text);
    endpoint.port = ntohs(in4->sin_port);
  } else if (addr->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], text, sizeof text);
    } else {
      inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    }
    endpoint.port = ntohs(in6->sin6_port);
  } else if (addr->sa_family == AF_UNIX) {
    const auto* un = reinterpret_cast<const sockaddr_un*>(addr);
    endpoint.is_unix = true;
    size_t max = length > offsetof(sockaddr_un, sun_path) ? length - offsetof(sockaddr_un, sun_path) : 0;
    endpoint.ip = std::string(un->sun_path, strnlen(un->sun_path, max));
    return endpoint;
  }
  endpoint.ip = text;
  return endpoint;
}

std::string Quoted(std::string_view text) {
  std::string quoted;
  quoted.reserve(text.size() + 2);
  quoted.append(1, '\'').append(text).append(1, '\'');
  return quoted;
}

}  // namespace yinetd::net
