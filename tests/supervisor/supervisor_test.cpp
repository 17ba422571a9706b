// The loop, driven by hand: real loopback sockets, a fake clock and a fake
// process starter, so admission, timeouts, reloads and shutdown are tested
// without sleeping or forking.
#include "supervisor/supervisor.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>

#include "supervisor/fakes.h"
#include "sys/signal_pipe.h"

namespace yinetd::supervisor {
namespace {

net::Address Addr(const std::string& text) {
  // Port 0 (the kernel picks one) is no valid config, but fine for a test.
  if (text == "127.0.0.1:0") return net::Address{net::Address::Family::kIPv4, "127.0.0.1", 0, ""};
  return std::get<net::Address>(net::ParseAddress(text));
}

config::ServiceConfig Svc(const std::string& name, const std::string& listen = "127.0.0.1:0",
                          config::Protocol protocol = config::Protocol::kTcp) {
  config::ServiceConfig s;
  s.name = name;
  s.program = "/bin/cat";
  s.protocol = protocol;
  s.mode = protocol == config::Protocol::kUdp ? config::Mode::kWait : config::Mode::kNowait;
  s.stderr_mode = config::StderrMode::kNull;
  s.listen.push_back(Addr(listen));
  return s;
}

config::Config Conf(std::vector<config::ServiceConfig> services) {
  config::Config c;
  c.file = "test.yaml";
  c.services = std::move(services);
  return c;
}

UniqueFd ConnectTo(uint16_t port, const char* from = "127.0.0.1") {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in local{};
  local.sin_family = AF_INET;
  inet_pton(AF_INET, from, &local.sin_addr);
  REQUIRE(bind(fd.Get(), reinterpret_cast<sockaddr*>(&local), sizeof local) == 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  REQUIRE(connect(fd.Get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
  return fd;
}

// One datagram "ping" to 127.0.0.1:`port`.
void SendPing(uint16_t port) {
  UniqueFd sender(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  REQUIRE(sendto(sender.Get(), "ping", 4, 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 4);
}

// A TCP socket bound to a port of the kernel's choice on 127.0.0.1, and that port.
UniqueFd BoundLoopback(uint16_t& port) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  REQUIRE(bind(fd.Get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
  socklen_t length = sizeof sa;
  REQUIRE(getsockname(fd.Get(), reinterpret_cast<sockaddr*>(&sa), &length) == 0);
  port = ntohs(sa.sin_port);
  return fd;
}

ino_t InodeOf(int fd) {
  struct stat st{};
  REQUIRE(fstat(fd, &st) == 0);
  return st.st_ino;
}

// A supervisor over fakes, its config source under the test's control.
struct Rig {
  // `pidfds`: the fake tells of each exit on a reap fd, as SystemProcesses
  // does where the kernel has pidfds.
  explicit Rig(config::Config config, std::optional<log::Level> cli_level = std::nullopt, bool pidfds = false) {
    if (pidfds) processes.UsePidfds();
    supervisor = std::make_unique<Supervisor>(config, processes, clock, cli_level);
    next = config;
    supervisor->SetConfigSource([this] { return config::LoadResult{next, {}}; });
    supervisor->Bind();
  }
  uint16_t Port(size_t listener = 0) const { return supervisor->GetListeners().All().at(listener)->local.port; }
  const Listener& ListenerAt(size_t i) const { return *supervisor->GetListeners().All().at(i); }
  const ServiceCounts& Counts(size_t service = 0) const { return supervisor->Services().at(service)->state->counts; }
  // Passes until nothing more is ready (bounded).
  void Settle() {
    for (int i = 0; i < 5; ++i) supervisor->RunOnce(20);
  }
  void Exit(size_t nth, int status = 0, bool leaves_group = false) {
    processes.Exit(processes.spawned.at(nth).pid, W_EXITCODE(status, 0), leaves_group);
    supervisor->ReapChildren();
  }

  FakeClock clock;
  FakeProcesses processes;
  config::Config next;
  std::unique_ptr<Supervisor> supervisor;
};

TEST_CASE("a connection is counted in once when its program starts and out once when it ends") {
  Rig rig(Conf({Svc("echo")}));
  UniqueFd client = ConnectTo(rig.Port());
  rig.Settle();
  REQUIRE(rig.processes.spawned.size() == 1);
  CHECK(rig.Counts().running == 1);
  CHECK(rig.Counts().accepted == 1);
  CHECK(rig.supervisor->GetChildren().Running() == 1);
  rig.Exit(0);
  CHECK(rig.Counts().running == 0);
  CHECK(rig.Counts().exits_status == 1);
  CHECK(rig.supervisor->GetChildren().Running() == 0);
  std::string metrics = rig.supervisor->MetricsText();
  CHECK(metrics.find("yinetd_children_running{service=\"echo\"} 0") != std::string::npos);
  CHECK(metrics.find("yinetd_connections_accepted_total{service=\"echo\"} 1") != std::string::npos);
}

TEST_CASE("max_connections, max_per_source and max_children hold across a reload that changes the service") {
  config::ServiceConfig echo = Svc("echo");
  echo.limits.max_connections = 2;
  echo.limits.max_per_source = 1;
  config::Config config = Conf({echo});
  config.max_children = 3;
  Rig rig(config);
  UniqueFd a = ConnectTo(rig.Port(), "127.0.0.1");
  UniqueFd b = ConnectTo(rig.Port(), "127.0.0.2");
  rig.Settle();
  REQUIRE(rig.Counts().running == 2);
  // A reload that changes the service (a new env value) while both run.
  rig.next.services[0].env.emplace_back("X", "1");
  rig.supervisor->Reload("test");
  CHECK(rig.Counts().running == 2);
  UniqueFd c = ConnectTo(rig.Port(), "127.0.0.3");
  rig.Settle();
  CHECK(rig.processes.spawned.size() == 2);
  CHECK(rig.Counts().refused.at("max_connections") == 1);
  // One ends: a second client from a source still running is refused...
  rig.Exit(1);  // 127.0.0.2's
  UniqueFd d = ConnectTo(rig.Port(), "127.0.0.1");
  rig.Settle();
  CHECK(rig.Counts().refused.at("max_per_source") == 1);
  // ... and another source gets in, under the new settings.
  UniqueFd e = ConnectTo(rig.Port(), "127.0.0.4");
  rig.Settle();
  REQUIRE(rig.processes.spawned.size() == 3);
  const auto& env = rig.processes.spawned[2].env;
  CHECK(std::find(env.begin(), env.end(), "X=1") != env.end());
  // max_children counts the children started before the reload too.
  rig.next.services[0].limits.max_connections.reset();
  rig.next.services[0].limits.max_per_source.reset();
  rig.next.max_children = 2;
  rig.supervisor->Reload("test");
  UniqueFd f = ConnectTo(rig.Port(), "127.0.0.5");
  rig.Settle();
  CHECK(rig.Counts().refused.at("max_children") == 1);
}

TEST_CASE("a rate bucket carries over a reload that leaves its rate alone") {
  config::ServiceConfig echo = Svc("echo");
  echo.limits.max_rate = 1;
  Rig rig(Conf({echo}));
  UniqueFd a = ConnectTo(rig.Port());
  rig.Settle();
  rig.next.services[0].env.emplace_back("X", "1");
  rig.supervisor->Reload("test");
  UniqueFd b = ConnectTo(rig.Port());
  rig.Settle();
  CHECK(rig.processes.spawned.size() == 1);
  CHECK(rig.Counts().refused.at("max_rate") == 1);
}

TEST_CASE("a removed max_children key gets its derived default back") {
  config::Config config = Conf({Svc("echo")});
  config.max_children = 1;
  Rig rig(config);
  CHECK(rig.supervisor->MaxChildren() == 1);
  rig.next.max_children.reset();
  rig.supervisor->Reload("test");
  CHECK(rig.supervisor->MaxChildren() == DefaultMaxChildren(DescriptorsPerChild(config)));
}

TEST_CASE("the default max_children leaves each child its descriptors, a TLS child its third") {
  // 1088 descriptors: 64 kept in reserve, 1024 for the children.
  rlimit nofile{1088, 1088}, no_bound{RLIM_INFINITY, RLIM_INFINITY};
  CHECK(MaxChildrenWithin(nofile, no_bound, 1) == 1024);
  CHECK(MaxChildrenWithin(nofile, no_bound, 2) == 512);
  CHECK(MaxChildrenWithin(nofile, rlimit{100, 100}, 2) == 100);  // RLIMIT_NPROC bounds it too
  CHECK(MaxChildrenWithin(rlimit{3, 3}, no_bound, 2) == 1);      // never 0

  config::Config plain = Conf({Svc("echo")});
  CHECK(DescriptorsPerChild(plain) == 2);
  config::ServiceConfig secure = Svc("secure");
  secure.tls = config::TlsConfig{};
  config::Config mixed = Conf({Svc("echo"), secure});
  CHECK(DescriptorsPerChild(mixed) == 3);
  Rig rig(mixed);
  CHECK(rig.supervisor->MaxChildren() == DefaultMaxChildren(3));
  rlimit own{};
  getrlimit(RLIMIT_NOFILE, &own);
  if (own.rlim_cur != RLIM_INFINITY && own.rlim_cur > 128) {
    CHECK(static_cast<rlim_t>(rig.supervisor->MaxChildren()) * 3 <= own.rlim_cur - 64);
  }
}

TEST_CASE("--log-level keeps overriding log.level after every reload") {
  config::Config config = Conf({Svc("echo")});
  config.log_level = log::Level::kError;
  Rig rig(config, log::Level::kDebug);
  CHECK(log::CurrentLevel() == log::Level::kDebug);
  rig.supervisor->Reload("test");
  CHECK(log::CurrentLevel() == log::Level::kDebug);
  log::SetLevel(log::Level::kInfo);
}

TEST_CASE("adding and removing a UDP service on a TCP service's port leaves the TCP socket alone") {
  Rig rig(Conf({Svc("tcp")}));
  uint16_t port = rig.Port();
  std::string at = "127.0.0.1:" + std::to_string(port);
  rig.next.services[0].listen[0] = Addr(at);
  rig.supervisor->Reload("test");  // the same address, written out
  int tcp_fd = rig.ListenerAt(0).fd.Get();
  ino_t tcp_socket = InodeOf(tcp_fd);
  // A client waits in the backlog across both reloads.
  UniqueFd waiting = ConnectTo(port);
  rig.next.services.insert(rig.next.services.begin(), Svc("udp", at, config::Protocol::kUdp));
  rig.supervisor->Reload("test");
  REQUIRE(rig.supervisor->GetListeners().All().size() == 2);
  const Listener& tcp = rig.ListenerAt(0).service->Name() == "tcp" ? rig.ListenerAt(0) : rig.ListenerAt(1);
  CHECK(InodeOf(tcp.fd.Get()) == tcp_socket);
  rig.next.services.erase(rig.next.services.begin());
  rig.supervisor->Reload("test");
  REQUIRE(rig.supervisor->GetListeners().All().size() == 1);
  CHECK(InodeOf(rig.ListenerAt(0).fd.Get()) == tcp_socket);
  rig.Settle();
  CHECK(rig.processes.spawned.size() == 1);  // nothing lost from the backlog
}

TEST_CASE("an option that cannot be applied keeps the old socket serving, and the reload says so") {
  Rig rig(Conf({Svc("echo")}));
  uint16_t port = rig.Port();
  ino_t socket_before = InodeOf(rig.ListenerAt(0).fd.Get());
  rig.next.services[0].listen[0] = Addr("127.0.0.1:" + std::to_string(port));
  rig.next.services[0].socket.bind_interface = "no-such-if0";
  rig.supervisor->Reload("test");
  REQUIRE(rig.supervisor->GetListeners().All().size() == 1);
  CHECK(InodeOf(rig.ListenerAt(0).fd.Get()) == socket_before);
  UniqueFd client = ConnectTo(port);
  rig.Settle();
  CHECK(rig.processes.spawned.size() == 1);
}

TEST_CASE("a listener kept after its reload step failed takes its service's mode: nowait never accepts blocking") {
  config::ServiceConfig waiting = Svc("svc");
  waiting.mode = config::Mode::kWait;
  Rig rig(Conf({waiting}));
  REQUIRE((fcntl(rig.ListenerAt(0).fd.Get(), F_GETFL) & O_NONBLOCK) == 0);
  // The mode changes along with an option that cannot be applied: the old
  // socket keeps serving, now for a nowait service, which accepts up to
  // kAcceptBatch in a row and would block the loop on a blocking socket.
  rig.next.services[0].mode = config::Mode::kNowait;
  rig.next.services[0].socket.bind_interface = "no-such-if0";
  rig.supervisor->Reload("test");
  REQUIRE(rig.supervisor->GetListeners().All().size() == 1);
  const Listener& kept = rig.ListenerAt(0);
  CHECK(kept.service->config.mode == config::Mode::kNowait);
  CHECK((fcntl(kept.fd.Get(), F_GETFL) & O_NONBLOCK) != 0);
  // And back: a wait program is handed a blocking socket.
  rig.next.services[0].mode = config::Mode::kWait;
  rig.supervisor->Reload("test");
  CHECK((fcntl(rig.ListenerAt(0).fd.Get(), F_GETFL) & O_NONBLOCK) == 0);
}

TEST_CASE("a service whose new address cannot be bound keeps serving on its old one") {
  Rig rig(Conf({Svc("echo")}));
  uint16_t port = rig.Port();
  // Something else holds the new address.
  uint16_t taken = 0;
  UniqueFd squatter = BoundLoopback(taken);
  REQUIRE(listen(squatter.Get(), 1) == 0);
  rig.next.services[0].listen[0] = Addr("127.0.0.1:" + std::to_string(taken));
  rig.supervisor->Reload("test");
  REQUIRE(rig.supervisor->GetListeners().All().size() == 1);
  CHECK(rig.Port() == port);
  UniqueFd client = ConnectTo(port);
  rig.Settle();
  CHECK(rig.processes.spawned.size() == 1);
}

TEST_CASE("timeout: SIGTERM at the deadline, SIGKILL after kill_grace, by the clock") {
  config::ServiceConfig slow = Svc("slow");
  slow.timeout = milliseconds(5000);
  slow.kill_grace = milliseconds(2000);
  Rig rig(Conf({slow}));
  UniqueFd client = ConnectTo(rig.Port());
  rig.Settle();
  REQUIRE(rig.processes.spawned.size() == 1);
  pid_t pid = rig.processes.spawned[0].pid;
  rig.clock.Advance(milliseconds(4999));
  rig.supervisor->RunOnce(0);
  CHECK(rig.processes.SignalsTo(pid).empty());
  rig.clock.Advance(milliseconds(1));
  rig.supervisor->RunOnce(0);
  CHECK(rig.processes.SignalsTo(pid) == std::vector<int>{SIGTERM});
  rig.clock.Advance(milliseconds(2000));
  rig.supervisor->RunOnce(0);
  CHECK(rig.processes.SignalsTo(pid) == std::vector<int>{SIGTERM, SIGKILL});
}

TEST_CASE("a huge timeout means never, not at once") {
  config::ServiceConfig slow = Svc("slow");
  slow.timeout = milliseconds::max();
  slow.kill_grace = milliseconds::max();
  Rig rig(Conf({slow}));
  UniqueFd client = ConnectTo(rig.Port());
  rig.Settle();
  REQUIRE(rig.processes.spawned.size() == 1);
  rig.clock.Advance(std::chrono::hours(24 * 365));
  rig.supervisor->RunOnce(0);
  CHECK(rig.processes.signals.empty());
}

TEST_CASE("what a program leaves behind gets its timeout and the shutdown signals") {
  config::ServiceConfig bg = Svc("bg");
  bg.timeout = milliseconds(1000);
  Rig rig(Conf({bg}));
  UniqueFd a = ConnectTo(rig.Port());
  UniqueFd b = ConnectTo(rig.Port());
  rig.Settle();
  REQUIRE(rig.processes.spawned.size() == 2);
  pid_t first = rig.processes.spawned[0].pid, second = rig.processes.spawned[1].pid;
  rig.Exit(0, 0, true);  // exits, leaving a background process in its group
  rig.Exit(1, 0, true);
  CHECK(rig.supervisor->GetChildren().LingeringGroups() == 2);
  rig.clock.Advance(milliseconds(1000));
  rig.supervisor->RunOnce(0);
  CHECK(rig.processes.SignalsTo(first) == std::vector<int>{SIGTERM});
  // The group ignores SIGTERM: SIGKILL after kill_grace.
  rig.clock.Advance(milliseconds(2000));
  rig.supervisor->RunOnce(0);
  CHECK(rig.processes.SignalsTo(first) == std::vector<int>{SIGTERM, SIGKILL});
  CHECK(rig.processes.SignalsTo(second) == std::vector<int>{SIGTERM, SIGKILL});
  // Once nothing is left in a group, it is forgotten.
  rig.processes.groups.clear();
  rig.clock.Advance(Children::kLingerCheck);
  rig.supervisor->RunOnce(0);
  CHECK(rig.supervisor->GetChildren().LingeringGroups() == 0);
}

TEST_CASE("shutdown signals running children and groups left behind, then SIGKILLs after the grace") {
  config::Config config = Conf({Svc("echo")});
  config.shutdown_grace = milliseconds(3000);
  Rig rig(config);
  UniqueFd a = ConnectTo(rig.Port());
  UniqueFd b = ConnectTo(rig.Port());
  rig.Settle();
  REQUIRE(rig.processes.spawned.size() == 2);
  pid_t running = rig.processes.spawned[0].pid, gone = rig.processes.spawned[1].pid;
  rig.Exit(1, 0, true);
  rig.supervisor->BeginShutdown();
  CHECK(rig.processes.SignalsTo(running) == std::vector<int>{SIGTERM});
  CHECK(rig.processes.SignalsTo(gone) == std::vector<int>{SIGTERM});
  CHECK(rig.supervisor->GetListeners().All().empty());
  rig.clock.Advance(milliseconds(3000));
  CHECK(rig.supervisor->RunOnce(0));  // still waiting for the children
  CHECK(rig.processes.SignalsTo(running).back() == SIGKILL);
  CHECK(rig.processes.SignalsTo(gone).back() == SIGKILL);
  rig.processes.Exit(running, W_EXITCODE(0, SIGKILL));
  rig.supervisor->ReapChildren();
  CHECK_FALSE(rig.supervisor->RunOnce(0));
}

// Gives the rig's first service a cgroup of its own, as a sandbox with
// cgroup keys would (the fake starter only records the fd it is given).
int GiveCgroup(Rig& rig) {
  auto prepared = std::make_unique<sandbox::Prepared>();
  prepared->cgroup.Reset(open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  int fd = prepared->cgroup.Get();
  REQUIRE(fd >= 0);
  rig.supervisor->Services().at(0)->sandbox = std::move(prepared);
  return fd;
}

TEST_CASE("timeout's SIGKILL ends the service's cgroup when that connection is the service's only one") {
  config::ServiceConfig slow = Svc("slow");
  slow.timeout = milliseconds(1000);
  slow.kill_grace = milliseconds(500);
  Rig rig(Conf({slow}));
  int group = GiveCgroup(rig);
  UniqueFd client = ConnectTo(rig.Port());
  rig.Settle();
  REQUIRE(rig.processes.spawned.size() == 1);
  rig.clock.Advance(milliseconds(1000));
  rig.supervisor->RunOnce(0);
  CHECK(rig.processes.cgroup_kills.empty());  // SIGTERM goes to the process group only
  rig.clock.Advance(milliseconds(500));
  rig.supervisor->RunOnce(0);
  CHECK(rig.processes.SignalsTo(rig.processes.spawned[0].pid) == std::vector<int>{SIGTERM, SIGKILL});
  CHECK(rig.processes.cgroup_kills == std::vector<int>{group});
}

TEST_CASE("a program that dies of its timeout's SIGTERM, its group with it, has its service's cgroup ended") {
  config::ServiceConfig slow = Svc("slow");
  slow.timeout = milliseconds(1000);
  Rig rig(Conf({slow}));
  int group = GiveCgroup(rig);
  rig.processes.exit_on_term = true;
  UniqueFd client = ConnectTo(rig.Port());
  rig.Settle();
  REQUIRE(rig.processes.spawned.size() == 1);
  rig.clock.Advance(milliseconds(1000));
  rig.supervisor->RunOnce(0);
  rig.supervisor->ReapChildren();
  CHECK(rig.supervisor->GetChildren().Running() == 0);
  // What it started with setsid is still in the cgroup, and only there.
  CHECK(rig.processes.cgroup_kills == std::vector<int>{group});
}

TEST_CASE("timeout leaves the service's cgroup alone while another connection of it runs") {
  config::ServiceConfig slow = Svc("slow");
  slow.timeout = milliseconds(1000);
  slow.kill_grace = milliseconds(500);
  Rig rig(Conf({slow}));
  GiveCgroup(rig);
  UniqueFd a = ConnectTo(rig.Port());
  rig.Settle();
  rig.clock.Advance(milliseconds(600));
  UniqueFd b = ConnectTo(rig.Port());
  rig.Settle();
  REQUIRE(rig.processes.spawned.size() == 2);
  rig.clock.Advance(milliseconds(400));  // the first one's SIGTERM
  rig.supervisor->RunOnce(0);
  rig.clock.Advance(milliseconds(500));  // its SIGKILL; the second runs on
  rig.supervisor->RunOnce(0);
  CHECK(rig.processes.SignalsTo(rig.processes.spawned[0].pid) == std::vector<int>{SIGTERM, SIGKILL});
  CHECK(rig.processes.cgroup_kills.empty());
}

TEST_CASE("once shutdown is done, each service's cgroup is ended, once") {
  config::Config config = Conf({Svc("echo")});
  config.shutdown_grace = milliseconds(3000);
  Rig rig(config);
  int group = GiveCgroup(rig);
  UniqueFd a = ConnectTo(rig.Port());
  rig.Settle();
  REQUIRE(rig.processes.spawned.size() == 1);
  rig.supervisor->BeginShutdown();
  CHECK(rig.supervisor->RunOnce(0));
  CHECK(rig.processes.cgroup_kills.empty());  // its child still runs
  rig.Exit(0);
  rig.supervisor->ReapChildren();
  CHECK_FALSE(rig.supervisor->RunOnce(0));
  CHECK_FALSE(rig.supervisor->RunOnce(0));
  CHECK(rig.processes.cgroup_kills == std::vector<int>{group});
}

TEST_CASE("overflow: queue keeps the listener out of the poll set while the service is full") {
  config::ServiceConfig queued = Svc("queued");
  queued.limits.max_connections = 1;
  queued.limits.overflow = config::Overflow::kQueue;
  Rig rig(Conf({queued}));
  UniqueFd a = ConnectTo(rig.Port());
  UniqueFd b = ConnectTo(rig.Port());
  rig.Settle();
  CHECK(rig.processes.spawned.size() == 1);
  CHECK_FALSE(rig.ListenerAt(0).polled);
  CHECK(rig.Counts().Refused() == 0);
  rig.Exit(0);
  CHECK(rig.ListenerAt(0).polled);
  rig.Settle();
  CHECK(rig.processes.spawned.size() == 2);
}

TEST_CASE("a datagram program that exits without reading is backed off, not restarted in a loop") {
  Rig rig(Conf({Svc("udp", "127.0.0.1:0", config::Protocol::kUdp)}));
  uint16_t port = rig.Port();
  SendPing(port);
  for (int round = 0; round < 6; ++round) {
    rig.Settle();
    if (rig.processes.live.empty()) {
      // Resting: let the clock run out the rest.
      rig.clock.Advance(ListenerSet::kMaxUnreadPause);
      continue;
    }
    rig.processes.Exit(*rig.processes.live.begin(), 0);  // like /bin/true: never reads
    rig.supervisor->ReapChildren();
    CHECK_FALSE(rig.ListenerAt(0).polled);  // resting, not polled
  }
  CHECK(rig.processes.spawned.size() <= 6);
  CHECK(rig.ListenerAt(0).unread_runs >= 2);
  // The accept line names the datagram's peer.
  CHECK(rig.supervisor->GetChildren().All().empty());
}

TEST_CASE("the rest after an unread datagram doubles, up to a bound") {
  Rig rig(Conf({Svc("udp", "127.0.0.1:0", config::Protocol::kUdp)}));
  uint16_t port = rig.Port();
  SendPing(port);
  rig.Settle();
  REQUIRE(rig.processes.spawned.size() == 1);
  rig.Exit(0);
  // First rest: kServeErrorPause.
  rig.clock.Advance(ListenerSet::kServeErrorPause - milliseconds(1));
  rig.Settle();
  CHECK(rig.processes.spawned.size() == 1);
  rig.clock.Advance(milliseconds(1));
  rig.Settle();
  REQUIRE(rig.processes.spawned.size() == 2);
  rig.Exit(1);
  // Second: twice as long.
  rig.clock.Advance(ListenerSet::kServeErrorPause);
  rig.Settle();
  CHECK(rig.processes.spawned.size() == 2);
  rig.clock.Advance(ListenerSet::kServeErrorPause);
  rig.Settle();
  CHECK(rig.processes.spawned.size() == 3);
  // A program that reads its datagram ends the episode.
  char buf[16];
  REQUIRE(recv(rig.ListenerAt(0).fd.Get(), buf, sizeof buf, MSG_DONTWAIT) == 4);
  rig.Exit(2);
  CHECK(rig.ListenerAt(0).unread_runs == 0);
  CHECK(rig.ListenerAt(0).polled);
}

TEST_CASE("a failed spawn closes the client, counts nothing and rests the listener") {
  Rig rig(Conf({Svc("echo")}));
  rig.processes.fail_with = EAGAIN;
  UniqueFd client = ConnectTo(rig.Port());
  rig.Settle();
  CHECK(rig.Counts().running == 0);
  CHECK(rig.Counts().accepted == 0);
  CHECK_FALSE(rig.ListenerAt(0).polled);
  rig.processes.fail_with = 0;
  rig.clock.Advance(ListenerSet::kServeErrorPause);
  UniqueFd next = ConnectTo(rig.Port());
  rig.Settle();
  CHECK(rig.processes.spawned.size() == 1);
}

TEST_CASE("a pass costs what happened: the poll set and timers follow the children, not rebuilt") {
  std::vector<config::ServiceConfig> services;
  for (int i = 0; i < 50; ++i) services.push_back(Svc("s" + std::to_string(i)));
  services[0].timeout = milliseconds(60'000);
  Rig rig(Conf(services));
  CHECK(rig.supervisor->PollSize() == 50);
  UniqueFd client = ConnectTo(rig.Port(0));
  rig.Settle();
  CHECK(rig.supervisor->TimerCount() == 1);  // the one child's timeout
  rig.Exit(0);
  CHECK(rig.supervisor->TimerCount() == 0);
  CHECK(rig.supervisor->PollSize() == 50);
}

TEST_CASE("overflow: queue is polled again when a reload raises max_children, not only when a child ends") {
  config::ServiceConfig queued = Svc("queued");
  queued.limits.overflow = config::Overflow::kQueue;
  config::Config config = Conf({queued});
  config.max_children = 1;
  Rig rig(config);
  UniqueFd a = ConnectTo(rig.Port());
  UniqueFd b = ConnectTo(rig.Port());
  rig.Settle();
  REQUIRE(rig.processes.spawned.size() == 1);
  REQUIRE_FALSE(rig.ListenerAt(0).polled);
  // The first child runs on (it may for hours): the room the reload makes
  // must be used now.
  rig.next.max_children = 2;
  rig.supervisor->Reload("test");
  CHECK(rig.ListenerAt(0).polled);
  rig.Settle();
  CHECK(rig.processes.spawned.size() == 2);
  CHECK(rig.Counts().Refused() == 0);
}

TEST_CASE("a child that died is counted out before the next connection in the same pass is admitted") {
  SignalPipe signals({SIGCHLD});
  config::ServiceConfig echo = Svc("echo");
  echo.limits.max_connections = 1;
  Rig rig(Conf({echo}));
  rig.supervisor->WatchSignals(signals);
  UniqueFd a = ConnectTo(rig.Port());
  rig.Settle();
  REQUIRE(rig.processes.spawned.size() == 1);
  // The program exits and the next client connects before the loop wakes:
  // one pass sees both the SIGCHLD and the ready listener.
  rig.processes.Exit(rig.processes.spawned[0].pid, 0);
  UniqueFd b = ConnectTo(rig.Port());
  REQUIRE(kill(getpid(), SIGCHLD) == 0);
  rig.supervisor->RunOnce(1000);
  CHECK(rig.Counts().Refused() == 0);
  CHECK(rig.processes.spawned.size() == 2);
}

TEST_CASE("with pidfds, a child that exits is reaped through the reap fd alone, without scanning every child") {
  Rig rig(Conf({Svc("echo")}), std::nullopt, true);
  // The reap fd, the listener: nothing else (no SIGCHLD is needed).
  CHECK(rig.supervisor->PollSize() == 2);
  UniqueFd a = ConnectTo(rig.Port());
  UniqueFd b = ConnectTo(rig.Port());
  rig.Settle();
  REQUIRE(rig.processes.spawned.size() == 2);
  rig.processes.Exit(rig.processes.spawned[1].pid, W_EXITCODE(3, 0));
  rig.supervisor->RunOnce(1000);
  CHECK(rig.Counts().running == 1);
  CHECK(rig.Counts().exits_status == 1);
  CHECK(rig.supervisor->GetChildren().All().count(rig.processes.spawned[0].pid) == 1);
  CHECK(rig.processes.scans == 0);
  CHECK(rig.supervisor->TimerCount() == 0);
}

TEST_CASE("with pidfds, a SIGCHLD leads to one scan of every child, later, for a child no pidfd tells of") {
  SignalPipe signals({SIGCHLD});
  Rig rig(Conf({Svc("echo")}), std::nullopt, true);
  rig.supervisor->WatchSignals(signals);
  UniqueFd a = ConnectTo(rig.Port());
  rig.Settle();
  REQUIRE(rig.processes.spawned.size() == 1);
  // Two SIGCHLDs merged into one: our child's, and one from a process we
  // did not start (say, one our parent left us before exec'ing yinetd).
  rig.processes.StrayExit(4242, 0);
  rig.processes.Exit(rig.processes.spawned[0].pid, 0);
  REQUIRE(kill(getpid(), SIGCHLD) == 0);
  rig.supervisor->RunOnce(1000);
  CHECK(rig.Counts().running == 0);
  CHECK(rig.processes.scans == 0);
  CHECK(rig.processes.strays.size() == 1);
  // Another SIGCHLD before the scan is due asks for no second one.
  REQUIRE(kill(getpid(), SIGCHLD) == 0);
  rig.supervisor->RunOnce(0);
  CHECK(rig.supervisor->TimerCount() == 1);
  rig.clock.Advance(Children::kScanDelay);
  rig.supervisor->RunOnce(0);
  CHECK(rig.processes.scans == 1);
  CHECK(rig.processes.strays.empty());
  CHECK(rig.supervisor->TimerCount() == 0);
  // That scan found one: the next comes as soon. One that finds nothing
  // doubles the delay (a scan of 5,000 children takes milliseconds).
  REQUIRE(kill(getpid(), SIGCHLD) == 0);
  rig.supervisor->RunOnce(0);
  rig.clock.Advance(Children::kScanDelay);
  rig.supervisor->RunOnce(0);
  CHECK(rig.processes.scans == 2);
  REQUIRE(kill(getpid(), SIGCHLD) == 0);
  rig.supervisor->RunOnce(0);
  rig.clock.Advance(Children::kScanDelay);
  rig.supervisor->RunOnce(0);
  CHECK(rig.processes.scans == 2);
  rig.clock.Advance(Children::kScanDelay);
  rig.supervisor->RunOnce(0);
  CHECK(rig.processes.scans == 3);
}

TEST_CASE("without pidfds, a SIGCHLD scans every child at once") {
  SignalPipe signals({SIGCHLD});
  Rig rig(Conf({Svc("echo")}));
  rig.supervisor->WatchSignals(signals);
  rig.processes.StrayExit(4242, 0);
  REQUIRE(kill(getpid(), SIGCHLD) == 0);
  rig.supervisor->RunOnce(1000);
  CHECK(rig.processes.scans == 1);
  CHECK(rig.processes.strays.empty());
}

TEST_CASE("with pidfds, a child that died is counted out before a connection in the same pass, SIGCHLD or not") {
  SignalPipe signals({SIGCHLD});
  config::ServiceConfig echo = Svc("echo");
  echo.limits.max_connections = 1;
  Rig rig(Conf({echo}), std::nullopt, true);
  // Registered after the reap fd, and first too: both come before listeners.
  rig.supervisor->WatchSignals(signals);
  UniqueFd a = ConnectTo(rig.Port());
  rig.Settle();
  REQUIRE(rig.processes.spawned.size() == 1);
  // Only the reap fd tells (its SIGCHLD is not in yet).
  rig.processes.Exit(rig.processes.spawned[0].pid, 0);
  UniqueFd b = ConnectTo(rig.Port());
  rig.supervisor->RunOnce(1000);
  CHECK(rig.Counts().Refused() == 0);
  CHECK(rig.processes.spawned.size() == 2);
}

// A port free now, from the kernel.
uint16_t FreePort() {
  uint16_t port = 0;
  BoundLoopback(port);
  return port;
}

TEST_CASE("a wait-mode socket that needs replacing while its program holds it keeps serving") {
  config::ServiceConfig waiting = Svc("svc", "127.0.0.1:" + std::to_string(FreePort()));
  waiting.mode = config::Mode::kWait;
  Rig rig(Conf({waiting}));
  UniqueFd client = ConnectTo(rig.Port());
  rig.Settle();
  REQUIRE(rig.processes.spawned.size() == 1);
  REQUIRE(rig.ListenerAt(0).wait_child);
  // What the running program holds: the listening socket itself.
  UniqueFd held(fcntl(rig.ListenerAt(0).fd.Get(), F_DUPFD_CLOEXEC, 0));
  ino_t socket_before = InodeOf(held.Get());
  rig.next.services[0].socket.freebind = true;  // a new socket is needed
  rig.supervisor->Reload("test");
  // The new socket cannot have the address while the program holds the old
  // one: the old keeps serving once the program exits.
  REQUIRE(rig.supervisor->GetListeners().All().size() == 1);
  CHECK(InodeOf(rig.ListenerAt(0).fd.Get()) == socket_before);
  held.Reset();
  rig.Exit(0);
  CHECK(rig.ListenerAt(0).polled);
  UniqueFd next = ConnectTo(rig.Port());
  rig.Settle();
  CHECK(rig.processes.spawned.size() == 2);
}

// A proxy_protocol v1 service trusting `from`.
config::ServiceConfig ProxySvc(const std::string& name, const std::vector<std::string>& from) {
  config::ServiceConfig s = Svc(name);
  s.proxy.protocol = config::ProxyProtocol::kV1;
  for (const std::string& cidr : from) s.proxy.from.push_back(std::get<net::Cidr>(net::ParseCidr(cidr)));
  return s;
}

// True when the supervisor closed its end of `client` (nothing was sent).
bool ClosedByPeer(int client) {
  char byte;
  return recv(client, &byte, 1, MSG_DONTWAIT) == 0;
}

void SendText(int fd, const std::string& text) {
  REQUIRE(send(fd, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size()));
}

TEST_CASE("a reload re-checks every awaited header's balancer against the new proxy_from") {
  Rig rig(Conf({ProxySvc("gate", {"127.0.0.0/8"})}));
  UniqueFd dropped = ConnectTo(rig.Port(), "127.0.0.1");
  UniqueFd kept = ConnectTo(rig.Port(), "127.0.0.2");
  SendText(kept.Get(), "PROXY TCP4 192.0.2.7 ");  // half a header: it goes on after the reload
  rig.Settle();
  REQUIRE(rig.supervisor->HeadersAwaited() == 2);
  rig.next.services[0].proxy.from = {std::get<net::Cidr>(net::ParseCidr("127.0.0.2"))};
  rig.supervisor->Reload("test");
  CHECK(rig.supervisor->HeadersAwaited() == 1);
  CHECK(ClosedByPeer(dropped.Get()));
  CHECK(rig.Counts().refused.at("proxy_untrusted") == 1);
  SendText(kept.Get(), "198.51.100.1 40000 2222\r\n");
  rig.Settle();
  CHECK(rig.supervisor->HeadersAwaited() == 0);
  REQUIRE(rig.processes.spawned.size() == 1);
  CHECK(rig.Counts().accepted == 1);
}

TEST_CASE("a reload that turns proxy_protocol off refuses the awaited headers") {
  Rig rig(Conf({ProxySvc("gate", {"127.0.0.1"})}));
  UniqueFd client = ConnectTo(rig.Port());
  rig.Settle();
  REQUIRE(rig.supervisor->HeadersAwaited() == 1);
  rig.next.services[0].proxy = config::ProxySettings{};
  rig.supervisor->Reload("test");
  CHECK(rig.supervisor->HeadersAwaited() == 0);
  CHECK(ClosedByPeer(client.Get()));
  CHECK(rig.Counts().refused.at("proxy_untrusted") == 1);
  CHECK(rig.processes.spawned.empty());
  // New connections are served as plain ones now.
  UniqueFd plain = ConnectTo(rig.Port());
  rig.Settle();
  CHECK(rig.processes.spawned.size() == 1);
}

TEST_CASE("a reload that removes a proxy_protocol service closes its awaited headers") {
  Rig rig(Conf({Svc("other"), ProxySvc("gate", {"127.0.0.1"})}));
  UniqueFd client = ConnectTo(rig.Port(1));
  rig.Settle();
  REQUIRE(rig.supervisor->HeadersAwaited() == 1);
  rig.next.services.pop_back();
  rig.supervisor->Reload("test");
  CHECK(rig.supervisor->HeadersAwaited() == 0);
  CHECK(ClosedByPeer(client.Get()));
  rig.Settle();
  CHECK(rig.processes.spawned.empty());
}

TEST_CASE("headers completing in one pass each start a child with its own stderr pipe") {
  // Found by the hostile pass: the pipe is readied before accept, but a
  // header completes later; the second of a pass got none (dup2 EBADF).
  config::ServiceConfig gate = ProxySvc("gate", {"127.0.0.0/8"});
  gate.stderr_mode = config::StderrMode::kLog;
  Rig rig(Conf({gate}));
  std::vector<UniqueFd> clients;
  for (const char* from : {"127.0.0.1", "127.0.0.2", "127.0.0.3"}) clients.push_back(ConnectTo(rig.Port(), from));
  rig.Settle();
  REQUIRE(rig.supervisor->HeadersAwaited() == 3);
  for (UniqueFd& client : clients) SendText(client.Get(), "PROXY TCP4 192.0.2.7 198.51.100.1 40000 2222\r\n");
  rig.Settle();
  REQUIRE(rig.processes.spawned.size() == 3);
  for (const FakeProcesses::Spawned& child : rig.processes.spawned) CHECK(child.report_pipe);
}

TEST_CASE("the header wait bounds follow max_children across a reload") {
  config::Config config = Conf({ProxySvc("gate", {"127.0.0.1"})});
  config.max_children = 1;
  Rig rig(config);
  uint64_t budget = DescriptorBudget();
  CHECK(rig.supervisor->HeaderWaitBounds().total == HeaderWait::BoundsFor(budget, 1).total);
  rig.next.max_children = 100'000;
  rig.supervisor->Reload("test");
  CHECK(rig.supervisor->HeaderWaitBounds().total == HeaderWait::BoundsFor(budget, 100'000).total);
  CHECK(rig.supervisor->HeaderWaitBounds().per_source == HeaderWait::BoundsFor(budget, 100'000).per_source);
}

TEST_CASE("shutdown removes a unix socket file only while it is still the one yinetd bound") {
  char dir_template[] = "/tmp/yinetd-unix-XXXXXX";
  REQUIRE(mkdtemp(dir_template) != nullptr);
  std::string dir = dir_template;
  std::string kept = dir + "/kept.sock", replaced = dir + "/replaced.sock";
  Rig rig(Conf({Svc("kept", "unix:" + kept), Svc("replaced", "unix:" + replaced)}));
  // Another process took the second path over: removed ours, bound its own.
  REQUIRE(unlink(replaced.c_str()) == 0);
  UniqueFd other(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  replaced.copy(sa.sun_path, sizeof sa.sun_path - 1);
  REQUIRE(bind(other.Get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
  struct stat before{};
  REQUIRE(lstat(replaced.c_str(), &before) == 0);
  rig.supervisor->BeginShutdown();
  struct stat after{};
  CHECK(lstat(kept.c_str(), &after) != 0);  // ours: removed
  REQUIRE(lstat(replaced.c_str(), &after) == 0);  // theirs: still there
  CHECK(after.st_ino == before.st_ino);
  unlink(replaced.c_str());
  rmdir(dir.c_str());
}

// The lowest free descriptor is the only one left until destroyed: the
// next call that needs one gets it, any call after that fails (EMFILE).
class OneDescriptorLeft {
 public:
  OneDescriptorLeft() {
    REQUIRE(getrlimit(RLIMIT_NOFILE, &saved_) == 0);
    int lowest = fcntl(0, F_DUPFD_CLOEXEC, 0);
    REQUIRE(lowest >= 0);
    close(lowest);
    rlimit one_left{static_cast<rlim_t>(lowest) + 1, saved_.rlim_max};
    REQUIRE(setrlimit(RLIMIT_NOFILE, &one_left) == 0);
  }
  ~OneDescriptorLeft() { setrlimit(RLIMIT_NOFILE, &saved_); }
  OneDescriptorLeft(const OneDescriptorLeft&) = delete;
  OneDescriptorLeft& operator=(const OneDescriptorLeft&) = delete;

 private:
  rlimit saved_{};
};

TEST_CASE("a user: dynamic uid is given back when the connection's TLS outcome pipe cannot be opened") {
  char dir_template[] = "/tmp/yinetd-cert-XXXXXX";
  REQUIRE(mkdtemp(dir_template) != nullptr);
  std::string dir = dir_template;
  std::string make_cert = "timeout 60 openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                          "-subj /CN=localhost -days 2 -keyout " + dir + "/key.pem -out " + dir +
                          "/cert.pem 2>/dev/null";
  REQUIRE(std::system(make_cert.c_str()) == 0);
  config::ServiceConfig secure = Svc("secure");
  secure.dynamic_user = true;
  secure.tls = config::TlsConfig{};
  secure.tls->cert = dir + "/cert.pem";
  secure.tls->key = dir + "/key.pem";
  config::Config config = Conf({secure});
  config.dynamic_users = config::DynamicUserRange{61'000, 61'000};  // one uid
  Rig rig(config);
  std::filesystem::remove_all(dir);
  REQUIRE(rig.supervisor->Services().at(0)->state->tls != nullptr);
  UniqueFd first = ConnectTo(rig.Port());
  {
    // The connection gets the last descriptor; its outcome pipe fails.
    OneDescriptorLeft limit;
    rig.supervisor->RunOnce(20);
  }
  CHECK(rig.processes.spawned.empty());
  // After the listener's rest, the one uid serves the next connection.
  rig.clock.Advance(ListenerSet::kServeErrorPause + milliseconds(1));
  UniqueFd second = ConnectTo(rig.Port());
  rig.Settle();
  CHECK(rig.processes.spawned.size() == 1);
}

TEST_CASE("a service's config reaches the spawner translated once, at load") {
  config::ServiceConfig config = Svc("echo", "127.0.0.1:0", config::Protocol::kUdp);
  config.stderr_mode = config::StderrMode::kSocket;
  config.credentials = config::Credentials{"nobody", 65534, 65534, true, {65534, 100}, ""};
  config.process.rlimits = {{"nofile", RLIMIT_NOFILE, 64}};
  config.process.umask = 027;
  config.process.chdir = "/tmp";
  config.process.clear_env = true;
  config.env = {{"A", "1"}};
  Service service(config);
  CHECK(service.stderr_target == spawn::StderrTarget::kConnection);
  REQUIRE(service.credentials.has_value());
  CHECK(service.credentials->uid == 65534);
  CHECK(service.credentials->set_uid);
  CHECK(service.credentials->groups == std::vector<gid_t>{65534, 100});
  REQUIRE(service.controls.rlimits.size() == 1);
  CHECK(service.controls.rlimits[0].resource == RLIMIT_NOFILE);
  CHECK(service.controls.rlimits[0].value == 64);
  CHECK(service.controls.umask == mode_t{027});
  CHECK(service.controls.chdir == "/tmp");
  CHECK(service.env.name == "echo");
  CHECK(service.env.datagram);
  CHECK(service.env.clear_env);
  CHECK(Service(Svc("plain")).stderr_target == spawn::StderrTarget::kNull);
  CHECK_FALSE(Service(Svc("plain")).credentials.has_value());
}

}  // namespace
}  // namespace yinetd::supervisor
