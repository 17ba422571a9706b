// libFuzzer target: the control request parser, fed what a local client
// may send. A parsed request must format back to a line that parses to the
// same request; nothing may be read past the first newline or kMaxRequest.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "control/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace yinetd::control;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  ParseResult result = ParseRequest(text);
  if (auto* request = std::get_if<Request>(&result)) {
    if (text.find('\n') >= kMaxRequest) std::abort();
    ParseResult again = ParseRequest(FormatRequest(*request));
    auto* reparsed = std::get_if<Request>(&again);
    if (reparsed == nullptr || !(*reparsed == *request)) std::abort();
  }
  if (std::holds_alternative<Incomplete>(result) && (text.find('\n') != std::string_view::npos || size >= kMaxRequest)) {
    std::abort();
  }
  auto answer = ParseAnswer(text);
  if (answer && (answer->first < 0 || answer->first > 255)) std::abort();
  return 0;
}
