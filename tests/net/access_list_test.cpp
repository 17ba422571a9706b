#include "net/access_list.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>

namespace yinetd::net {
namespace {

Cidr C(std::string_view text) {
  auto result = ParseCidr(text);
  const std::string* error = std::get_if<std::string>(&result);
  REQUIRE_MESSAGE(error == nullptr, (error ? *error : ""));
  return std::get<Cidr>(result);
}

std::string Error(std::string_view text) {
  auto result = ParseCidr(text);
  REQUIRE(std::holds_alternative<std::string>(result));
  return std::get<std::string>(result);
}

IpAddress Ip(const char* text) {
  sockaddr_in6 in6{};
  sockaddr_in in4{};
  if (inet_pton(AF_INET, text, &in4.sin_addr) == 1) {
    in4.sin_family = AF_INET;
    return *IpOf(reinterpret_cast<sockaddr*>(&in4));
  }
  REQUIRE(inet_pton(AF_INET6, text, &in6.sin6_addr) == 1);
  in6.sin6_family = AF_INET6;
  return *IpOf(reinterpret_cast<sockaddr*>(&in6));
}

TEST_CASE("prefixes and single addresses parse") {
  CHECK(C("10.0.0.0/8").ToString() == "10.0.0.0/8");
  CHECK(C("192.0.2.7").ToString() == "192.0.2.7/32");
  CHECK(C("::1").ToString() == "::1/128");
  CHECK(C("2001:db8::/32").ToString() == "2001:db8::/32");
  CHECK(C("0.0.0.0/0").Contains(Ip("203.0.113.9")));
  CHECK(C("::ffff:10.1.2.3").ToString() == "10.1.2.3/32");  // mapped = IPv4
}

TEST_CASE("bad prefixes say what is wrong") {
  CHECK(Error("10.0.0.1/8") == "'10.0.0.1/8' has host bits set: did you mean 10.0.0.0/8?");
  CHECK(Error("10.0.0.0/33") == "prefix length '33' must be a number from 0 to 32");
  CHECK(Error("::/129") == "prefix length '129' must be a number from 0 to 128");
  CHECK(Error("10.0.0.0/x") == "prefix length 'x' must be a number from 0 to 32");
  CHECK(Error("example.com") == "'example.com' is not a numeric IPv4 or IPv6 address");
}

TEST_CASE("containment respects the prefix and the family") {
  Cidr ten = C("10.0.0.0/8");
  CHECK(ten.Contains(Ip("10.255.1.1")));
  CHECK_FALSE(ten.Contains(Ip("11.0.0.1")));
  CHECK_FALSE(ten.Contains(Ip("::a00:1")));  // an IPv6 address with the same bytes
  Cidr doc = C("2001:db8::/33");
  CHECK(doc.Contains(Ip("2001:db8:7fff::1")));
  CHECK_FALSE(doc.Contains(Ip("2001:db8:8000::1")));
}

TEST_CASE("an IPv4-mapped client is checked as its IPv4 address") {
  IpAddress mapped = Ip("::ffff:10.1.2.3");
  CHECK_FALSE(mapped.v6);
  CHECK(mapped.ToString() == "10.1.2.3");
  AccessList list{{}, {C("10.0.0.0/8")}};
  CHECK_FALSE(list.Permits(mapped));
}

TEST_CASE("allow, deny, and deny over allow") {
  AccessList open;
  CHECK(open.Permits(Ip("198.51.100.1")));
  AccessList only_local{{C("127.0.0.0/8"), C("::1")}, {}};
  CHECK(only_local.Permits(Ip("127.0.0.2")));
  CHECK(only_local.Permits(Ip("::1")));
  CHECK_FALSE(only_local.Permits(Ip("198.51.100.1")));
  AccessList deny_wins{{C("127.0.0.0/8")}, {C("127.0.0.2")}};
  CHECK(deny_wins.Permits(Ip("127.0.0.1")));
  CHECK_FALSE(deny_wins.Permits(Ip("127.0.0.2")));
}

TEST_CASE("masking keeps the prefix bits only") {
  CHECK(Ip("192.168.37.200").Masked(24).ToString() == "192.168.37.0");
  CHECK(Ip("192.168.37.200").Masked(20).ToString() == "192.168.32.0");
  CHECK(Ip("2001:db8:1:2:3:4:5:6").Masked(64).ToString() == "2001:db8:1:2::");
  CHECK(Ip("10.0.0.1").Masked(0).ToString() == "0.0.0.0");
}

}  // namespace
}  // namespace yinetd::net
