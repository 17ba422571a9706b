#include "config/sandbox_keys.h"

#include <doctest/doctest.h>
#include <sys/socket.h>

#include <algorithm>

#include "config/fake_host.h"
#include "config/loader.h"

namespace yinetd::config {
namespace {

const char* kService = R"(services:
  - name: notes
    listen: 127.0.0.1:7007
    program: /bin/cat
)";

LoadResult LoadText(const std::string& text, FakeHost host = FakeHost()) {
  return LoadConfigText(text, "/etc/yinetd/test.yaml", host);
}

LoadResult Load(const std::string& extra, FakeHost host = FakeHost()) {
  return LoadText(std::string(kService) + extra, std::move(host));
}

SandboxConfig LoadSandbox(const std::string& block) {
  LoadResult result = Load("    sandbox:\n" + block);
  for (const Problem& problem : result.problems) MESSAGE(problem.ToString());
  REQUIRE(result.config);
  return result.config->services[0].sandbox;
}

Problem OnlyProblem(const std::string& extra, FakeHost host = FakeHost()) {
  LoadResult result = Load(extra, std::move(host));
  REQUIRE_MESSAGE(result.problems.size() == 1, "problems: " << result.problems.size());
  return result.problems[0];
}

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST_CASE("a service without a sandbox block has none") {
  LoadResult result = Load("");
  REQUIRE(result.config);
  CHECK_FALSE(result.config->services[0].sandbox.Any());
  CHECK_FALSE(result.config->services[0].dynamic_user);
}

TEST_CASE("every sandbox key is read") {
  SandboxConfig sandbox = LoadSandbox(R"(      private_network: true
      private_tmp: true
      read_only: true
      writable: [/var/lib/notes/, /srv//data]
      hidden: [/home, /root]
      system_calls: [read, write, exit_group]
      address_families: [unix, inet6]
      namespaces: [pid, ipc, uts]
      memory_max: 256M
      tasks_max: 64
      cpu_max: 50%
)");
  CHECK(sandbox.private_network);
  CHECK(sandbox.private_tmp);
  CHECK(sandbox.read_only);
  CHECK(sandbox.writable == std::vector<std::string>{"/var/lib/notes", "/srv/data"});
  CHECK(sandbox.hidden == std::vector<std::string>{"/home", "/root"});
  CHECK(sandbox.system_calls == std::vector<std::string>{"exit_group", "read", "write"});
  CHECK(sandbox.address_families == std::vector<int>{AF_UNIX, AF_INET6});
  CHECK(sandbox.pid_namespace);
  CHECK(sandbox.ipc_namespace);
  CHECK(sandbox.uts_namespace);
  CHECK(sandbox.memory_max == 256ULL << 20);
  CHECK(sandbox.tasks_max == 64);
  CHECK(sandbox.cpu_max_percent == 50);
  CHECK(sandbox.NeedsCgroup());
  CHECK(sandbox.NeedsMountNamespace());
  CHECK(sandbox.NeedsLandlock());
  CHECK(sandbox.NeedsSeccomp());
}

TEST_CASE("the service preset expands to the calls an ordinary program makes and not mount") {
  SandboxConfig sandbox = LoadSandbox("      system_calls: service\n");
  REQUIRE(sandbox.system_calls);
  const auto& calls = *sandbox.system_calls;
  for (const char* call : {"read", "write", "execve", "socket", "openat", "exit_group", "mmap"}) {
    CHECK_MESSAGE(std::count(calls.begin(), calls.end(), call) == 1, call);
  }
  for (const char* call : {"mount", "reboot", "init_module", "ptrace", "unshare", "setns", "bpf"}) {
    CHECK_MESSAGE(std::count(calls.begin(), calls.end(), call) == 0, call);
  }
  // Inside a list, a set is written @service and adds to the others.
  SandboxConfig mixed = LoadSandbox("      system_calls: ['@service', mount]\n");
  CHECK(mixed.system_calls->size() == calls.size() + 1);
}

TEST_CASE("a sandbox in defaults applies to every service") {
  LoadResult result = LoadText(R"(defaults:
  sandbox: {private_tmp: true}
services:
  - name: a
    listen: 127.0.0.1:7007
    program: /bin/cat
)");
  REQUIRE(result.config);
  CHECK(result.config->services[0].sandbox.private_tmp);
}

TEST_CASE("bad sandbox values are refused with their place and what to write") {
  Problem unknown = OnlyProblem("    sandbox:\n      privat_tmp: true\n");
  CHECK(unknown.where.line == 6);
  CHECK(Contains(unknown.message, "did you mean 'private_tmp'"));
  CHECK(Contains(OnlyProblem("    sandbox:\n      read_only: yes\n").message, "true or false"));
  CHECK(Contains(OnlyProblem("    sandbox:\n      writable: [var/lib]\n").message, "absolute paths"));
  CHECK(Contains(OnlyProblem("    sandbox:\n      hidden: [/]\n").message, "cannot name /"));
  CHECK(Contains(OnlyProblem("    sandbox:\n      system_calls: [read, frobnicate]\n").message,
                 "'frobnicate' is neither a system call"));
  CHECK(Contains(OnlyProblem("    sandbox:\n      address_families: [ipx]\n").message, "unknown family 'ipx'"));
  CHECK(Contains(OnlyProblem("    sandbox:\n      namespaces: [net]\n").message, "private_network"));
  CHECK(Contains(OnlyProblem("    sandbox:\n      memory_max: lots\n").message, "like 256M"));
  CHECK(Contains(OnlyProblem("    sandbox:\n      memory_max: 100\n").message, "at least 1M"));
  CHECK(Contains(OnlyProblem("    sandbox:\n      tasks_max: 0\n").message, "from 1"));
  CHECK(Contains(OnlyProblem("    sandbox:\n      cpu_max: 50\n").message, "like 50%"));
  CHECK(Contains(OnlyProblem("    sandbox:\n      writable: [/a]\n      hidden: [/a]\n").message,
                 "both writable and hidden"));
  CHECK(Contains(OnlyProblem("    sandbox: true\n").message, "must be a map"));
}

// --check: a key the running kernel cannot honour is a problem, never a
// program run unconfined. One case per mechanism the kernel may lack.
TEST_CASE("--check reports each key the kernel cannot honour") {
  FakeHost no_landlock;
  no_landlock.kernel.landlock_abi = 0;
  CHECK(Contains(OnlyProblem("    sandbox: {read_only: true}\n", no_landlock).message,
                 "sandbox.read_only needs Landlock"));
  CHECK(Contains(OnlyProblem("    sandbox: {writable: [/srv]}\n", no_landlock).message,
                 "sandbox.writable needs Landlock"));
  // read_only: false asks for nothing.
  CHECK(Load("    sandbox: {read_only: false}\n", no_landlock).config);

  FakeHost no_seccomp;
  no_seccomp.kernel.seccomp = false;
  CHECK(Contains(OnlyProblem("    sandbox: {system_calls: service}\n", no_seccomp).message,
                 "sandbox.system_calls needs seccomp"));
  CHECK(Contains(OnlyProblem("    sandbox: {address_families: [unix]}\n", no_seccomp).message,
                 "sandbox.address_families needs seccomp"));

  FakeHost no_namespaces;
  no_namespaces.kernel.namespaces = false;
  for (const char* block : {"{private_network: true}", "{private_tmp: true}", "{hidden: [/home]}",
                            "{namespaces: [pid]}"}) {
    CHECK_MESSAGE(Contains(OnlyProblem("    sandbox: " + std::string(block) + "\n", no_namespaces).message,
                           "CAP_SYS_ADMIN"),
                  block);
  }

  FakeHost hybrid;
  hybrid.kernel.cgroup_root = "";
  hybrid.kernel.cgroup_why_not = "cgroup v2 at /sys/fs/cgroup/unified lacks the memory controller(s)";
  for (const char* block : {"{memory_max: 256M}", "{tasks_max: 64}", "{cpu_max: 50%}"}) {
    Problem problem = OnlyProblem("    sandbox: " + std::string(block) + "\n", hybrid);
    CHECK_MESSAGE(Contains(problem.message, "lacks the memory controller"), block);
    CHECK(problem.where.line == 5);
  }
}

TEST_CASE("user: dynamic takes its uids from the top-level range") {
  LoadResult result = LoadText(std::string("dynamic_users: 61000-61999\n") + kService + "    user: dynamic\n");
  for (const Problem& problem : result.problems) MESSAGE(problem.ToString());
  REQUIRE(result.config);
  CHECK(result.config->services[0].dynamic_user);
  CHECK_FALSE(result.config->services[0].credentials);
  CHECK(result.config->dynamic_users == DynamicUserRange{61000, 61999});
}

TEST_CASE("user: dynamic without a range, with a group, or unprivileged is refused") {
  CHECK(Contains(OnlyProblem("    user: dynamic\n").message, "dynamic_users: 61000-61999"));
  std::string ranged = "dynamic_users: 61000-61999\n";
  LoadResult grouped = LoadText(ranged + kService + "    user: dynamic\n    group: staff\n");
  REQUIRE(grouped.problems.size() == 1);
  CHECK(Contains(grouped.problems[0].message, "remove group"));
  FakeHost unprivileged;
  unprivileged.euid = 1000;
  LoadResult refused = LoadText(ranged + kService + "    user: dynamic\n", unprivileged);
  REQUIRE(refused.problems.size() == 1);
  CHECK(Contains(refused.problems[0].message, "needs root"));
}

TEST_CASE("dynamic user ranges") {
  CHECK(ParseDynamicUserRange("61000-61999") == DynamicUserRange{61000, 61999});
  CHECK(ParseDynamicUserRange("5-5") == DynamicUserRange{5, 5});
  for (const char* bad : {"", "61000", "0-10", "10-5", "a-b", "1-2147483648", "-5", "5-", "1 - 2"}) {
    CHECK_MESSAGE(!ParseDynamicUserRange(bad), bad);
  }
  LoadResult bad = LoadText(std::string("dynamic_users: 500\n") + kService);
  REQUIRE(bad.problems.size() == 1);
  CHECK(Contains(bad.problems[0].message, "like 61000-61999"));
}

}  // namespace
}  // namespace yinetd::config
