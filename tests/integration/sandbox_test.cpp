// End to end: sandboxed services (issue 14). A probe program reports what
// its sandbox lets it do (tests/helpers/sandbox_probe.cpp).
#include <doctest/doctest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>
#include <map>
#include <set>

#include "integration/harness.h"
#include "scratch_dir.h"
#include "sandbox/probe.h"
#include "sandbox/sandbox.h"

namespace yinetd::testing {
namespace {

using Report = std::map<std::string, std::string>;

const config::KernelSupport& Kernel() {
  static const config::KernelSupport kernel = sandbox::ProbeKernel();
  return kernel;
}

// A case that cannot run here says why and passes. Under meson's
// integration-sandbox-cgroup (YINETD_SKIP_EXIT=77, which runs only the "live
// cgroup" cases) the binary ends with that status instead, which meson
// reports as SKIP.
bool SkipUnless(bool can_run, const std::string& why) {
  if (can_run) return false;
  MESSAGE("skipped: " << why);
  if (const char* status = std::getenv("YINETD_SKIP_EXIT")) {
    std::cout << "SKIP: " << why << std::endl;
    std::_Exit(std::atoi(status));
  }
  return true;
}

const char* const kNoNamespaces = "yinetd may not make namespaces here (no CAP_SYS_ADMIN)";
const char* const kNoLandlock = "this kernel has no Landlock";
const char* const kNoSeccomp = "this kernel has no seccomp filters";
const char* const kNoDynamicUsers = "user: dynamic needs root and namespaces";
bool CanRunDynamicUsers() { return Kernel().namespaces && geteuid() == 0; }

// The probe program's path. With private_tmp the program's /tmp and
// /var/tmp are empty, so a probe built in a checkout under one of them (CI
// clones into /tmp) could not be exec'd there: then a copy in a directory
// under /run is used, readable by every uid (the dynamic users), removed at
// exit.
class ProbeProgram {
 public:
  ProbeProgram() : path_(Helper("sandbox_probe")) {
    if (!UnderTmp(path_)) return;
    char pattern[] = "/run/yinetd-probe-XXXXXX";
    if (mkdtemp(pattern) == nullptr) return;  // not root: keep the built one
    dir_ = pattern;
    std::filesystem::permissions(dir_, std::filesystem::perms(0755));
    std::string copy = dir_ + "/sandbox_probe";
    std::filesystem::copy_file(path_, copy);
    std::filesystem::permissions(copy, std::filesystem::perms(0755));
    path_ = copy;
  }
  ~ProbeProgram() {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  const std::string& Path() const { return path_; }

 private:
  static bool UnderTmp(const std::string& path) {
    return path.rfind("/tmp/", 0) == 0 || path.rfind("/var/tmp/", 0) == 0;
  }
  std::string path_;
  std::string dir_;
};

const std::string& ProbePath() {
  static const ProbeProgram probe;
  return probe.Path();
}

std::string ProbeService(uint16_t port, const std::string& keys, const std::string& args = "") {
  return "services:\n  - name: probe\n    listen: 127.0.0.1:" + std::to_string(port) + "\n    program: " +
         ProbePath() + "\n" + (args.empty() ? "" : "    args: " + args + "\n") + keys;
}

// Reads the probe's report up to its "ready" line (bounded by `timeout`).
Report ReadReport(int fd, Duration timeout = 10s) {
  std::string text;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (text.find("ready\n") == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd ready{fd, POLLIN, 0};
    if (left.count() <= 0 || poll(&ready, 1, static_cast<int>(left.count())) != 1) break;
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  Report report;
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(at, end - at);
    size_t eq = line.find('=');
    if (eq != std::string::npos) report[line.substr(0, eq)] = line.substr(eq + 1);
    if (line == "ready") report["ready"] = "yes";
    at = end + 1;
  }
  return report;
}

// One connection: the report, then EOF to the probe so that it exits.
Report Probe(uint16_t port) {
  UniqueFd connection = ConnectTcp("127.0.0.1", port);
  Report report = ReadReport(connection.Get());
  shutdown(connection.Get(), SHUT_WR);
  ReadUntilEof(connection.Get());
  return report;
}

// A command to a probe that is still running; its one-line answer.
std::string Ask(int fd, const std::string& command) {
  SendAll(fd, command + "\n");
  Report answer = ReadReport(fd, 5s);  // no "ready" comes: read what arrives
  return answer.begin() != answer.end() ? answer.begin()->second : "";
}

TEST_CASE("without a sandbox the probe may do everything, and its exit says what it used") {
  uint16_t port = FreePort();
  Yinetd yinetd(ProbeService(port, ""));
  Report report = Probe(port);
  REQUIRE(report["ready"] == "yes");
  CHECK(report["Seccomp"] == "0");
  CHECK(report["NoNewPrivs"] == "0");
  CHECK(report["socket_inet"] == "ok");
  CHECK(report["syslog_call"] == "ok");
  REQUIRE(yinetd.WaitForLog({"event=exit", "service=probe", "cpu_ms=", "maxrss_kb="}));
  LogFields exit = yinetd.Events("exit").at(0);
  CHECK(std::stol(exit["cpu_ms"]) >= 0);
  CHECK(std::stol(exit["maxrss_kb"]) > 0);  // a running program has some memory
  CHECK(yinetd.WaitForLog({"event=start", "sandbox="}));
}

TEST_CASE("event=start says which mechanisms the kernel offers") {
  uint16_t port = FreePort();
  Yinetd yinetd(ProbeService(port, ""));
  REQUIRE(yinetd.WaitForLog({"event=start"}));
  std::string offered = yinetd.Events("start").at(0)["sandbox"];
  CHECK(offered == sandbox::OfferedMechanisms(Kernel()));
  if (Kernel().landlock_abi > 0) CHECK(offered.find("landlock") != std::string::npos);
}

TEST_CASE("private_network: the program sees only lo") {
  if (SkipUnless(Kernel().namespaces, kNoNamespaces)) return;
  uint16_t port = FreePort();
  Yinetd yinetd(ProbeService(port, "    sandbox: {private_network: true}\n"));
  Report report = Probe(port);
  REQUIRE(report["ready"] == "yes");
  CHECK(report["interfaces"] == "lo");
  CHECK(report["NoNewPrivs"] == "1");
}

TEST_CASE("read_only: /etc and /usr cannot be written, a writable path can") {
  if (SkipUnless(Kernel().landlock_abi > 0, kNoLandlock)) return;
  uint16_t port = FreePort();
  Yinetd yinetd(ProbeService(port, "    sandbox:\n      read_only: true\n      writable: [$DIR]\n",
                             "[$DIR, \"-\"]"));
  Report report = Probe(port);
  REQUIRE(report["ready"] == "yes");
  CHECK(report["write_etc"] == "EACCES");
  CHECK(report["write_usr"] == "EACCES");
  CHECK(report["write_writable"] == "ok");
}

TEST_CASE("hidden: a hidden directory's files cannot be reached") {
  if (SkipUnless(Kernel().namespaces, kNoNamespaces)) return;
  uint16_t port = FreePort();
  // Made before yinetd starts: a hidden path must exist at load.
  ScratchDir scratch("hidden", "/var/tmp");
  const std::string& hidden = scratch.Path();
  WriteText(hidden + "/secret", "s3cret\n");
  {
    Yinetd yinetd(ProbeService(port, "    sandbox: {hidden: [" + hidden + "]}\n", "[\"-\", " + hidden + "]"));
    Report report = Probe(port);
    REQUIRE(report["ready"] == "yes");
    CHECK(report["read_hidden"] == "ENOENT");
  }
  CHECK(std::filesystem::exists(hidden + "/secret"));
}

TEST_CASE("hidden: every connection enters the service's one mount namespace; a reload that changes hidden makes another") {
  if (SkipUnless(Kernel().namespaces, kNoNamespaces)) return;
  uint16_t port = FreePort();
  ScratchDir first_scratch("hidden-a", "/var/tmp"), second_scratch("hidden-b", "/var/tmp");
  const std::string &first = first_scratch.Path(), &second = second_scratch.Path();
  WriteText(first + "/secret", "a\n");
  WriteText(second + "/secret", "b\n");
  // The probe reads `first`'s secret as the hidden directory's, and again
  // as a file named on its command line.
  auto config = [&](const std::string& hidden) {
    return ProbeService(port, "    sandbox: {hidden: [" + hidden + "]}\n",
                        "[\"-\", " + hidden + ", " + first + "/secret]");
  };
  Yinetd yinetd(config(first));
  Report a = Probe(port), b = Probe(port);
  REQUIRE(a["ready"] == "yes");
  REQUIRE(b["ready"] == "yes");
  CHECK(a["read_hidden"] == "ENOENT");
  CHECK(a["mnt_ns"] == b["mnt_ns"]);
  char ours[64] = {};
  REQUIRE(readlink("/proc/self/ns/mnt", ours, sizeof ours - 1) > 0);
  CHECK(a["mnt_ns"] != ours);
  yinetd.Rewrite(config(second));
  yinetd.Signal(SIGHUP);
  REQUIRE(yinetd.WaitForLog({"event=reload", "result=ok", "changed=1"}));
  Report after = Probe(port);
  REQUIRE(after["ready"] == "yes");
  CHECK(after["read_hidden"] == "ENOENT");    // the second directory is hidden now
  CHECK(after["read_hidden_file"] == "ok");   // and the first is not
  CHECK(after["mnt_ns"] != a["mnt_ns"]);
}

TEST_CASE("hidden: a hidden file cannot be opened (EACCES), by root either; its directory still can") {
  if (SkipUnless(Kernel().namespaces, kNoNamespaces)) return;
  uint16_t port = FreePort();
  ScratchDir scratch("ssh", "/var/tmp");
  const std::string& dir = scratch.Path();
  std::string config = dir + "/sshd_config";
  WriteText(config, "PermitRootLogin no\n");
  WriteText(dir + "/secret", "not hidden\n");
  {
    // The directory is the "writable" argument: the probe may create a
    // file beside the hidden one.
    Yinetd yinetd(ProbeService(port, "    sandbox: {hidden: [" + config + "]}\n",
                               "[" + dir + ", \"-\", " + config + "]"));
    Report report = Probe(port);
    REQUIRE(report["ready"] == "yes");
    CHECK(report["uid"] == "0");
    CHECK(report["read_hidden_file"] == "EACCES");
    CHECK(report["write_writable"] == "ok");
  }
  CHECK(std::filesystem::file_size(config) == 19);  // hidden from the program only
}

TEST_CASE("private_tmp: /tmp is empty at start and another connection's files are not there") {
  if (SkipUnless(Kernel().namespaces, kNoNamespaces)) return;
  uint16_t port = FreePort();
  Yinetd yinetd(ProbeService(port, "    sandbox: {private_tmp: true}\n"));
  // The first connection leaves its mark in its /tmp and stays.
  UniqueFd first = ConnectTcp("127.0.0.1", port);
  Report a = ReadReport(first.Get());
  REQUIRE(a["ready"] == "yes");
  CHECK(a["tmp_entries"] == "0");
  CHECK(a["tmp_write"] == "ok");
  Report b = Probe(port);
  REQUIRE(b["ready"] == "yes");
  CHECK(b["tmp_entries"] == "0");
  CHECK(b["tmp_foreign_mark"] == "no");
  // Each in a mount namespace of its own, a copy of the service's.
  CHECK(a["mnt_ns"] != b["mnt_ns"]);
  // And nothing reached the host's /tmp.
  CHECK_FALSE(std::filesystem::exists("/tmp/probe-mark-" + a["pid"]));
}

TEST_CASE("system_calls: a denied call fails with EPERM and the program goes on") {
  if (SkipUnless(Kernel().seccomp, kNoSeccomp)) return;
  uint16_t port = FreePort();
  Yinetd yinetd(ProbeService(port, "    sandbox: {system_calls: service}\n"));
  Report report = Probe(port);
  REQUIRE(report["ready"] == "yes");  // it went on after the denied call
  CHECK(report["syslog_call"] == "EPERM");
  CHECK(report["socket_inet"] == "ok");
  // /proc/self/status shows the filter and no new privileges.
  CHECK(report["Seccomp"] == "2");
  CHECK(report["NoNewPrivs"] == "1");
  REQUIRE(yinetd.WaitForLog({"event=exit", "service=probe", "status=0"}));
}

TEST_CASE("address_families: [unix] makes socket(AF_INET) fail") {
  if (SkipUnless(Kernel().seccomp, kNoSeccomp)) return;
  uint16_t port = FreePort();
  Yinetd yinetd(ProbeService(port, "    sandbox: {address_families: [unix]}\n"));
  Report report = Probe(port);
  REQUIRE(report["ready"] == "yes");
  CHECK(report["socket_inet"] == "EAFNOSUPPORT");
  CHECK(report["socket_unix"] == "ok");
  CHECK(report["Seccomp"] == "2");
}

TEST_CASE("namespaces: the program is the first process of its own pid namespace") {
  if (SkipUnless(Kernel().namespaces, kNoNamespaces)) return;
  uint16_t port = FreePort();
  Yinetd yinetd(ProbeService(port, "    sandbox: {namespaces: [pid, ipc, uts]}\n"));
  // Each connection's IPC namespace comes with its clone and is its own.
  // All three programs run at once: a namespace's number is reused once it
  // is gone.
  char ours[64] = {};
  REQUIRE(readlink("/proc/self/ns/ipc", ours, sizeof ours - 1) > 0);
  std::set<std::string> seen;
  std::vector<UniqueFd> open_connections;
  for (int connection = 0; connection < 3; ++connection) {
    open_connections.push_back(ConnectTcp("127.0.0.1", port));
    Report report = ReadReport(open_connections.back().Get());
    REQUIRE(report["ready"] == "yes");
    CHECK(report["pid"] == "1");
    CHECK(report["ipc_ns"].rfind("ipc:[", 0) == 0);
    CHECK(report["ipc_ns"] != ours);
    seen.insert(report["ipc_ns"]);
  }
  CHECK(seen.size() == 3);
  for (UniqueFd& connection : open_connections) shutdown(connection.Get(), SHUT_WR);
}

TEST_CASE("user: dynamic: two connections run as different uids and cannot signal each other") {
  if (SkipUnless(CanRunDynamicUsers(), kNoDynamicUsers)) return;
  uint16_t port = FreePort();
  Yinetd yinetd("dynamic_users: 61000-61009\n" + ProbeService(port, "    user: dynamic\n"));
  UniqueFd first = ConnectTcp("127.0.0.1", port), second = ConnectTcp("127.0.0.1", port);
  Report a = ReadReport(first.Get()), b = ReadReport(second.Get());
  REQUIRE(a["ready"] == "yes");
  REQUIRE(b["ready"] == "yes");
  CHECK(a["uid"] != b["uid"]);
  CHECK(a["uid"] == a["gid"]);
  for (const Report* report : {&a, &b}) {
    int uid = std::stoi((*report).at("uid"));
    CHECK(uid >= 61000);
    CHECK(uid <= 61009);
  }
  REQUIRE(yinetd.WaitForLog({"event=accept", "service=probe"}, 2));
  std::vector<LogFields> accepts = yinetd.Events("accept");
  for (const LogFields& accept : accepts) {
    // Each asks to signal both host pids: neither is reachable from a
    // different uid in another pid namespace.
    CHECK(Ask(first.Get(), "kill " + accept.at("pid")) != "ok");
    CHECK(Ask(second.Get(), "kill " + accept.at("pid")) != "ok");
  }
  shutdown(first.Get(), SHUT_WR);
  shutdown(second.Get(), SHUT_WR);
  ReadUntilEof(first.Get());
  ReadUntilEof(second.Get());
  REQUIRE(yinetd.WaitForLog({"event=exit", "service=probe"}, 2));
  // Released: a third connection gets a uid again.
  CHECK(Probe(port)["ready"] == "yes");
}

TEST_CASE("a reload whose sandbox cannot be prepared keeps the old config serving") {
  if (SkipUnless(Kernel().namespaces, kNoNamespaces)) return;
  uint16_t port = FreePort();
  Yinetd yinetd(ProbeService(port, ""));
  REQUIRE(yinetd.WaitForLog({"event=start"}));
  // Valid to the loader, which makes no system calls; the directory is
  // found missing when the sandbox is prepared.
  yinetd.Rewrite(ProbeService(port, "    sandbox: {hidden: [/nonexistent/yinetd-hidden]}\n"));
  yinetd.Signal(SIGHUP);
  CHECK(yinetd.WaitForLog({"event=reload", "result=error", "unable to prepare its sandbox", "/nonexistent/yinetd-hidden"}));
  Report report = Probe(port);
  REQUIRE(report["ready"] == "yes");
  CHECK(report["Seccomp"] == "0");  // the old, unconfined config
}

TEST_CASE("user: dynamic with every uid held: the next client is closed and logged, later ones served") {
  if (SkipUnless(CanRunDynamicUsers(), kNoDynamicUsers)) return;
  uint16_t port = FreePort();
  Yinetd yinetd("dynamic_users: 61010-61010\n" + ProbeService(port, "    user: dynamic\n"));
  UniqueFd holder = ConnectTcp("127.0.0.1", port);
  REQUIRE(ReadReport(holder.Get())["uid"] == "61010");
  UniqueFd turned_away = ConnectTcp("127.0.0.1", port);
  CHECK(ReadUntilEof(turned_away.Get()) == "");
  CHECK(yinetd.WaitForLog({"event=error", "service=probe", "call=dynamic_users"}));
  shutdown(holder.Get(), SHUT_WR);
  ReadUntilEof(holder.Get());
  REQUIRE(yinetd.WaitForLog({"event=exit", "service=probe"}));
  // The listener rests briefly after the refusal; a later client is served.
  Report later;
  for (int attempt = 0; attempt < 20 && later["ready"] != "yes"; ++attempt) {
    later = Probe(port);
    if (later["ready"] != "yes") std::this_thread::sleep_for(100ms);
  }
  CHECK(later["uid"] == "61010");
}

TEST_CASE("a sandbox step that fails at a connection is an exec_error naming the step") {
  if (SkipUnless(Kernel().namespaces, kNoNamespaces)) return;
  uint16_t port = FreePort();
  ScratchDir scratch("hidden", "/var/tmp");
  Yinetd yinetd(ProbeService(port, "    sandbox: {hidden: [" + scratch.Path() + "]}\n"));
  REQUIRE(yinetd.WaitForLog({"event=start"}));
  // Gone after load: the child's mount over it fails.
  std::filesystem::remove_all(scratch.Path());
  UniqueFd connection = ConnectTcp("127.0.0.1", port);
  CHECK(ReadUntilEof(connection.Get()) == "");
  CHECK(yinetd.WaitForLog({"event=exec_error", "service=probe", "step=\"mount hidden\""}));
  CHECK(yinetd.WaitForLog({"event=exit", "service=probe", "status=127"}));
}

TEST_CASE("ctl dump prints the sandbox keys and user: dynamic, and the dump passes --check") {
  if (SkipUnless(Kernel().seccomp && Kernel().namespaces && Kernel().landlock_abi > 0,
                 "the kernel here cannot honour every key this dump carries")) {
    return;
  }
  uint16_t port = FreePort();
  Yinetd yinetd("dynamic_users: 61200-61299\n" +
                ProbeService(port, "    user: dynamic\n    sandbox:\n      private_network: true\n"
                                   "      private_tmp: true\n      read_only: true\n      writable: [$DIR]\n"
                                   "      hidden: [/root]\n      system_calls: service\n"
                                   "      address_families: [unix, inet]\n      namespaces: [pid, ipc, uts]\n"));
  auto [code, dump] = yinetd.Ctl("dump");
  REQUIRE(code == 0);
  INFO(dump);
  for (const char* key : {"dynamic_users: 61200-61299", "user: dynamic", "private_network: true", "private_tmp: true",
                          "read_only: true", "hidden:", "system_calls:", "address_families:", "namespaces:"}) {
    CHECK_MESSAGE(dump.find(key) != std::string::npos, key);
  }
  std::string dumped = yinetd.Dir() + "/dumped.yaml";
  WriteText(dumped, dump);
  auto [check_code, check] = RunCommand(std::string(std::getenv("YINETD_BINARY")) + " --check -c " + dumped + " 2>&1");
  CHECK(check_code == 0);
  CHECK(check == dumped + ": OK, 1 service(s)\n");
}

std::string ReadCgroupFile(const std::string& path) {
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

TEST_CASE("live cgroup: a service's group carries its limits and its programs run in it") {
  if (SkipUnless(!Kernel().cgroup_root.empty(), Kernel().cgroup_why_not)) return;
  uint16_t port = FreePort();
  Yinetd yinetd(ProbeService(port, "    sandbox: {memory_max: 64M, tasks_max: 8, cpu_max: 50%}\n"));
  std::string group = Kernel().cgroup_root + "/service.probe";
  CHECK(ReadCgroupFile(group + "/memory.max") == "67108864");
  CHECK(ReadCgroupFile(group + "/pids.max") == "8");
  CHECK(ReadCgroupFile(group + "/cpu.max") == "50000 100000");
  UniqueFd connection = ConnectTcp("127.0.0.1", port);
  Report report = ReadReport(connection.Get());
  REQUIRE(report["ready"] == "yes");
  // Started straight into the group (CLONE_INTO_CGROUP): the probe is there
  // while it runs.
  CHECK(ReadCgroupFile(group + "/cgroup.procs").find(report["pid"]) != std::string::npos);
  shutdown(connection.Get(), SHUT_WR);
  ReadUntilEof(connection.Get());
}

TEST_CASE("live cgroup: timeout ends what left the program's process group") {
  if (SkipUnless(!Kernel().cgroup_root.empty(), Kernel().cgroup_why_not)) return;
  uint16_t port = FreePort();
  // The background sleep leaves the process group with setsid: only the
  // cgroup reaches it.
  Yinetd yinetd("services:\n  - name: escape\n    listen: 127.0.0.1:" + std::to_string(port) +
                "\n    program: /bin/sh\n    args: [\"-c\", \"setsid sleep 300 </dev/null >/dev/null 2>&1 & "
                "echo started; sleep 300\"]\n    timeout: 1\n    kill_grace: 0.5\n"
                "    sandbox: {tasks_max: 16}\n");
  std::string procs = Kernel().cgroup_root + "/service.escape/cgroup.procs";
  UniqueFd connection = ConnectTcp("127.0.0.1", port);
  REQUIRE(yinetd.WaitForLog({"event=exit", "service=escape", "reason=timeout"}, 1, 10s));
  std::string left = "?";
  for (int i = 0; i < 100 && !left.empty(); ++i) {
    left = ReadCgroupFile(procs);
    if (!left.empty()) std::this_thread::sleep_for(100ms);
  }
  CHECK(left.empty());
}

TEST_CASE("--check reports a cgroup key this kernel cannot honour") {
  uint16_t port = FreePort();
  auto [code, out] = RunCheck(ProbeService(port, "    sandbox: {memory_max: 64M}\n"));
  if (!Kernel().cgroup_root.empty()) {
    CHECK(code == 0);
    return;
  }
  CHECK(code != 0);
  CHECK(out.find("sandbox.memory_max needs") != std::string::npos);
  CHECK(out.find("Delegate=yes") != std::string::npos);
}

TEST_CASE("a service with cgroup keys but no delegated tree does not start") {
  if (!Kernel().cgroup_root.empty()) return;  // the case above runs instead
  ScratchDir scratch("cgroup");
  std::string config = scratch.Path("yinetd.yaml");
  WriteText(config, ProbeService(FreePort(), "    sandbox: {tasks_max: 8}\n"));
  // A config error ends yinetd at once, before it binds anything.
  auto [code, out] = RunCommand("timeout 10 " + std::string(std::getenv("YINETD_BINARY")) + " -c " + config + " 2>&1");
  CHECK(code != 0);
  CHECK(out.find("event=config_error") != std::string::npos);
  CHECK(out.find("sandbox.tasks_max needs") != std::string::npos);
}

}  // namespace
}  // namespace yinetd::testing
