#include "control/protocol.h"

#include <algorithm>
#include <array>
#include <charconv>

namespace yinetd::control {
namespace {

constexpr std::string_view kHeader = "yinetd-ctl ";

struct Named {
  Command command;
  std::string_view name;
};

constexpr std::array<Named, 5> kCommands = {{{Command::kStatus, "status"},
                                             {Command::kConnections, "connections"},
                                             {Command::kReload, "reload"},
                                             {Command::kCheck, "check"},
                                             {Command::kDump, "dump"}}};

// A request is printable ASCII and single spaces: anything else is not ours,
// and refusing it keeps it out of any message we build from it.
bool IsPlain(std::string_view line) {
  for (char c : line) {
    if (c < 0x21 && c != ' ') return false;
    if (c > 0x7e) return false;
  }
  return true;
}

}  // namespace

std::optional<Command> CommandNamed(std::string_view word) {
  for (const Named& named : kCommands) {
    if (named.name == word) return named.command;
  }
  return std::nullopt;
}

std::string_view CommandName(Command command) {
  for (const Named& named : kCommands) {
    if (named.command == command) return named.name;
  }
  return "?";
}

bool ChangesState(Command command) { return command == Command::kReload; }

bool HasJson(Command command) { return command == Command::kStatus || command == Command::kConnections; }

ParseResult ParseRequest(std::string_view received) {
  size_t newline = received.find('\n');
  if (newline == std::string_view::npos) {
    if (received.size() >= kMaxRequest) return BadRequest{"request too long"};
    return Incomplete{};
  }
  if (newline + 1 > kMaxRequest) return BadRequest{"request too long"};
  std::string_view line = received.substr(0, newline);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (!IsPlain(line)) return BadRequest{"request must be printable text"};
  size_t space = line.find(' ');
  std::string_view word = line.substr(0, space);
  std::optional<Command> command = CommandNamed(word);
  if (!command) return BadRequest{"unknown command; the commands are status, connections, reload, check, dump"};
  Request request{*command, false};
  if (space == std::string_view::npos) return request;
  std::string_view option = line.substr(space + 1);
  if (option != "json") return BadRequest{"unknown option; the only one is json"};
  if (!HasJson(*command)) return BadRequest{"this command has no json form"};
  request.json = true;
  return request;
}

std::string FormatRequest(const Request& request) {
  std::string line(CommandName(request.command));
  if (request.json) line += " json";
  return line + "\n";
}

std::string FormatAnswer(int exit_status, std::string_view body) {
  std::string answer(kHeader);
  answer += std::to_string(exit_status);
  answer += '\n';
  answer += body;
  return answer;
}

bool CouldBeAnswer(std::string_view received) {
  size_t n = std::min(received.size(), kHeader.size());
  return received.substr(0, n) == kHeader.substr(0, n);
}

std::optional<std::pair<int, std::string>> ParseAnswer(std::string_view answer) {
  if (answer.substr(0, kHeader.size()) != kHeader) return std::nullopt;
  size_t newline = answer.find('\n');
  if (newline == std::string_view::npos) return std::nullopt;
  std::string_view number = answer.substr(kHeader.size(), newline - kHeader.size());
  int status = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), status);
  if (ec != std::errc() || end != number.data() + number.size() || status < 0 || status > 255) {
    return std::nullopt;
  }
  return std::pair<int, std::string>{status, std::string(answer.substr(newline + 1))};
}

}  // namespace yinetd::control
