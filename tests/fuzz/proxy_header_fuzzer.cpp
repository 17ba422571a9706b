// libFuzzer target: the PROXY protocol header parser. The input is fed in
// pieces whose sizes come from its first byte; whatever the split, the
// verdict and the header's length must be those of a single feed, and no
// feed may claim more bytes than it was given.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "net/proxy_header.h"

using yinetd::net::ProxyHeaderParser;
using yinetd::net::ProxyParse;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t step = data[0] % 17 + 1;
  std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  ProxyHeaderParser whole_parser({true, true});
  ProxyParse whole = whole_parser.Feed(stream);
  ProxyHeaderParser parser({true, true});
  ProxyParse piece;
  size_t consumed = 0;
  for (size_t at = 0; at < stream.size(); at += step) {
    std::string_view part = stream.substr(at, step);
    piece = parser.Feed(part);
    if (piece.consumed > part.size()) std::abort();
    consumed += piece.consumed;
    if (piece.status != ProxyParse::Status::kNeedMore) break;
  }
  if (stream.empty()) return 0;
  if (piece.status != whole.status) std::abort();
  if (whole.status == ProxyParse::Status::kComplete) {
    if (consumed != whole.consumed || whole.consumed > stream.size()) std::abort();
    if (whole.consumed > yinetd::net::kMaxProxyHeaderBytes) std::abort();
    if (!(piece.header.tlvs == whole.header.tlvs) || piece.header.local != whole.header.local) std::abort();
    if (!whole.header.local) whole.header.Client().ToString();
  }
  return 0;
}
