#include "config/capabilities.h"

#include <doctest/doctest.h>
#include <linux/capability.h>
#include <sys/resource.h>

#include "config/fake_host.h"
#include "config/loader.h"

namespace yinetd::config {
namespace {

// Every capability a service key can need.
const std::set<int> kAll{CAP_SETUID,       CAP_SETGID,  CAP_SYS_CHROOT, CAP_SYS_NICE,
                         CAP_SYS_RESOURCE, CAP_NET_RAW, CAP_CHOWN,      CAP_NET_BIND_SERVICE};

Config Load(const std::string& text, FakeHost& host) {
  LoadResult result = LoadConfigText(text, "/etc/yinetd/test.yaml", host);
  for (const Problem& problem : result.problems) MESSAGE(problem.ToString());
  REQUIRE(result.config);
  return std::move(*result.config);
}

std::vector<std::string> Warnings(const std::string& text, const std::set<int>& capabilities) {
  FakeHost host;
  host.capabilities = kAll;  // the loader needs none, but load as the real root would
  Config config = Load(text, host);
  host.capabilities = capabilities;
  std::vector<std::string> messages;
  for (const Problem& warning : MissingCapabilities(config, host)) messages.push_back(warning.ToString());
  return messages;
}

std::set<int> AllBut(int capability) {
  std::set<int> set = kAll;
  set.erase(capability);
  return set;
}

const char* kEveryKey = R"(services:
  - name: plain
    listen: 127.0.0.1:7007
    program: /bin/cat
  - name: jail
    listen: 127.0.0.1:7008
    program: /bin/cat
    user: nobody
    chroot: /
    nice: -5
    rlimits: {nofile: 1M}
    bind_interface: lo
  - name: low
    listen: 127.0.0.1:79
    program: /bin/cat
)";

TEST_CASE("a config that needs nothing special gets no warning, whatever yinetd holds") {
  const char* text = "services:\n  - name: echo\n    listen: 127.0.0.1:7007\n    program: /bin/cat\n";
  CHECK(Warnings(text, {}).empty());
}

TEST_CASE("with every capability, no key is warned about") {
  CHECK(Warnings(kEveryKey, kAll).empty());
}

TEST_CASE("each key names the capability it needs, at its service") {
  struct Case {
    int capability;
    std::string text;  // in the one warning
  };
  for (const Case& c : std::vector<Case>{
           {CAP_SYS_CHROOT, "service 'jail': chroot needs CAP_SYS_CHROOT"},
           {CAP_SYS_NICE, "service 'jail': a negative nice needs CAP_SYS_NICE"},
           {CAP_SETUID, "service 'jail': user 'nobody' needs CAP_SETUID"},
           {CAP_SETGID, "service 'jail': user/group needs CAP_SETGID"},
           {CAP_NET_RAW, "service 'jail': bind_interface needs CAP_NET_RAW"},
           {CAP_NET_BIND_SERVICE, "service 'low': port 79 needs CAP_NET_BIND_SERVICE"},
       }) {
    CAPTURE(c.text);
    std::vector<std::string> warnings = Warnings(kEveryKey, AllBut(c.capability));
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0].find(c.text) != std::string::npos);
    CHECK(warnings[0].find("CapabilityBoundingSet=") != std::string::npos);  // says what to do
    bool low = c.capability == CAP_NET_BIND_SERVICE;
    CHECK(warnings[0].rfind(low ? "/etc/yinetd/test.yaml:13:5:" : "/etc/yinetd/test.yaml:5:5:", 0) == 0);
  }
}

TEST_CASE("an rlimit needs CAP_SYS_RESOURCE only above yinetd's own hard limit") {
  FakeHost host;
  host.capabilities = kAll;
  Config config = Load(kEveryKey, host);  // nofile: 1M
  host.capabilities = AllBut(CAP_SYS_RESOURCE);
  host.hard_limits[RLIMIT_NOFILE] = 1024 * 1024;
  CHECK(MissingCapabilities(config, host).empty());  // equal: lowering or keeping needs nothing
  host.hard_limits[RLIMIT_NOFILE] = 65536;
  std::vector<Problem> warnings = MissingCapabilities(config, host);
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].message.find("rlimits.nofile above yinetd's hard limit needs CAP_SYS_RESOURCE") !=
        std::string::npos);
}

TEST_CASE("a positive nice and a user yinetd already runs as need nothing") {
  const char* text = R"(services:
  - name: kind
    listen: 127.0.0.1:7007
    program: /bin/cat
    nice: 5
)";
  CHECK(Warnings(text, {}).empty());
}

TEST_CASE("socket_owner and socket_group need CAP_CHOWN") {
  const char* text = R"(services:
  - name: sock
    listen: unix:/run/sock
    program: /bin/cat
    socket_group: staff
)";
  std::vector<std::string> warnings = Warnings(text, AllBut(CAP_CHOWN));
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("socket_owner/socket_group needs CAP_CHOWN") != std::string::npos);
}

TEST_CASE("one warning per missing capability, service by service") {
  // jail: SETUID, SETGID, SYS_CHROOT, SYS_NICE, NET_RAW (its nofile is
  // below the fake's unlimited hard limit); low: NET_BIND_SERVICE.
  CHECK(Warnings(kEveryKey, {}).size() == 6);
}

}  // namespace
}  // namespace yinetd::config
