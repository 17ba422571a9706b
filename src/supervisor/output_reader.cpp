#include "supervisor/output_reader.h"

#include <unistd.h>

#include <cerrno>

#include "sys/sys_error.h"

namespace yinetd::supervisor {

std::vector<std::string> OutputReader::Feed(std::string_view data) {
  std::vector<std::string> lines;
  for (char c : data) {
    if (c == '\n') {
      lines.push_back(std::move(partial_));
      partial_.clear();
    } else {
      partial_ += c;
      if (partial_.size() >= kMaxLine) {
        lines.push_back(std::move(partial_));
        partial_.clear();
      }
    }
  }
  return lines;
}

std::vector<std::string> OutputReader::Finish() {
  std::vector<std::string> lines;
  if (!partial_.empty()) lines.push_back(std::move(partial_));
  partial_.clear();
  return lines;
}

std::vector<std::string> OutputReader::Read() {
  std::vector<std::string> lines;
  char buf[4096];
  for (int round = 0; round < 16 && fd_.Valid(); ++round) {
    ssize_t n = RetryOnEintr([&] { return read(fd_.Get(), buf, sizeof buf); });
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n <= 0) {  // EOF, or an error that ends this pipe all the same
      fd_.Reset();
      for (auto& line : Finish()) lines.push_back(std::move(line));
      break;
    }
    for (auto& line : Feed(std::string_view(buf, n))) lines.push_back(std::move(line));
  }
  return lines;
}

}  // namespace yinetd::supervisor
