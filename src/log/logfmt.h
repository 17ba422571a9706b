// Logfmt: builds one `key=value key=value` line.
//
// Values that contain spaces, quotes, '=', backslashes or control bytes are
// quoted with backslash escapes, so a line always splits back into the same
// fields. Pure: no I/O.
#pragma once

#include <string>
#include <string_view>
#include <type_traits>

namespace yinetd::log {

class Line {
 public:
  explicit Line(std::string_view event);

  Line& Add(std::string_view key, std::string_view value);
  Line& Add(std::string_view key, const char* value) { return Add(key, std::string_view(value)); }
  Line& Add(std::string_view key, const std::string& value) { return Add(key, std::string_view(value)); }
  template <typename Int, typename = std::enable_if_t<std::is_integral_v<Int>>>
  Line& Add(std::string_view key, Int value) {
    return AddRaw(key, std::to_string(value));
  }

  const std::string& Text() const { return text_; }

 private:
  Line& AddRaw(std::string_view key, std::string_view value);
  std::string text_;
};

// `value` as it appears after `key=`: bare when safe, quoted otherwise.
std::string QuoteValue(std::string_view value);

}  // namespace yinetd::log
