// The control protocol between `yinetd ctl` and the control socket.
//
// A request is one line of at most kMaxRequest bytes: a command word and,
// for status and connections, an optional `json`. The answer is a header
// line, "yinetd-ctl EXIT", then the text to print; the server closes the
// connection after it, so the client reads to EOF. Pure: no syscalls, and
// the parser is fed untrusted bytes (tests/fuzz/control_fuzzer.cpp).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace yinetd::control {

// The longest request line, newline included. Anything longer is refused.
inline constexpr size_t kMaxRequest = 128;

enum class Command { kStatus, kConnections, kReload, kCheck, kDump };

struct Request {
  Command command = Command::kStatus;
  bool json = false;
  bool operator==(const Request&) const = default;
};

// Not a whole line yet: read more.
struct Incomplete {};
// A request that cannot be served; `message` says why, for the client.
struct BadRequest {
  std::string message;
};

using ParseResult = std::variant<Incomplete, Request, BadRequest>;

// Parses the start of what a client sent so far.
ParseResult ParseRequest(std::string_view received);

// The command's word ("status"); nullopt for an unknown word.
std::optional<Command> CommandNamed(std::string_view word);
std::string_view CommandName(Command command);
// Whether `command` changes yinetd's state, and so needs a privileged peer.
bool ChangesState(Command command);
// Whether `command` has a JSON form.
bool HasJson(Command command);

// The request line the client sends, newline included.
std::string FormatRequest(const Request& request);

// Exit statuses `yinetd ctl` returns, carried in the answer's header.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;   // refused reload, config problems, bad request
inline constexpr int kExitPartial = 2;  // reload applied, some addresses not bound

// The most a client reads: an answer lists at most max_children programs
// (65536 by default's ceiling), a few MiB; more is not yinetd talking.
inline constexpr size_t kMaxAnswer = 64 << 20;

std::string FormatAnswer(int exit_status, std::string_view body);
// False as soon as the first bytes received cannot begin an answer (another
// program serves the socket): the client stops reading there.
bool CouldBeAnswer(std::string_view received);
// The exit status and body of a whole answer; nullopt if the header is not ours.
std::optional<std::pair<int, std::string>> ParseAnswer(std::string_view answer);

}  // namespace yinetd::control
