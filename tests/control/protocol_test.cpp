#include "control/protocol.h"

#include <doctest/doctest.h>

namespace yinetd::control {
namespace {

Request Parsed(std::string_view text) {
  ParseResult result = ParseRequest(text);
  REQUIRE(std::holds_alternative<Request>(result));
  return std::get<Request>(result);
}

std::string Refusal(std::string_view text) {
  ParseResult result = ParseRequest(text);
  REQUIRE(std::holds_alternative<BadRequest>(result));
  return std::get<BadRequest>(result).message;
}

TEST_CASE("every command parses, with json where it has a JSON form") {
  CHECK(Parsed("status\n") == Request{Command::kStatus, false});
  CHECK(Parsed("status json\n") == Request{Command::kStatus, true});
  CHECK(Parsed("connections json\n") == Request{Command::kConnections, true});
  CHECK(Parsed("reload\n") == Request{Command::kReload, false});
  CHECK(Parsed("check\n") == Request{Command::kCheck, false});
  CHECK(Parsed("dump\r\n") == Request{Command::kDump, false});
}

TEST_CASE("a request is incomplete until its newline, and refused once too long") {
  CHECK(std::holds_alternative<Incomplete>(ParseRequest("")));
  CHECK(std::holds_alternative<Incomplete>(ParseRequest("stat")));
  CHECK(Refusal(std::string(kMaxRequest, 'a')) == "request too long");
  CHECK(Refusal(std::string(kMaxRequest, 'a') + "\n") == "request too long");
}

TEST_CASE("unknown words, options and bytes are refused with the reason") {
  CHECK(Refusal("restart\n").find("unknown command") == 0);
  CHECK(Refusal("status yaml\n").find("unknown option") == 0);
  CHECK(Refusal("reload json\n") == "this command has no json form");
  CHECK(Refusal(std::string("status\0x\n", 9)) == "request must be printable text");
  CHECK(Refusal("st\x1b[2Jatus\n") == "request must be printable text");
  CHECK(Refusal("\n").find("unknown command") == 0);
}

TEST_CASE("only reload changes state") {
  CHECK(ChangesState(Command::kReload));
  CHECK_FALSE(ChangesState(Command::kStatus));
  CHECK_FALSE(ChangesState(Command::kCheck));
  CHECK_FALSE(ChangesState(Command::kDump));
  CHECK_FALSE(ChangesState(Command::kConnections));
}

TEST_CASE("a formatted request parses back to itself") {
  for (Command command : {Command::kStatus, Command::kConnections, Command::kReload, Command::kCheck,
                          Command::kDump}) {
    for (bool json : {false, true}) {
      if (json && !HasJson(command)) continue;
      Request request{command, json};
      CHECK(Parsed(FormatRequest(request)) == request);
    }
  }
}

TEST_CASE("an answer carries its exit status; anything else is not ours") {
  auto answer = ParseAnswer(FormatAnswer(kExitPartial, "partial: x\n"));
  REQUIRE(answer);
  CHECK(answer->first == 2);
  CHECK(answer->second == "partial: x\n");
  CHECK_FALSE(ParseAnswer("HTTP/1.0 200 OK\r\n"));
  CHECK_FALSE(ParseAnswer("yinetd-ctl 999\n"));
  CHECK_FALSE(ParseAnswer("yinetd-ctl 1"));
  CHECK_FALSE(ParseAnswer("yinetd-ctl -1\n"));
}

TEST_CASE("the first bytes tell a client whether yinetd is talking, before it reads on") {
  CHECK(CouldBeAnswer(""));
  CHECK(CouldBeAnswer("yin"));
  CHECK(CouldBeAnswer(FormatAnswer(kExitOk, "ok\n")));
  CHECK_FALSE(CouldBeAnswer("x"));
  CHECK_FALSE(CouldBeAnswer("HTTP/1.0 200 OK\r\n"));
  CHECK_FALSE(CouldBeAnswer("yinetd-ctX"));
}

}  // namespace
}  // namespace yinetd::control
