#include "net/proxy_header.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace yinetd::net {
namespace {

using Status = ProxyParse::Status;

constexpr ProxyVersions kBoth{true, true};
const std::string kSig("\r\n\r\n\0\r\nQUIT\n", 12);

std::string Be16(size_t value) {
  return std::string{static_cast<char>((value >> 8) & 0xff), static_cast<char>(value & 0xff)};
}

std::string Tlv(uint8_t type, const std::string& value) {
  return std::string(1, static_cast<char>(type)) + Be16(value.size()) + value;
}

// A v2 header: command byte, family byte, then `body` (addresses and TLVs).
std::string V2(uint8_t version_command, uint8_t family, const std::string& body) {
  return kSig + std::string{static_cast<char>(version_command), static_cast<char>(family)} + Be16(body.size()) + body;
}

// TCP over IPv4 from 192.0.2.7:40000 to 198.51.100.1:2222, then `tlvs`.
std::string V2Tcp4(const std::string& tlvs = "") {
  std::string block{'\xc0', '\x00', '\x02', '\x07', '\xc6', '\x33', '\x64', '\x01'};
  return V2(0x21, 0x11, block + Be16(40000) + Be16(2222) + tlvs);
}

std::string V2Tcp6() {
  std::string src(16, '\0'), dst(16, '\0');
  src[0] = '\x20'; src[1] = '\x01'; src[2] = '\x0d'; src[3] = '\xb8'; src[15] = '\x01';
  dst[0] = '\x20'; dst[1] = '\x01'; dst[2] = '\x0d'; dst[3] = '\xb8'; dst[15] = '\x02';
  return V2(0x21, 0x21, src + dst + Be16(5000) + Be16(443));
}

ProxyParse ParseAll(const std::string& bytes, ProxyVersions versions = kBoth) {
  ProxyHeaderParser parser(versions);
  return parser.Feed(bytes);
}

// Feeds `bytes` one at a time; returns the final result and checks that
// every byte before the end was taken as part of the header.
ProxyParse ParseByteByByte(const std::string& bytes, size_t& total_consumed) {
  ProxyHeaderParser parser(kBoth);
  total_consumed = 0;
  ProxyParse result;
  for (char c : bytes) {
    result = parser.Feed(std::string_view(&c, 1));
    total_consumed += result.consumed;
    if (result.status != Status::kNeedMore) return result;
    CHECK(result.consumed == 1);
  }
  return result;
}

TEST_CASE("v1 TCP4: client and server addresses, and nothing after the CRLF consumed") {
  std::string header = "PROXY TCP4 192.0.2.7 198.51.100.1 40000 2222\r\n";
  ProxyParse result = ParseAll(header + "GET / HTTP/1.0\r\n");
  REQUIRE(result.status == Status::kComplete);
  CHECK(result.consumed == header.size());
  CHECK(result.header.version == 1);
  CHECK_FALSE(result.header.local);
  CHECK(result.header.Client().ToString() == "192.0.2.7:40000");
  CHECK(result.header.Server().ToString() == "198.51.100.1:2222");
}

TEST_CASE("v1 TCP6 and a second header after the first is application data") {
  std::string header = "PROXY TCP6 2001:db8::1 2001:db8::2 5000 443\r\n";
  ProxyParse result = ParseAll(header + "PROXY TCP4 10.0.0.1 10.0.0.2 1 2\r\n");
  REQUIRE(result.status == Status::kComplete);
  CHECK(result.consumed == header.size());
  CHECK(result.header.Client().ToString() == "[2001:db8::1]:5000");
  CHECK(result.header.client_ip.v6);
}

TEST_CASE("v1 UNKNOWN, bare or with addresses, carries no client") {
  for (std::string header : {"PROXY UNKNOWN\r\n", "PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n"}) {
    ProxyParse result = ParseAll(header + "x");
    REQUIRE(result.status == Status::kComplete);
    CHECK(result.consumed == header.size());
    CHECK(result.header.local);
  }
}

TEST_CASE("v1 of the longest allowed length (107 bytes) is taken; one more byte is not") {
  std::string longest = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
  REQUIRE(longest.size() == 104);
  std::string unknown = "PROXY UNKNOWN " + std::string(107 - 16, 'a') + "\r\n";
  REQUIRE(unknown.size() == 107);
  CHECK(ParseAll(unknown).status == Status::kComplete);
  std::string too_long = "PROXY UNKNOWN " + std::string(107 - 15, 'a') + "\r\n";
  CHECK(ParseAll(too_long).status == Status::kInvalid);
  // Without any newline the verdict comes at byte 107, without waiting.
  CHECK(ParseAll("PROXY UNKNOWN " + std::string(200, 'a')).status == Status::kInvalid);
  CHECK(ParseAll(longest).status == Status::kComplete);
}

TEST_CASE("v1 malformed lines are invalid") {
  const char* bad[] = {
      "PROXY TCP4 192.0.2.7 198.51.100.1 40000\r\n",           // a port missing
      "PROXY TCP4 192.0.2.7 198.51.100.1 40000 2222 9\r\n",    // one word too many
      "PROXY TCP4  192.0.2.7 198.51.100.1 40000 2222\r\n",     // two spaces
      "PROXY TCP4 192.0.2.7 198.51.100.1 40000 2222 \r\n",     // trailing space
      "PROXY TCP4 192.0.2.256 198.51.100.1 40000 2222\r\n",    // not an address
      "PROXY TCP4 2001:db8::1 198.51.100.1 40000 2222\r\n",    // IPv6 under TCP4
      "PROXY TCP6 192.0.2.7 2001:db8::2 40000 2222\r\n",       // IPv4 under TCP6
      "PROXY TCP4 192.0.2.7 198.51.100.1 65536 2222\r\n",      // port too large
      "PROXY TCP4 192.0.2.7 198.51.100.1 040000 2222\r\n",     // leading zero
      "PROXY TCP4 192.0.2.7 198.51.100.1 -1 2222\r\n",         // sign
      "PROXY UDP4 192.0.2.7 198.51.100.1 40000 2222\r\n",      // not TCP
      "PROXY TCP4 192.0.2.7 198.51.100.1 40000 2222\n",        // LF without CR
      "PROXY TCP4 192.0.2.7 198.51.100.1 40000 2222\rX\n",     // CR without LF
      "PROXY TCP4 192.0.2.7 198.51.\x01.1 40000 2222\r\n",     // control byte
      "PROXY \r\n",                                            // no protocol
      "proxy TCP4 192.0.2.7 198.51.100.1 40000 2222\r\n",      // lower case
  };
  for (const char* line : bad) {
    CAPTURE(line);
    CHECK(ParseAll(line).status == Status::kInvalid);
  }
}

TEST_CASE("v2 PROXY over TCP4 and TCP6") {
  std::string header = V2Tcp4();
  ProxyParse result = ParseAll(header + "hello");
  REQUIRE(result.status == Status::kComplete);
  CHECK(result.consumed == header.size());
  CHECK(result.header.version == 2);
  CHECK(result.header.Client().ToString() == "192.0.2.7:40000");
  CHECK(result.header.Server().ToString() == "198.51.100.1:2222");
  result = ParseAll(V2Tcp6());
  REQUIRE(result.status == Status::kComplete);
  CHECK(result.header.Client().ToString() == "[2001:db8::1]:5000");
  CHECK(result.header.Server().ToString() == "[2001:db8::2]:443");
}

TEST_CASE("v2 IPv4-mapped IPv6 addresses are the IPv4 client") {
  std::string src(10, '\0'), dst(10, '\0');
  src += std::string("\xff\xff\x0a\x00\x00\x05", 6);
  dst += std::string("\xff\xff\x0a\x00\x00\x01", 6);
  ProxyParse result = ParseAll(V2(0x21, 0x21, src + dst + Be16(1) + Be16(2)));
  REQUIRE(result.status == Status::kComplete);
  CHECK_FALSE(result.header.client_ip.v6);
  CHECK(result.header.client_ip.ToString() == "10.0.0.5");
}

TEST_CASE("v2 LOCAL (a health check) carries no client, whatever its family says") {
  for (uint8_t family : {0x00, 0x11, 0x31}) {
    ProxyParse result = ParseAll(V2(0x20, family, std::string(12, '\x7f')) + "rest");
    REQUIRE(result.status == Status::kComplete);
    CHECK(result.header.local);
    CHECK(result.consumed == 16 + 12);
  }
  ProxyParse bare = ParseAll(V2(0x20, 0x00, ""));
  CHECK(bare.status == Status::kComplete);
  CHECK(bare.header.local);
}

TEST_CASE("v2 PROXY with family UNSPEC is taken as carrying no client") {
  ProxyParse result = ParseAll(V2(0x21, 0x00, ""));
  REQUIRE(result.status == Status::kComplete);
  CHECK(result.header.local);
}

TEST_CASE("v2 TLVs: ALPN, AUTHORITY, UNIQUE_ID and the SSL sub-TLVs; unknown ones skipped") {
  std::string ssl_subs = Tlv(0x21, "TLSv1.3") + Tlv(0x22, "client.example") + Tlv(0x23, "TLS_AES_128_GCM_SHA256") +
                         Tlv(0x24, "SHA256");
  std::string ssl = std::string{'\x07', '\0', '\0', '\0', '\0'} + ssl_subs;
  std::string tlvs = Tlv(0x04, std::string(5, '\0')) + Tlv(0x01, "h2") + Tlv(0xe0, "custom") +
                     Tlv(0x02, "www.example") + Tlv(0x05, "id-42") + Tlv(0x20, ssl) + Tlv(0x03, "abcd");
  ProxyParse result = ParseAll(V2Tcp4(tlvs));
  REQUIRE(result.status == Status::kComplete);
  const ProxyTlvs& got = result.header.tlvs;
  CHECK(got.alpn == "h2");
  CHECK(got.authority == "www.example");
  CHECK(got.unique_id == "id-42");
  CHECK(got.ssl_version == "TLSv1.3");
  CHECK(got.ssl_cn == "client.example");
  CHECK(got.ssl_cipher == "TLS_AES_128_GCM_SHA256");
}

TEST_CASE("v2 without TLVs exposes none") {
  ProxyParse result = ParseAll(V2Tcp4());
  REQUIRE(result.status == Status::kComplete);
  CHECK(result.header.tlvs == ProxyTlvs{});
}

TEST_CASE("v2 bad TLV lengths, commands, versions and families are invalid") {
  std::vector<std::string> bad = {
      V2Tcp4("\x01"),                                   // a TLV cut in its type/length
      V2Tcp4(std::string("\x01\x00\x05" "ab", 5)),      // value shorter than its length
      V2Tcp4(Tlv(0x20, "abc")),                         // SSL shorter than its fixed part
      V2Tcp4(Tlv(0x20, std::string(5, '\0') + "\x21\x00\x09" "x")),  // sub-TLV overrun
      V2Tcp4(Tlv(0x05, std::string(129, 'u'))),         // UNIQUE_ID over 128
      V2(0x22, 0x11, std::string(12, '\0')),            // command 2
      V2(0x11, 0x11, std::string(12, '\0')),            // version 1 in a v2 header
      V2(0x31, 0x11, std::string(12, '\0')),            // version 3
      V2(0x21, 0x11, std::string(11, '\0')),            // IPv4 block too short
      V2(0x21, 0x21, std::string(35, '\0')),            // IPv6 block too short
      V2(0x21, 0x12, std::string(12, '\0')),            // UDP over IPv4
      V2(0x21, 0x31, std::string(216, '\0')),           // unix sockets
  };
  for (const std::string& header : bad) {
    CAPTURE(header.size());
    CHECK(ParseAll(header).status == Status::kInvalid);
  }
}

TEST_CASE("v2 header longer than the bound is refused as soon as its length is read") {
  std::string fixed = kSig + "\x21\x11" + Be16(kMaxProxyHeaderBytes - 16 + 1);
  ProxyParse result = ParseAll(fixed);
  CHECK(result.status == Status::kInvalid);
  std::string largest = V2Tcp4(Tlv(0x04, std::string(kMaxProxyHeaderBytes - 16 - 12 - 3, 'n')));
  REQUIRE(largest.size() == kMaxProxyHeaderBytes);
  CHECK(ParseAll(largest).status == Status::kComplete);
}

TEST_CASE("a wrong signature is refused at its first wrong byte") {
  CHECK(ParseAll("G").status == Status::kInvalid);
  CHECK(ParseAll("PROXX").status == Status::kInvalid);
  CHECK(ParseAll(std::string("\r\n\r\n\0\r\nQUIX", 12)).status == Status::kInvalid);
  CHECK(ParseAll("PROX").status == Status::kNeedMore);
  CHECK(ParseAll(std::string("\r\n\r\n\0", 5)).status == Status::kNeedMore);
  CHECK(ParseAll("SSH-2.0-OpenSSH\r\n").status == Status::kInvalid);
}

TEST_CASE("a service taking one version refuses the other") {
  CHECK(ParseAll(V2Tcp4(), ProxyVersions{true, false}).status == Status::kInvalid);
  CHECK(ParseAll("PROXY UNKNOWN\r\n", ProxyVersions{false, true}).status == Status::kInvalid);
  CHECK(ParseAll(V2Tcp4(), ProxyVersions{false, true}).status == Status::kComplete);
  CHECK(ParseAll("PROXY UNKNOWN\r\n", ProxyVersions{true, false}).status == Status::kComplete);
}

TEST_CASE("every truncation point of valid headers needs more, and never completes early") {
  std::string ssl = std::string(5, '\0') + Tlv(0x22, "cn");
  std::vector<std::string> headers = {
      "PROXY TCP4 192.0.2.7 198.51.100.1 40000 2222\r\n", "PROXY TCP6 2001:db8::1 2001:db8::2 5000 443\r\n",
      "PROXY UNKNOWN\r\n", V2Tcp4(), V2Tcp6(), V2(0x20, 0x00, ""),
      V2Tcp4(Tlv(0x01, "h2") + Tlv(0x20, ssl)),
  };
  for (const std::string& header : headers) {
    for (size_t cut = 0; cut < header.size(); ++cut) {
      CAPTURE(cut);
      ProxyParse result = ParseAll(header.substr(0, cut));
      CHECK(result.status == Status::kNeedMore);
      CHECK(result.consumed == cut);
    }
  }
}

TEST_CASE("one byte at a time gives the same header and consumes exactly its bytes") {
  std::vector<std::string> headers = {"PROXY TCP4 192.0.2.7 198.51.100.1 40000 2222\r\n", V2Tcp6(),
                                      V2Tcp4(Tlv(0x02, "host") + Tlv(0x05, "u"))};
  for (const std::string& header : headers) {
    size_t consumed = 0;
    ProxyParse result = ParseByteByByte(header + "tail", consumed);
    REQUIRE(result.status == Status::kComplete);
    CHECK(consumed == header.size());
    CHECK(result.header.Client().ToString() == ParseAll(header).header.Client().ToString());
    CHECK(result.header.tlvs == ParseAll(header).header.tlvs);
  }
}

TEST_CASE("split in two at every point: the parts' consumed counts add up to the header") {
  std::string header = V2Tcp4(Tlv(0x01, "http/1.1"));
  std::string stream = header + "application bytes";
  for (size_t split = 0; split <= stream.size(); ++split) {
    ProxyHeaderParser parser(kBoth);
    ProxyParse first = parser.Feed(std::string_view(stream).substr(0, split));
    size_t consumed = first.consumed;
    if (first.status == Status::kNeedMore) {
      ProxyParse second = parser.Feed(std::string_view(stream).substr(split));
      REQUIRE(second.status == Status::kComplete);
      consumed += second.consumed;
    }
    CHECK(consumed == header.size());
  }
}

TEST_CASE("Room never lets a feed reach past a v2 header's announced end") {
  std::string header = V2Tcp4();
  ProxyHeaderParser parser(kBoth);
  parser.Feed(std::string_view(header).substr(0, 16));
  CHECK(parser.Room() == header.size() - 16);
  ProxyHeaderParser v1(kBoth);
  v1.Feed("PROXY ");
  CHECK(v1.Room() == kMaxProxyV1Bytes - 6);
}

TEST_CASE("after a verdict, further feeds consume nothing") {
  ProxyHeaderParser parser(kBoth);
  REQUIRE(parser.Feed("PROXY UNKNOWN\r\n").status == Status::kComplete);
  ProxyParse again = parser.Feed("more");
  CHECK(again.status == Status::kComplete);
  CHECK(again.consumed == 0);
  ProxyHeaderParser bad(kBoth);
  REQUIRE(bad.Feed("X").status == Status::kInvalid);
  CHECK(bad.Feed("PROXY UNKNOWN\r\n").status == Status::kInvalid);
}

}  // namespace
}  // namespace yinetd::net
