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

TEST_CASE("bytes that are not printable UTF-8 are escaped, so a line stays one valid line") {
  CHECK(QuoteValue("bad\xff") == "\"bad\\xff\"");                      // not UTF-8 at all
  CHECK(QuoteValue("\x80start") == "\"\\x80start\"");                  // stray continuation
  CHECK(QuoteValue("cut\xc3") == "\"cut\\xc3\"");                      // sequence cut short
  CHECK(QuoteValue("\xc0\xaf") == "\"\\xc0\\xaf\"");                  // overlong '/'
  CHECK(QuoteValue("\xed\xa0\x80") == "\"\\xed\\xa0\\x80\"");          // a surrogate
  CHECK(QuoteValue("\xf4\x90\x80\x80") == "\"\\xf4\\x90\\x80\\x80\"");  // above U+10FFFF
  CHECK(QuoteValue("nel\xc2\x85") == "\"nel\\xc2\\x85\"");              // U+0085, a C1 line break
  CHECK(QuoteValue("ls\xe2\x80\xa8") == "\"ls\\xe2\\x80\\xa8\"");        // U+2028
  CHECK(QuoteValue("ok \xc3\xbc\xf0\x9f\x98\x80") == "\"ok \xc3\xbc\xf0\x9f\x98\x80\"");  // kept
}

TEST_CASE("a program's stderr line cannot add fields or events to its own log line") {
  std::string forged = "x\nevent=exec_error level=error service=ssh\r\"quoted\" \x1b[2J\xff";
  std::string text = Line("stderr").Add("service", "s").Add("line", forged).Text();
  CHECK(text.find('\n') == std::string::npos);
  CHECK(text.find('\r') == std::string::npos);
  CHECK(text.find('\x1b') == std::string::npos);
  CHECK(text == "event=stderr service=s line=\"x\\nevent=exec_error level=error service=ssh\\r\\\"quoted\\\" "
                "\\x1b[2J\\xff\"");
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
