#include "import/import.h"

#include <doctest/doctest.h>

#include <map>

#include "config/fake_host.h"
#include "config/loader.h"

namespace yinetd::import {
namespace {

std::optional<uint16_t> Ports(const std::string& name, const std::string& protocol) {
  if (name == "echo") return 7;
  if (name == "daytime") return 13;
  if (name == "ftp" && protocol == "tcp") return 21;
  if (name == "tftp" && protocol == "udp") return 69;
  if (name == "rsync") return 873;
  return std::nullopt;
}

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The YAML must load; returns the config.
config::Config Loads(const std::string& yaml) {
  config::FakeHost host;
  host.executables.insert({"/usr/sbin/in.ftpd", "/usr/bin/rsync", "/usr/sbin/in.tftpd", "/usr/sbin/tcpd"});
  host.users["tftp"] = {100, 100};
  config::LoadResult result = config::LoadConfigText(yaml, "/tmp/imported.yaml", host);
  INFO(yaml);
  for (const config::Problem& problem : result.problems) MESSAGE(problem.ToString());
  REQUIRE(result.config);
  return *result.config;
}

TEST_CASE("inetd.conf: programs, argv[0], user.group, builtins, tcp and udp of one name") {
  std::string yaml = FromInetd({"inetd.conf", R"(# a comment
ftp	stream	tcp	nowait	root:nogroup	/usr/sbin/tcpd	in.ftpd -l
echo	stream	tcp	nowait	root	internal
echo	dgram	udp	wait	root	internal
127.0.0.1:daytime stream tcp6 nowait.120 nobody.staff /bin/cat cat -u
)"},
                               Ports);
  config::Config config = Loads(yaml);
  REQUIRE(config.services.size() == 4);
  const config::ServiceConfig& ftp = config.services[0];
  CHECK(ftp.name == "ftp");
  CHECK(ftp.listen[0].ToString() == "21");
  CHECK(ftp.program == "/usr/sbin/tcpd");
  CHECK(ftp.process.argv0 == "in.ftpd");
  CHECK(ftp.args == std::vector<std::string>{"-l"});
  CHECK(ftp.credentials->user == "root");
  CHECK(ftp.credentials->group == "nogroup");
  CHECK(Contains(yaml, "# tcpd: hosts.allow/hosts.deny are not read by yinetd"));
  CHECK(config.services[1].builtin == "echo");
  CHECK(config.services[2].name == "echo-udp");
  CHECK(config.services[2].protocol == config::Protocol::kUdp);
  const config::ServiceConfig& daytime = config.services[3];
  CHECK(daytime.listen[0].ToString() == "127.0.0.1:13");
  CHECK(daytime.limits.max_rate == doctest::Approx(2.0));
  CHECK(daytime.args == std::vector<std::string>{"-u"});
  CHECK_FALSE(daytime.process.argv0);
  CHECK(Contains(yaml, "nowait.120 (starts a minute) became max_rate"));
}

TEST_CASE("inetd.conf lines that cannot be served become comments that say why") {
  std::string yaml = FromInetd({"inetd.conf", R"(rstatd/1-3 dgram rpc/udp wait root /usr/sbin/rpc.rstatd rpc.rstatd
gopher stream tcp nowait root /usr/sbin/gopherd gopherd
short stream tcp
quote stream tcp nowait root internal
echo stream tcp nowait root internal
)"},
                               Ports);
  CHECK(Contains(yaml, "not imported: RPC services need portmap registration"));
  CHECK(Contains(yaml, "no port for service 'gopher' in /etc/services"));
  CHECK(Contains(yaml, "an inetd.conf line has at least 6 fields"));
  CHECK(Contains(yaml, "internal service 'quote': yinetd's builtins are"));
  CHECK(Loads(yaml).services.size() == 1);
}

TEST_CASE("xinetd: defaults, every listed attribute carried or commented") {
  std::vector<SourceFile> files = {
      {"/etc/xinetd.conf", R"(defaults
{
	instances = 60
	log_type = SYSLOG authpriv
	only_from = 127.0.0.1
	cps = 25 30
	disabled = daytime
}
includedir /etc/xinetd.d
)"},
      {"/etc/xinetd.d/rsync", R"(service rsync
{
	disable	= no
	flags		= IPv6 KEEPALIVE REUSE
	socket_type     = stream
	wait            = no
	user            = root
	server          = /usr/bin/rsync
	server_args     = --daemon
	only_from      += 10.0.0.0/8 192.168. example.com
	no_access       = 10.9.0.0/16
	per_source      = 5
	env             = LANG=C BAD
	passenv         = PATH
	banner_fail     = /etc/banner
	nice            = 10
	rlimit_as       = 64M
	rlimit_rss      = 8M
	log_on_failure += USERID
	access_times    = 2:00-8:59
}
)"},
      {"/etc/xinetd.d/daytime", "service daytime\n{\n type = INTERNAL\n socket_type = stream\n wait = no\n}\n"},
      {"/etc/xinetd.d/tftp", R"(service tftp
{
	socket_type	= dgram
	protocol	= udp
	wait		= yes
	user		= root
	server		= /usr/sbin/in.tftpd
	server_args	= -s /srv/tftp
}
)"},
  };
  std::string yaml = FromXinetd(files, Ports);
  config::Config config = Loads(yaml);
  REQUIRE(config.services.size() == 2);  // daytime is disabled by defaults
  const config::ServiceConfig& rsync = config.services[0];
  CHECK(rsync.listen[0].ToString() == "[::]:873");
  CHECK(rsync.program == "/usr/bin/rsync");
  CHECK(rsync.args == std::vector<std::string>{"--daemon"});
  CHECK(rsync.limits.max_connections == 60);
  CHECK(rsync.limits.max_per_source == 5);
  CHECK(rsync.limits.max_rate == doctest::Approx(25));
  REQUIRE(rsync.access.allow.size() == 3);
  CHECK(rsync.access.allow[0].ToString() == "127.0.0.1/32");
  CHECK(rsync.access.allow[1].ToString() == "10.0.0.0/8");
  CHECK(rsync.access.allow[2].ToString() == "192.168.0.0/16");
  CHECK(rsync.access.deny[0].ToString() == "10.9.0.0/16");
  CHECK(rsync.env == std::vector<std::pair<std::string, std::string>>{{"LANG", "C"}});
  CHECK(rsync.process.nice == 10);
  CHECK(rsync.socket.keepalive);
  REQUIRE(rsync.process.rlimits.size() == 1);
  CHECK(rsync.process.rlimits[0].value == 64ull << 20);
  for (const char* note : {"host names example.com not carried", "env item 'BAD' is not NAME=value",
                           "passenv = PATH", "banner_fail = /etc/banner: not carried: the file could not be read here (no file reader)",
                           "rlimit_rss: not carried", "log_on_failure: not carried",
                           "access_times: not carried", "flags REUSE: not carried",
                           "cps = 25 30: xinetd stops the service", "log_type: not carried"}) {
    CHECK_MESSAGE(Contains(yaml, note), note);
  }
  CHECK(Contains(yaml, "# disabled (in defaults' disabled list)"));
  CHECK(Contains(yaml, "#   builtin: daytime"));
  const config::ServiceConfig& tftp = config.services[1];
  CHECK(tftp.protocol == config::Protocol::kUdp);
  CHECK(tftp.mode == config::Mode::kWait);
  CHECK(Contains(yaml, "only_from = 127.0.0.1: not carried: in mode wait"));
}

TEST_CASE("xinetd: rightmost zero components are wildcards and {a,b} lists expand, as xinetd.conf(5) says") {
  std::string yaml = FromXinetd({{"/etc/xinetd.d/x", "service x\n{\n\ttype = UNLISTED\n\tport = 7001\n"
                                                     "\tsocket_type = stream\n\twait = no\n\tserver = /bin/cat\n"
                                                     "\tonly_from = 192.0.2.7 128.138.12.0 10.1.0.0 192.0.2.{8,9}\n"
                                                     "\tno_access = 10.0.0.0 10.1.2.0/23\n}\n"}},
                                Ports);
  config::Config config = Loads(yaml);
  REQUIRE(config.services.size() == 1);
  const config::ServiceConfig& x = config.services[0];
  REQUIRE(x.access.allow.size() == 5);
  CHECK(x.access.allow[0].ToString() == "192.0.2.7/32");
  CHECK(x.access.allow[3].ToString() == "192.0.2.8/32");
  CHECK(x.access.allow[4].ToString() == "192.0.2.9/32");
  CHECK(x.access.allow[1].ToString() == "128.138.12.0/24");
  CHECK(x.access.allow[2].ToString() == "10.1.0.0/16");
  REQUIRE(x.access.deny.size() == 2);
  CHECK(x.access.deny[0].ToString() == "10.0.0.0/8");  // all of 10/8 denied, not one host
  CHECK(x.access.deny[1].ToString() == "10.1.2.0/23");
}

TEST_CASE("xinetd: banner_fail's text becomes refuse_message; what cannot be carried says why") {
  std::map<std::string, std::string> banners = {
      {"/etc/banner.deny", "Go away.\r\nYou are \"not\" allowed \\ here.\n"},
      {"/etc/banner.bin", std::string("\x1b[2Jhello\0", 11)},
      {"/etc/banner.big", std::string(1025, 'x')},
  };
  TextLookup read = [&](const std::string& path, std::string& why) -> std::optional<std::string> {
    auto it = banners.find(path);
    if (it != banners.end()) return it->second;
    why = "No such file or directory";
    return std::nullopt;
  };
  auto service = [](const std::string& name, int port, const std::string& banner, const char* wait = "no") {
    return "service " + name + "\n{\n\ttype = UNLISTED\n\tport = " + std::to_string(port) +
           "\n\tsocket_type = stream\n\twait = " + wait + "\n\tuser = nobody\n\tserver = /bin/cat\n" +
           "\tbanner_fail = " + banner + "\n}\n";
  };
  std::string yaml = FromXinetd({{"/etc/xinetd.d/x", service("deny", 7001, "/etc/banner.deny") +
                                                         service("bin", 7002, "/etc/banner.bin") +
                                                         service("big", 7003, "/etc/banner.big") +
                                                         service("gone", 7004, "/etc/banner.gone") +
                                                         service("waits", 7005, "/etc/banner.deny", "yes")}},
                                Ports, read);
  config::Config config = Loads(yaml);
  REQUIRE(config.services.size() == 5);
  CHECK(config.services[0].refuse_message == "Go away.\r\nYou are \"not\" allowed \\ here.\n");
  for (size_t i = 1; i < 5; ++i) CHECK(config.services[i].refuse_message.empty());
  for (const char* note : {"banner_fail = /etc/banner.deny: its text as read at import is refuse_message",
                           "banner_fail = /etc/banner.bin: not carried: the file is not plain ASCII text",
                           "banner_fail = /etc/banner.big: not carried: the file has over 1024 bytes",
                           "banner_fail = /etc/banner.gone: not carried: the file could not be read here "
                           "(No such file or directory); refuse_message takes the text itself: copy it there",
                           "banner_fail = /etc/banner.deny: not carried: in mode wait"}) {
    CHECK_MESSAGE(Contains(yaml, note), note);
  }
  CHECK_FALSE(Contains(yaml, "\x1b"));
}

TEST_CASE("xinetd: disable = yes is written commented out, and a file with nothing to serve says so") {
  std::string yaml = FromXinetd({{"/etc/xinetd.d/echo", R"(service echo
{
	disable		= yes
	type		= INTERNAL
	id		= echo-stream
	socket_type	= stream
	protocol	= tcp
	user		= root
	wait		= no
}
)"}},
                                Ports);
  CHECK(Contains(yaml, "# disabled (disable = yes)"));
  CHECK(Contains(yaml, "# - name: \"echo-stream\""));
  CHECK(Contains(yaml, "# nothing to serve"));
}

TEST_CASE("xinetd syntax errors are reported as comments, and odd bytes never reach the YAML") {
  std::string yaml = FromXinetd({{"x", "service a\n{\n  server = /bin/cat\n  junk line\n  port = 7\n"
                                       "  socket_type = stream\n  wait = no\n}\nnonsense\n"
                                       "service b\n{\n server = /bin/\x01" "cat\n}\n"}},
                                Ports);
  CHECK(Contains(yaml, "# skipped: x:4: expected 'attribute = value'"));
  CHECK(Contains(yaml, "# skipped: x:9: expected 'service NAME'"));
  CHECK(Contains(yaml, "b: not imported: the section is not plain text"));
  CHECK(Loads(yaml).services.size() == 1);
}

TEST_CASE("which files look like xinetd, and which names xinetd reads from a directory") {
  CHECK(LooksLikeXinetd("# c\nservice x\n{\n}\n"));
  CHECK(LooksLikeXinetd("defaults\n{\n}\nincludedir /etc/xinetd.d\n"));
  CHECK_FALSE(LooksLikeXinetd("echo stream tcp nowait root internal\n"));
  CHECK(IncludeDirs("includedir /etc/xinetd.d\nincludedir rel\n") == std::vector<std::string>{"/etc/xinetd.d", "rel"});
  CHECK(XinetdReadsFile("rsync"));
  CHECK_FALSE(XinetdReadsFile("rsync.dpkg-old"));
  CHECK_FALSE(XinetdReadsFile("rsync~"));
}

}  // namespace
}  // namespace yinetd::import
