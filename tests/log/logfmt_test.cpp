#include "log/logfmt.h"

#include <doctest/doctest.h>

#include "log/events.h"

namespace yinetd::log {

TEST_CASE("plain values stay bare") {
  CHECK(Line("exit").Add("service", "echo").Add("pid", 1234).Add("status", 0).Text() ==
        "event=exit service=echo pid=1234 status=0");
}

TEST_CASE("values that would break the line are quoted and escaped") {
  CHECK(QuoteValue("") == "\"\"");
  CHECK(QuoteValue("two words") == "\"two words\"");
  CHECK(QuoteValue("a=b") == "\"a=b\"");
  CHECK(QuoteValue("say \"hi\"") == "\"say \\\"hi\\\"\"");
  CHECK(QuoteValue("back\\slash") == "\"back\\\\slash\"");
  CHECK(QuoteValue("tab\there\nnl") == "\"tab\\there\\nnl\"");
  CHECK(QuoteValue(std::string("nul\0byte", 8)) == "\"nul\\x00byte\"");
  CHECK(QuoteValue("\x7f") == "\"\\x7f\"");
  CHECK(QuoteValue("127.0.0.1:40000") == "127.0.0.1:40000");
  CHECK(QuoteValue("[::1]:40000") == "[::1]:40000");
}

TEST_CASE("utf-8 passes through unquoted") {
  CHECK(QuoteValue("gr\xc3\xbc\xc3\x9f") == "gr\xc3\xbc\xc3\x9f");
}

TEST_CASE("signal names and levels") {
  CHECK(SignalName(9) == "SIGKILL");
  CHECK(SignalName(15) == "SIGTERM");
  CHECK(SignalName(200) == "SIG200");
  CHECK(ParseLevel("warn") == Level::kWarn);
  CHECK(ParseLevel("trace") == Level::kTrace);
  CHECK_FALSE(ParseLevel("loud").has_value());
}

}  // namespace yinetd::log
