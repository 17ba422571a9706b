// OutputReader: turns a child's report pipe into lines.
//
// Reads what is there without blocking, splits it into lines, and holds a
// partial line until its newline (or EOF) arrives. Overlong lines are cut
// so a program that never prints '\n' cannot grow our memory.
#pragma once

#include <string>
#include <vector>

#include "sys/unique_fd.h"

namespace yinetd::supervisor {

class OutputReader {
 public:
  static constexpr size_t kMaxLine = 4096;

  explicit OutputReader(UniqueFd fd) : fd_(std::move(fd)) {}

  int Fd() const { return fd_.Get(); }
  bool AtEof() const { return !fd_.Valid(); }

  // Reads what is available (bounded, so one chatty child cannot starve the
  // loop) and returns the complete lines. At EOF or on a read error it
  // closes the pipe and also returns the unfinished last line.
  std::vector<std::string> Read();

  // Splits `data` onto the pending partial line; pure, for tests.
  std::vector<std::string> Feed(std::string_view data);
  // The unfinished line, if any, as a last line.
  std::vector<std::string> Finish();

 private:
  UniqueFd fd_;
  std::string partial_;
};

}  // namespace yinetd::supervisor
