#include "net/proxy_header.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <vector>

namespace yinetd::net {
namespace {

constexpr std::string_view kV1Signature = "PROXY ";
constexpr std::string_view kV2Signature{"\r\n\r\n\0\r\nQUIT\n", 12};

// v2 command (low nibble of byte 12) and address family + transport (byte 13).
constexpr uint8_t kCommandLocal = 0x0;
constexpr uint8_t kCommandProxy = 0x1;
constexpr uint8_t kFamilyUnspec = 0x00;
constexpr uint8_t kTcpOverIpv4 = 0x11;
constexpr uint8_t kTcpOverIpv6 = 0x21;
constexpr size_t kIpv4Block = 12;  // two addresses of 4 bytes, two ports
constexpr size_t kIpv6Block = 36;  // two addresses of 16 bytes, two ports

// TLV types (PP2_TYPE_* and PP2_SUBTYPE_SSL_*).
constexpr uint8_t kTlvAlpn = 0x01;
constexpr uint8_t kTlvAuthority = 0x02;
constexpr uint8_t kTlvUniqueId = 0x05;
constexpr uint8_t kTlvSsl = 0x20;
constexpr uint8_t kTlvSslVersion = 0x21;
constexpr uint8_t kTlvSslCn = 0x22;
constexpr uint8_t kTlvSslCipher = 0x23;
constexpr size_t kMaxUniqueId = 128;
constexpr size_t kSslFixedBytes = 5;  // client flags (1) and verify result (4)

// True when `buffer` could still begin with `signature` (or does).
bool MayStartWith(std::string_view buffer, std::string_view signature) {
  size_t n = std::min(buffer.size(), signature.size());
  return buffer.compare(0, n, signature.substr(0, n)) == 0;
}

uint16_t BigEndian16(std::string_view bytes, size_t at) {
  return static_cast<uint16_t>((static_cast<uint8_t>(bytes[at]) << 8) | static_cast<uint8_t>(bytes[at + 1]));
}

IpAddress IpFromBytes(std::string_view bytes, size_t at, size_t size) {
  IpAddress ip;
  ip.v6 = size == 16;
  std::memcpy(ip.bytes.data(), bytes.data() + at, size);
  // An IPv4-mapped address is the IPv4 client it carries, as everywhere in
  // yinetd (access_list.h).
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (ip.v6 && std::memcmp(ip.bytes.data(), kMapped, 12) == 0) {
    IpAddress v4;
    std::memcpy(v4.bytes.data(), ip.bytes.data() + 12, 4);
    return v4;
  }
  return ip;
}

// "0" to "65535", no sign, no leading zero.
std::optional<uint16_t> ParsePort(std::string_view text) {
  if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0')) return std::nullopt;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value > 65535) return std::nullopt;
  return static_cast<uint16_t>(value);
}

std::vector<std::string_view> SplitOnSpaces(std::string_view line) {
  std::vector<std::string_view> words;
  size_t start = 0;
  for (;;) {
    size_t space = line.find(' ', start);
    words.push_back(line.substr(start, space - start));
    if (space == std::string_view::npos) return words;
    start = space + 1;
  }
}

// An address of a v1 line: TCP4 takes dotted quads only, TCP6 IPv6 text only.
std::optional<IpAddress> ParseV1Ip(std::string_view text, bool tcp6) {
  bool has_colon = text.find(':') != std::string_view::npos;
  if (has_colon != tcp6) return std::nullopt;
  return ParseIp(std::string(text));
}

// The v1 line without its CRLF: "PROXY TCP4 192.0.2.1 198.51.100.1 5000 80".
std::optional<std::string> ParseV1Line(std::string_view line, ProxyHeader& header) {
  header.version = 1;
  bool printable = std::all_of(line.begin(), line.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
  if (!printable) return "v1 line holds a byte that is not printable ASCII";
  std::vector<std::string_view> words = SplitOnSpaces(line);
  if (words.size() < 2 || words[0] != "PROXY") return "v1 line does not start with 'PROXY '";
  if (words[1] == "UNKNOWN") {
    header.local = true;  // whatever follows is ignored, as the specification says
    return std::nullopt;
  }
  if (words[1] != "TCP4" && words[1] != "TCP6") return "v1 protocol must be TCP4, TCP6 or UNKNOWN";
  if (words.size() != 6) return "v1 line must hold two addresses and two ports, each after one space";
  bool tcp6 = words[1] == "TCP6";
  auto client = ParseV1Ip(words[2], tcp6);
  auto server = ParseV1Ip(words[3], tcp6);
  if (!client || !server) return "v1 address is not a valid " + std::string(tcp6 ? "IPv6" : "IPv4") + " address";
  auto client_port = ParsePort(words[4]);
  auto server_port = ParsePort(words[5]);
  if (!client_port || !server_port) return "v1 port is not a number from 0 to 65535";
  header.client_ip = *client;
  header.server_ip = *server;
  header.client_port = *client_port;
  header.server_port = *server_port;
  return std::nullopt;
}

// The TLVs in `region`; within an SSL TLV (`in_ssl`), its sub-TLVs.
std::optional<std::string> ParseTlvs(std::string_view region, bool in_ssl, ProxyTlvs& tlvs) {
  size_t at = 0;
  while (at < region.size()) {
    if (region.size() - at < 3) return "v2 TLV shorter than its 3-byte type and length";
    uint8_t type = static_cast<uint8_t>(region[at]);
    size_t length = BigEndian16(region, at + 1);
    at += 3;
    if (length > region.size() - at) return "v2 TLV length runs past the end of the header";
    std::string_view value = region.substr(at, length);
    at += length;
    if (in_ssl) {
      if (type == kTlvSslVersion) tlvs.ssl_version = std::string(value);
      if (type == kTlvSslCn) tlvs.ssl_cn = std::string(value);
      if (type == kTlvSslCipher) tlvs.ssl_cipher = std::string(value);
      continue;  // other sub-TLVs (signature and key algorithms) are skipped
    }
    switch (type) {
      case kTlvAlpn: tlvs.alpn = std::string(value); break;
      case kTlvAuthority: tlvs.authority = std::string(value); break;
      case kTlvUniqueId:
        if (value.size() > kMaxUniqueId) return "v2 UNIQUE_ID longer than 128 bytes";
        tlvs.unique_id = std::string(value);
        break;
      case kTlvSsl:
        if (value.size() < kSslFixedBytes) return "v2 SSL TLV shorter than its 5 fixed bytes";
        if (auto error = ParseTlvs(value.substr(kSslFixedBytes), true, tlvs)) return error;
        break;
      default: break;  // CRC32C, NOOP, NETNS and unknown types: skipped
    }
  }
  return std::nullopt;
}

// A whole v2 header (fixed part, addresses, TLVs).
std::optional<std::string> ParseV2(std::string_view bytes, ProxyHeader& header) {
  header.version = 2;
  uint8_t command = static_cast<uint8_t>(bytes[12]) & 0x0f;
  uint8_t family = static_cast<uint8_t>(bytes[13]);
  std::string_view body = bytes.substr(kProxyV2FixedBytes);
  if (command == kCommandLocal) {
    header.local = true;  // the addresses, if any, must be ignored
    return std::nullopt;
  }
  if (family == kFamilyUnspec) {
    header.local = true;
    return std::nullopt;
  }
  size_t ip_size = 0;
  if (family == kTcpOverIpv4) {
    ip_size = 4;
  } else if (family == kTcpOverIpv6) {
    ip_size = 16;
  } else {
    return "v2 family and transport must be TCP over IPv4 or IPv6, or UNSPEC";
  }
  size_t block = ip_size == 4 ? kIpv4Block : kIpv6Block;
  if (body.size() < block) return "v2 length too short for its addresses";
  header.client_ip = IpFromBytes(body, 0, ip_size);
  header.server_ip = IpFromBytes(body, ip_size, ip_size);
  header.client_port = BigEndian16(body, 2 * ip_size);
  header.server_port = BigEndian16(body, 2 * ip_size + 2);
  return ParseTlvs(body.substr(block), false, header.tlvs);
}

}  // namespace

ProxyParse ProxyHeaderParser::Invalid(std::string reason) {
  ProxyParse result;
  result.status = ProxyParse::Status::kInvalid;
  result.reason = std::move(reason);
  done_ = result;
  return result;
}

size_t ProxyHeaderParser::Room() const {
  if (done_) return 0;
  size_t limit = kMaxProxyHeaderBytes;
  if (!buffer_.empty() && buffer_[0] == 'P') limit = kMaxProxyV1Bytes;
  if (buffer_.size() >= kProxyV2FixedBytes && MayStartWith(buffer_, kV2Signature)) {
    limit = std::min(limit, kProxyV2FixedBytes + BigEndian16(buffer_, 14));
  }
  return limit > buffer_.size() ? limit - buffer_.size() : 0;
}

ProxyParse ProxyHeaderParser::Feed(std::string_view bytes) {
  if (done_) {
    ProxyParse again = *done_;
    again.consumed = 0;
    return again;
  }
  size_t fed = std::min(bytes.size(), Room());
  buffer_.append(bytes.substr(0, fed));
  return Step(fed);
}

// Classifies the buffer by its signature, then hands it to the version's step.
ProxyParse ProxyHeaderParser::Step(size_t fed) {
  bool v1 = versions_.v1 && MayStartWith(buffer_, kV1Signature);
  bool v2 = versions_.v2 && MayStartWith(buffer_, kV2Signature);
  if (!v1 && !v2) {
    if (MayStartWith(buffer_, kV1Signature) || MayStartWith(buffer_, kV2Signature)) {
      return Invalid(std::string("a PROXY header of a version this service does not take"));
    }
    return Invalid("no PROXY header signature");
  }
  if (buffer_.empty()) return ProxyParse{ProxyParse::Status::kNeedMore, 0, {}, {}};
  return v1 ? StepV1(fed) : StepV2(fed);
}

ProxyParse ProxyHeaderParser::StepV1(size_t fed) {
  size_t before = buffer_.size() - fed;
  size_t newline = buffer_.find('\n');
  if (newline == std::string::npos) {
    if (buffer_.size() >= kMaxProxyV1Bytes) return Invalid("v1 line longer than 107 bytes");
    // A CR must be the line's end: anything after it but LF is wrong.
    size_t cr = buffer_.find('\r');
    if (cr != std::string::npos && cr + 1 < buffer_.size()) return Invalid("v1 line has a CR without LF");
    return ProxyParse{ProxyParse::Status::kNeedMore, fed, {}, {}};
  }
  size_t length = newline + 1;
  if (newline == 0 || buffer_[newline - 1] != '\r') return Invalid("v1 line ends in LF without CR");
  if (length > kMaxProxyV1Bytes) return Invalid("v1 line longer than 107 bytes");
  buffer_.resize(length);
  ProxyParse result;
  if (auto error = ParseV1Line(std::string_view(buffer_).substr(0, length - 2), result.header)) {
    return Invalid(*error);
  }
  result.status = ProxyParse::Status::kComplete;
  result.consumed = length - before;
  done_ = result;
  return result;
}

ProxyParse ProxyHeaderParser::StepV2(size_t fed) {
  size_t before = buffer_.size() - fed;
  if (buffer_.size() < kProxyV2FixedBytes) return ProxyParse{ProxyParse::Status::kNeedMore, fed, {}, {}};
  uint8_t version_command = static_cast<uint8_t>(buffer_[12]);
  if ((version_command >> 4) != 2) return Invalid("v2 version nibble is not 2");
  uint8_t command = version_command & 0x0f;
  if (command != kCommandLocal && command != kCommandProxy) return Invalid("v2 command is neither LOCAL nor PROXY");
  size_t length = kProxyV2FixedBytes + BigEndian16(buffer_, 14);
  if (length > kMaxProxyHeaderBytes) return Invalid("v2 header longer than 4096 bytes");
  if (buffer_.size() < length) return ProxyParse{ProxyParse::Status::kNeedMore, fed, {}, {}};
  buffer_.resize(length);
  ProxyParse result;
  if (auto error = ParseV2(buffer_, result.header)) return Invalid(*error);
  result.status = ProxyParse::Status::kComplete;
  result.consumed = length - before;
  done_ = result;
  return result;
}

}  // namespace yinetd::net
