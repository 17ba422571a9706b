#include "log/logfmt.h"

#include <cstdint>

namespace yinetd::log {
namespace {

// The length of the well-formed UTF-8 sequence at the start of `text` that
// a log reader shows as one printable character, or 0: a byte that does not
// start one (a stray continuation, an overlong form, a surrogate, above
// U+10FFFF, cut short), and the C1 controls and line/paragraph separators,
// which some viewers take as line breaks. Those are escaped byte by byte.
size_t PrintableUtf8Length(std::string_view text) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  unsigned char lead = byte(0);
  size_t length = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 0;
  if (length == 0 || lead > 0xf4 || text.size() < length) return 0;
  uint32_t code = lead & (0x7f >> length);
  for (size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xc0) != 0x80) return 0;
    code = (code << 6) | (byte(i) & 0x3f);
  }
  constexpr uint32_t kShortest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (code < kShortest[length] || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return 0;
  if (code <= 0x9f || code == 0x2028 || code == 0x2029) return 0;
  return length;
}

bool NeedsQuoting(std::string_view value) {
  if (value.empty()) return true;
  for (size_t i = 0; i < value.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(value[i]);
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f) return true;
    if (c < 0x80) continue;
    size_t length = PrintableUtf8Length(value.substr(i));
    if (length == 0) return true;
    i += length - 1;
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
      if (c < ' ' || c >= 0x7f) {
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
  for (size_t i = 0; i < value.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(value[i]);
    size_t length = c < 0x80 ? 0 : PrintableUtf8Length(value.substr(i));
    if (length == 0) {
      AppendEscaped(out, c);
    } else {
      out.append(value.substr(i, length));
      i += length - 1;
    }
  }
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
