#include "log/logfmt.h"

namespace yinetd::log {
namespace {

bool NeedsQuoting(std::string_view value) {
  if (value.empty()) return true;
  for (unsigned char c : value) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f) return true;
  }
  return false;
}

void AppendEscaped(std::string& out, unsigned char c) {
  static constexpr char kHex[] = "0123456789abcdef";
  switch (c) {
    case '"': out += "\\\""; break;
    case '\\': out += "\\\\"; break;
    case '\n': out += "\\n"; break;
    case '\r': out += "\\r"; break;
    case '\t': out += "\\t"; break;
    default:
      if (c < ' ' || c == 0x7f) {
        out += "\\x";
        out += kHex[c >> 4];
        out += kHex[c & 0xf];
      } else {
        out += static_cast<char>(c);
      }
  }
}

}  // namespace

std::string QuoteValue(std::string_view value) {
  if (!NeedsQuoting(value)) return std::string(value);
  std::string out = "\"";
  for (unsigned char c : value) AppendEscaped(out, c);
  out += '"';
  return out;
}

Line::Line(std::string_view event) {
  text_ = "event=";
  text_ += event;
}

Line& Line::Add(std::string_view key, std::string_view value) {
  if (NeedsQuoting(value)) return AddRaw(key, QuoteValue(value));
  return AddRaw(key, value);
}

Line& Line::AddRaw(std::string_view key, std::string_view value) {
  text_ += ' ';
  text_ += key;
  text_ += '=';
  text_ += value;
  return *this;
}

}  // namespace yinetd::log
