#include "net/address.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/un.h>

namespace yinetd::net {
namespace {

Address Parse(std::string_view text) {
  auto result = ParseAddress(text);
  const std::string* error = std::get_if<std::string>(&result);
  REQUIRE_MESSAGE(error == nullptr, (error ? *error : ""));
  return std::get<Address>(result);
}

std::string Error(std::string_view text) {
  auto result = ParseAddress(text);
  REQUIRE(std::holds_alternative<std::string>(result));
  return std::get<std::string>(result);
}

TEST_CASE("IPv4 host and port") {
  Address a = Parse("127.0.0.1:7007");
  CHECK(a.family == Address::Family::kIPv4);
  CHECK(a.host == "127.0.0.1");
  CHECK(a.port == 7007);
  CHECK(a.ToString() == "127.0.0.1:7007");
}

TEST_CASE("IPv6 in brackets is canonicalised") {
  Address a = Parse("[0:0::1]:80");
  CHECK(a.family == Address::Family::kIPv6);
  CHECK(a.host == "::1");
  CHECK(a.ToString() == "[::1]:80");
  // Never received by an IPv6-only socket: refused with the form to write.
  CHECK(Error("[::ffff:127.0.0.1]:1") == "'::ffff:127.0.0.1' is an IPv4 address in IPv6 form: write 127.0.0.1:1");
}

TEST_CASE("a unix path has one spelling: '//' and '/./' are dropped, '..' refused") {
  CHECK(Parse("unix:/run//x.sock").path == "/run/x.sock");
  CHECK(Parse("unix:/run/./x.sock").path == "/run/x.sock");
  CHECK(Parse("unix://run/x.sock") == Parse("unix:/run/x.sock"));
  CHECK(Error("unix:/run/../x.sock").find("must not contain '..'") != std::string::npos);
  CHECK(Error("unix:/run/") == "a unix socket path must name a file, not a directory");
  CHECK(Error("unix:/") == "a unix socket path must name a file, not a directory");
}

TEST_CASE("a bare port or *:port means every address") {
  CHECK(Parse("7007").family == Address::Family::kAny);
  CHECK(Parse("*:7007") == Parse("7007"));
  CHECK(Parse(":7007").ToString() == "7007");
}

TEST_CASE("unix paths") {
  Address a = Parse("unix:/run/yinetd/echo.sock");
  CHECK(a.family == Address::Family::kUnix);
  CHECK(a.path == "/run/yinetd/echo.sock");
  CHECK(a.ToString() == "unix:/run/yinetd/echo.sock");
  CHECK_FALSE(a.IsInet());
}

TEST_CASE("errors say what is wrong") {
  CHECK(Error("") == "empty address");
  CHECK(Error("1.2.3.4:") == "missing port number after ':'");
  CHECK(Error("1.2.3.4:http") == "port 'http' is not a number");
  CHECK(Error("1.2.3.4:65536") == "port 65536 is out of range (1-65535)");
  CHECK(Error("1.2.3.4:99999999999999999999") == "port 99999999999999999999 is out of range (1-65535)");
  CHECK(Error("1.2.3.4:-1") == "port '-1' is not a number");
  CHECK(Error("0") == "port 0 is out of range (1-65535)");
  CHECK(Error("1.2.3:80") == "'1.2.3' is not a numeric IPv4 address (host names are not looked up)");
  CHECK(Error("[::1]80") == "expected ':PORT' after ']'");
  CHECK(Error("[::1:80") == "missing ']' after IPv6 address");
  CHECK(Error("[zz]:80") == "'zz' is not a numeric IPv6 address");
  CHECK(Error("fe80::1:80") == "IPv6 addresses need brackets: [fe80::1]:PORT");
  CHECK(Error("unix:") == "a unix socket path must be absolute");
  CHECK(Error("unix:/" + std::string(200, 'x')).find("longer than") != std::string::npos);
}

TEST_CASE("sockaddr conversion") {
  SockAddr v4 = ToSockAddr(Parse("127.0.0.2:81"));
  CHECK(v4.Family() == AF_INET);
  CHECK(v4.length == sizeof(sockaddr_in));
  const auto* in4 = reinterpret_cast<const sockaddr_in*>(v4.Get());
  CHECK(ntohs(in4->sin_port) == 81);
  CHECK(ntohl(in4->sin_addr.s_addr) == 0x7f000002);

  CHECK(ToSockAddr(Parse("81")).Family() == AF_INET6);
  CHECK(ToSockAddr(Parse("81"), false).Family() == AF_INET);
  CHECK(ToSockAddr(Parse("unix:/tmp/s")).Family() == AF_UNIX);
}

TEST_CASE("endpoints show v4-mapped peers as IPv4") {
  sockaddr_in6 in6 = {};
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(40000);
  inet_pton(AF_INET6, "::ffff:127.0.0.1", &in6.sin6_addr);
  Endpoint e = ToEndpoint(reinterpret_cast<sockaddr*>(&in6), sizeof in6);
  CHECK(e.ip == "127.0.0.1");
  CHECK(e.port == 40000);
  CHECK(e.ToString() == "127.0.0.1:40000");

  inet_pton(AF_INET6, "::1", &in6.sin6_addr);
  CHECK(ToEndpoint(reinterpret_cast<sockaddr*>(&in6), sizeof in6).ToString() == "[::1]:40000");

  sockaddr_un un = {};
  un.sun_family = AF_UNIX;
  Endpoint unnamed = ToEndpoint(reinterpret_cast<sockaddr*>(&un), sizeof(sa_family_t));
  CHECK(unnamed.is_unix);
  CHECK(unnamed.ToString() == "unix:");
}

}  // namespace
}  // namespace yinetd::net
