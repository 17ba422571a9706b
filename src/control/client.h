// Client: what `yinetd ctl` does. Connects to the control socket, sends one
// request, and reads the answer to EOF, each step bounded by a time-out.
#pragma once

#include <chrono>
#include <string>
#include <variant>

#include "control/protocol.h"

namespace yinetd::control {

struct Answer {
  int exit_status = 0;
  std::string text;
};

// The answer, or why there is none ("connect /run/yinetd/control: No such
// file or directory").
std::variant<Answer, std::string> Ask(const std::string& socket_path, const Request& request,
                                      std::chrono::milliseconds timeout = std::chrono::seconds(60));

}  // namespace yinetd::control
