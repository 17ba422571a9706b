// The PROXY protocol header a load balancer sends before a client's bytes
// (HAProxy's proxy-protocol.txt, versions 1 and 2).
//
// An incremental, pure parser: the caller feeds bytes as they arrive and
// learns, for each feed, how many of them belong to the header. It never
// asks for a byte past the header's end, so the program's stdin starts at
// the first byte after it. No syscalls; every length is bounded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "net/access_list.h"
#include "net/address.h"

namespace yinetd::net {

// The largest header accepted, TLVs included. A v1 line is at most 107
// bytes by the specification; a v2 header may announce up to 65,551, but
// balancers send a few hundred, and a bound keeps a hostile peer from
// making us hold 64 KiB per connection.
inline constexpr size_t kMaxProxyHeaderBytes = 4096;
inline constexpr size_t kMaxProxyV1Bytes = 107;
// The v2 fixed part: signature (12), version/command, family, length (2).
inline constexpr size_t kProxyV2FixedBytes = 16;

// Which versions a service takes.
struct ProxyVersions {
  bool v1 = false;
  bool v2 = false;
};

// TLVs of a v2 header the program is told about; raw bytes as sent.
struct ProxyTlvs {
  std::optional<std::string> alpn;
  std::optional<std::string> authority;
  std::optional<std::string> unique_id;
  std::optional<std::string> ssl_version;
  std::optional<std::string> ssl_cn;
  std::optional<std::string> ssl_cipher;
  bool operator==(const ProxyTlvs&) const = default;
};

struct ProxyHeader {
  int version = 0;  // 1 or 2
  // True for a v2 LOCAL (the balancer's own health check), a v1 UNKNOWN and
  // a v2 PROXY of family UNSPEC: the header carries no client, and the
  // connection's real endpoints stand.
  bool local = false;
  IpAddress client_ip;   // source address; when !local
  uint16_t client_port = 0;
  IpAddress server_ip;   // destination address the client connected to
  uint16_t server_port = 0;
  ProxyTlvs tlvs;

  Endpoint Client() const { return Endpoint{client_ip.ToString(), client_port, false}; }
  Endpoint Server() const { return Endpoint{server_ip.ToString(), server_port, false}; }
};

struct ProxyParse {
  enum class Status { kNeedMore, kComplete, kInvalid };
  Status status = Status::kNeedMore;
  // Of the bytes just fed, how many belong to the header: all of them while
  // kNeedMore, up to its last byte when kComplete.
  size_t consumed = 0;
  ProxyHeader header;  // kComplete
  std::string reason;  // kInvalid: what is wrong, for the debug log
};

class ProxyHeaderParser {
 public:
  explicit ProxyHeaderParser(ProxyVersions versions) : versions_(versions) {}

  // Takes the next bytes of the connection. After kComplete or kInvalid the
  // parser is done, and further feeds return the same result.
  ProxyParse Feed(std::string_view bytes);

  // How many more bytes can belong to the header: feed at most this many.
  size_t Room() const;
  size_t Buffered() const { return buffer_.size(); }

 private:
  ProxyParse Invalid(std::string reason);
  ProxyParse Step(size_t fed);
  ProxyParse StepV1(size_t fed);
  ProxyParse StepV2(size_t fed);

  ProxyVersions versions_;
  std::string buffer_;  // the header bytes seen so far
  std::optional<ProxyParse> done_;
};

}  // namespace yinetd::net
