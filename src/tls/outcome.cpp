#include "tls/outcome.h"

namespace yinetd::tls {
namespace {

// Five fields at most this long stay well under PIPE_BUF (4096).
constexpr size_t kMaxValue = 512;

void AddField(std::string& out, std::string_view key, std::string_view value) {
  if (value.empty()) return;
  out += key;
  out += '=';
  for (char c : value.substr(0, kMaxValue)) {
    unsigned char byte = static_cast<unsigned char>(c);
    out += byte < 0x20 || byte == 0x7f ? '?' : c;
  }
  out += '\n';
}

}  // namespace

std::string FormatOutcome(const Outcome& outcome) {
  std::string out;
  AddField(out, "version", outcome.version);
  AddField(out, "cipher", outcome.cipher);
  AddField(out, "client", outcome.client);
  AddField(out, "ktls", outcome.ktls);
  AddField(out, "failure", outcome.failure);
  AddField(out, "detail", outcome.detail);
  return out;
}

Outcome ParseOutcome(std::string_view text) {
  Outcome outcome;
  while (!text.empty()) {
    size_t end = text.find('\n');
    if (end == std::string_view::npos) break;  // a cut-off last line is dropped
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end + 1);
    size_t equals = line.find('=');
    if (equals == std::string_view::npos) continue;
    std::string_view key = line.substr(0, equals);
    std::string value(line.substr(equals + 1));
    if (key == "version") {
      outcome.version = std::move(value);
    } else if (key == "cipher") {
      outcome.cipher = std::move(value);
    } else if (key == "client") {
      outcome.client = std::move(value);
    } else if (key == "ktls") {
      outcome.ktls = std::move(value);
    } else if (key == "failure") {
      outcome.failure = std::move(value);
    } else if (key == "detail") {
      outcome.detail = std::move(value);
    } else {
      continue;
    }
    outcome.received = true;
  }
  return outcome;
}

}  // namespace yinetd::tls
