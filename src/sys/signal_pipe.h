// SignalPipe: the self-pipe trick.
//
// The handlers installed here do one thing: write the signal number into a
// non-blocking pipe and restore errno. The event loop polls the read end and
// handles the signals itself, outside any handler.
#pragma once

#include <initializer_list>
#include <vector>

#include "sys/unique_fd.h"

namespace yinetd {

class SignalPipe {
 public:
  // Creates the pipe and installs the handler for `signals`. Only one
  // SignalPipe may exist at a time. Throws SysError.
  explicit SignalPipe(std::initializer_list<int> signals);
  ~SignalPipe();
  SignalPipe(const SignalPipe&) = delete;
  SignalPipe& operator=(const SignalPipe&) = delete;

  // The descriptor to poll for POLLIN.
  int ReadFd() const { return read_.Get(); }

  // Reads every pending signal number, in arrival order; duplicates kept.
  std::vector<int> Drain();

 private:
  UniqueFd read_;
  UniqueFd write_;
  std::vector<int> signals_;
};

// Restores default dispositions for every signal yinetd changed or
// inherited ignored (every signal, while no SignalPipe exists) and clears
// the mask. Async-signal-safe: for use in a forked child before exec.
void ResetSignalsForChild();

}  // namespace yinetd
