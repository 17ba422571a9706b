// End to end: `yinetd import` (issue 15 §4) on hand-made inetd.conf lines,
// a hand-made xinetd.conf with defaults and includedir, and the xinetd files
// Debian ships (fetched with apt-get download when the network allows).
#include <doctest/doctest.h>

#include <filesystem>
#include <regex>
#include <sstream>

#include "integration/harness.h"
#include "scratch_dir.h"

namespace yinetd::testing {
namespace {

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }


std::string Binary() { return std::getenv("YINETD_BINARY"); }

// Imports `source` to DIR/imported.yaml; returns import's exit code and
// --check's exit code and output.
std::tuple<int, int, std::string> ImportAndCheck(const std::string& source, const std::string& dir) {
  std::string out = dir + "/imported.yaml";
  auto [import_code, ignored] = RunCommand(Binary() + " import " + source + " > " + out + " 2>&1");
  auto [check_code, check] = RunCommand(Binary() + " --check -c " + out + " 2>&1");
  return {import_code, check_code, check};
}

TEST_CASE("hand-made inetd.conf lines import to a config that passes --check") {
  ScratchDir dir("import");
  WriteText(dir.Path() + "/inetd.conf",
            "# inetd.conf\n"
            "echo\tstream\ttcp\tnowait\troot\tinternal\n"
            "echo\tdgram\tudp\twait\troot\tinternal\n"
            "7999\tstream\ttcp\tnowait.30\tnobody.nogroup\t/bin/cat\tcat -u\n"
            "127.0.0.1:7998 stream tcp nowait root /bin/sh sh -c date\n"
            "rstatd/1-3 dgram rpc/udp wait root /usr/sbin/rpc.rstatd rpc.rstatd\n");
  auto [import_code, check_code, check] = ImportAndCheck(dir.Path() + "/inetd.conf", dir.Path());
  CHECK(import_code == 0);
  CHECK(check_code == 0);
  CHECK(Contains(check, "OK, 4 service(s)"));
  auto [code, yaml] = RunCommand(Binary() + " import " + dir.Path() + "/inetd.conf");
  CHECK(Contains(yaml, "rstatd_1-3: not imported: RPC services need portmap registration"));
  CHECK(Contains(yaml, "nowait.30 (starts a minute) became max_rate"));
}

TEST_CASE("a hand-made xinetd.conf: defaults apply, includedir is followed, and the result passes --check") {
  ScratchDir dir("import");
  WriteText(dir.Path() + "/xinetd.conf",
            "defaults\n{\n\tinstances = 20\n\tlog_type = SYSLOG daemon info\n\tdisabled = time\n}\n"
            "includedir xinetd.d\n");
  WriteText(dir.Path() + "/xinetd.d/cat",
            "service cat\n{\n\ttype = UNLISTED\n\tport = 7997\n\tsocket_type = stream\n\twait = no\n"
            "\tuser = nobody\n\tserver = /bin/cat\n\tonly_from = 127.0.0.1 localhost\n\tcps = 10 5\n}\n");
  WriteText(dir.Path() + "/xinetd.d/time", "service time\n{\n\ttype = INTERNAL\n\tsocket_type = stream\n\twait = no\n}\n");
  WriteText(dir.Path() + "/xinetd.d/cat.dpkg-old", "this file is skipped, as xinetd skips it\n");
  auto [import_code, check_code, check] = ImportAndCheck(dir.Path() + "/xinetd.conf", dir.Path());
  CHECK(import_code == 0);
  CHECK(check_code == 0);
  CHECK(Contains(check, "OK, 1 service(s)"));
  auto [code, yaml] = RunCommand(Binary() + " import " + dir.Path() + "/xinetd.conf");
  CHECK(Contains(yaml, "max_connections: 20"));
  CHECK(Contains(yaml, "only_from: host names localhost not carried"));
  CHECK(Contains(yaml, "# disabled (in defaults' disabled list)"));
  CHECK_FALSE(Contains(yaml, "dpkg-old"));
}

TEST_CASE("import of a missing file says so plainly") {
  auto [code, text] = RunCommand(Binary() + " import /nonexistent/inetd.conf 2>&1");
  CHECK(code == 1);
  CHECK(Contains(text, "yinetd import: /nonexistent/inetd.conf: "));
}

// The Debian packages that ship xinetd or inetd config files, unpacked
// once per run under ROOT; "" with `why` when they cannot be downloaded.
// (tftpd-hpa, rsync, cvs and atftpd were looked at too: they ship none,
// and register with update-inetd from their maintainer scripts instead.)
const std::string& DebianRoot(std::string& why) {
  static ScratchDir dir("import");
  static std::string root, reason;
  static bool tried = false;
  if (!tried) {
    tried = true;
    auto [code, log] = RunCommand("cd " + dir.Path() +
                                  " && timeout 120 apt-get download xinetd amanda-client >/dev/null 2>&1; echo $?");
    if (code != 0 || log != "0\n") {
      reason = "apt-get download xinetd amanda-client failed (no network or no archive here)";
    } else if (RunCommand("cd " + dir.Path() + " && for d in *.deb; do dpkg-deb -x $d root; done; echo done").second !=
               "done\n") {
      reason = "dpkg-deb -x failed";
    } else {
      root = dir.Path() + "/root";
    }
  }
  why = reason;
  return root;
}

// `yaml` with every program replaced by /bin/cat: the programs of the
// packages' examples are not installed here, and --check would say only that.
std::string WithProgramsAsCat(const std::string& yaml) {
  return std::regex_replace(yaml, std::regex("program: \"[^\"]*\""), "program: \"/bin/cat\"");
}

// Writes `yaml` to DIR/NAME and runs --check on it: exit code and output.
std::pair<int, std::string> CheckYaml(const std::string& dir, const std::string& name, const std::string& yaml) {
  WriteText(dir + "/" + name, yaml);
  return RunCommand(Binary() + " --check -c " + dir + "/" + name + " 2>&1");
}

TEST_CASE("the xinetd files Debian ships import, every service accounted for, and load once enabled") {
  ScratchDir dir("import");
  std::string why;
  std::string root = DebianRoot(why);
  if (root.empty()) {
    MESSAGE("skipped: " << why);
    return;
  }
  std::string xinetd_d = root + "/etc/xinetd.d";
  REQUIRE(std::filesystem::is_directory(xinetd_d));
  auto [code, yaml] = RunCommand(Binary() + " import " + xinetd_d + " 2>&1");
  CHECK(code == 0);
  // Every section of every file is in the output, served or commented.
  int sections = 0;
  for (const auto& entry : std::filesystem::directory_iterator(xinetd_d)) {
    auto [grep_code, count] = RunCommand("grep -c '^service' " + entry.path().string());
    sections += std::atoi(count.c_str());
  }
  CHECK(sections > 0);
  int accounted = 0;
  for (size_t at = 0; (at = yaml.find(": service ", at)) != std::string::npos; ++at) ++accounted;
  CHECK(accounted == sections);
  // Debian ships them disabled: the stream builtins, uncommented as the
  // comment says, load and pass --check.
  std::string enabled;
  std::regex commented("^  # (- |  )(.*)$");
  std::istringstream lines(yaml);
  std::string line;
  bool keep = false;
  for (enabled = "services:\n"; std::getline(lines, line);) {
    std::smatch match;
    if (std::regex_match(line, match, commented)) {
      if (match[1] == "- ") keep = Contains(line, "-stream\"");
      if (keep) enabled += "  " + match[1].str() + match[2].str() + "\n";
    }
  }
  CHECK(Contains(enabled, "builtin: echo"));
  WriteText(dir.Path() + "/enabled.yaml", enabled);
  auto [check_code, check] = RunCommand(Binary() + " --check -c " + dir.Path() + "/enabled.yaml 2>&1");
  INFO(enabled);
  CHECK(check_code == 0);
  CHECK(Contains(check, ": OK, 5 service(s)"));
  // amanda's example: its program is not installed here, which is the one
  // thing --check may say about it.
  auto [amanda_code, amanda] =
      RunCommand(Binary() + " import " + root + "/usr/share/doc/amanda-client/examples/xinetd.amandaclient");
  CHECK(amanda_code == 0);
  CHECK(Contains(amanda, "program: \"/usr/lib/amanda/amandad\""));
  CHECK(Contains(amanda, "groups: not carried"));
}

TEST_CASE("xinetd's own sample.conf and empty.conf (Debian's examples) import; with programs as /bin/cat, --check passes") {
  ScratchDir dir("import");
  std::string why;
  std::string root = DebianRoot(why);
  if (root.empty()) {
    MESSAGE("skipped: " << why);
    return;
  }
  std::string examples = root + "/usr/share/doc/xinetd/examples";
  REQUIRE(RunCommand("gzip -dc " + examples + "/sample.conf.gz > " + dir.Path() + "/sample.conf; echo $?").second == "0\n");
  auto [code, yaml] = RunCommand(Binary() + " import " + dir.Path() + "/sample.conf 2>&1");
  CHECK(code == 0);
  auto [count_code, sections] = RunCommand("grep -c '^service' " + dir.Path() + "/sample.conf");
  size_t accounted = 0;
  for (size_t at = 0; (at = yaml.find(": service ", at)) != std::string::npos; ++at) ++accounted;
  CHECK(accounted == static_cast<size_t>(std::atoi(sections.c_str())));
  // Its defaults' only_from (the second line replaces the first) reaches
  // every nowait service; the wait ones say why not.
  CHECK(Contains(yaml, "allow: [\"192.231.139.0/24\"]"));
  CHECK(Contains(yaml, "only_from: host names localhost not carried"));
  CHECK(Contains(yaml, "only_from = localhost 192.231.139.0/24: not carried: in mode wait"));
  CHECK(Contains(yaml, "telnet-tcp: not imported: server '' is not an absolute path"));
  auto [check_code, check] = CheckYaml(dir.Path(), "sample.yaml", WithProgramsAsCat(yaml));
  INFO(yaml);
  CHECK(check_code == 0);
  CHECK(Contains(check, ": OK, "));
  // empty.conf names every attribute with no value: nothing to serve, said so.
  auto [empty_code, empty] = RunCommand(Binary() + " import " + examples + "/empty.conf 2>&1");
  CHECK(empty_code == 0);
  CHECK(Contains(empty, "empty: not imported: socket_type missing"));
  CHECK(Contains(empty, "# nothing to serve"));
}

TEST_CASE("amanda-client's inetd.conf and xinetd examples import and, with the program as /bin/cat, pass --check") {
  ScratchDir dir("import");
  std::string why;
  std::string root = DebianRoot(why);
  if (root.empty()) {
    MESSAGE("skipped: " << why);
    return;
  }
  std::string examples = root + "/usr/share/doc/amanda-client/examples/";
  for (const char* name : {"inetd.conf.amandaclient", "xinetd.amandaclient"}) {
    INFO(name);
    auto [code, yaml] = RunCommand(Binary() + " import " + examples + name + " 2>&1");
    CHECK(code == 0);
    CHECK(Contains(yaml, "program: \"/usr/lib/amanda/amandad\""));
    CHECK(Contains(yaml, "user: \"backup\""));
    auto [check_code, check] = CheckYaml(dir.Path(), std::string(name) + ".yaml", WithProgramsAsCat(yaml));
    INFO(yaml);
    CHECK(check_code == 0);
    CHECK(Contains(check, ": OK, 1 service(s)"));
  }
}

}  // namespace
}  // namespace yinetd::testing
