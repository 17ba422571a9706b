// libFuzzer target: the address and CIDR parsers. Anything they accept must
// print back to text that parses to the same value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "net/access_list.h"
#include "net/address.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto address = yinetd::net::ParseAddress(text);
  if (auto* parsed = std::get_if<yinetd::net::Address>(&address)) {
    auto again = yinetd::net::ParseAddress(parsed->ToString());
    auto* reparsed = std::get_if<yinetd::net::Address>(&again);
    if (reparsed == nullptr || !(*reparsed == *parsed)) std::abort();
    yinetd::net::ToSockAddr(*parsed);
  }
  auto cidr = yinetd::net::ParseCidr(text);
  if (auto* parsed = std::get_if<yinetd::net::Cidr>(&cidr)) {
    auto again = yinetd::net::ParseCidr(parsed->ToString());
    auto* reparsed = std::get_if<yinetd::net::Cidr>(&again);
    if (reparsed == nullptr || !(*reparsed == *parsed)) std::abort();
    if (!parsed->Contains(parsed->network)) std::abort();
  }
  return 0;
}
