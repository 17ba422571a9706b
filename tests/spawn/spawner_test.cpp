#include "spawn/spawner.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <sstream>
#include <set>
#include <string>
#include <thread>
#include <atomic>

#include "builtin/builtin.h"
#include "sandbox/probe.h"
#include "sandbox/sandbox.h"
#include "spawn/child_env.h"
#include "sys/signal_pipe.h"

namespace yinetd::spawn {
namespace {

struct Run {
  std::string socket_output;
  std::string report_output;
  int wait_status = 0;
  std::optional<SysFailure> failure;
  // Once the child is gone, nothing of ours holds its end of the
  // connection or of the report pipe any longer: both read EOF.
  bool ends_closed = false;
};

// How many more descriptors a process has open than `fd` (cloexec'd
// /dev/null), for a test to crowd the table as yinetd's running children
// (a pidfd each) do.
std::vector<UniqueFd> Crowd(size_t count) {
  rlimit nofile{};
  getrlimit(RLIMIT_NOFILE, &nofile);
  if (nofile.rlim_cur < count + 256 && nofile.rlim_max >= count + 256) {
    nofile.rlim_cur = count + 256;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }
  std::vector<UniqueFd> fds;
  for (size_t i = 0; i < count; ++i) fds.emplace_back(open("/dev/null", O_RDONLY | O_CLOEXEC));
  return fds;
}

// Reads `fd` until EOF, at most 10 s.
std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  for (int i = 0; i < 1000; ++i) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 10000) <= 0) break;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, n);
  }
  return out;
}

// Runs `argv` on a socketpair; `credentials` to switch user; without
// `report_pipe` the child gets none (a cloned child whose stderr is not
// logged needs none).
// With `crowd`, the spawner is made first and `crowd` descriptors are
// opened before the connection and the pipe, as in yinetd, where the
// spawner comes before the listeners and the children's pidfds.
Run SpawnAndCollect(std::vector<std::string> argv, StderrTarget mode, std::string program = "",
                    const Credentials* credentials = nullptr, bool report_pipe = true, size_t crowd = 0) {
  std::unique_ptr<ForkSpawner> early = crowd > 0 ? std::make_unique<ForkSpawner>() : nullptr;
  std::vector<UniqueFd> crowded = Crowd(crowd);
  int pair[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
  UniqueFd ours(pair[0]), theirs(pair[1]);
  UniqueFd devnull(open("/dev/null", O_RDWR | O_CLOEXEC));
  // A leak canary: an fd without CLOEXEC that the child must not inherit.
  UniqueFd canary(open("/dev/null", O_RDONLY));
  std::vector<std::string> env{"A=1"};
  std::vector<char*> argv_ptrs = ToExecArray(argv);
  std::vector<char*> env_ptrs = ToExecArray(env);
  if (program.empty()) program = argv[0];
  ChildSpec spec{program.c_str(), argv_ptrs.data(), env_ptrs.data(), theirs.Get(), mode, devnull.Get(), credentials};
  std::unique_ptr<ForkSpawner> late = early ? nullptr : std::make_unique<ForkSpawner>();
  ForkSpawner& spawner = early ? *early : *late;
  ReportPipe pipe;
  if (report_pipe) REQUIRE(OpenReportPipe(pipe).Ok());
  Started started;
  REQUIRE(spawner.Spawn(spec, pipe, started).Ok());
  pid_t pid = started.pid;
  CHECK_FALSE(pipe.write_end.Valid());
  theirs.Reset();
  Run run;
  run.failure = started.failure;
  run.socket_output = ReadAll(ours.Get());
  if (report_pipe) {
    int flags = fcntl(pipe.read_end.Get(), F_GETFL);
    fcntl(pipe.read_end.Get(), F_SETFL, flags & ~O_NONBLOCK);
    run.report_output = ReadAll(pipe.read_end.Get());
  }
  REQUIRE(waitpid(pid, &run.wait_status, 0) == pid);
  char byte;
  run.ends_closed = recv(ours.Get(), &byte, 1, MSG_DONTWAIT) == 0 &&
                    (!report_pipe || read(pipe.read_end.Get(), &byte, 1) == 0);
  // A cloned child's failure came back from Spawn, a forked one's (a
  // builtin's, or any under AddressSanitizer) comes once it is reaped.
  std::optional<SysFailure> reaped = spawner.Reaped(pid);
  if (!run.failure) run.failure = reaped;
  return run;
}

bool IsCall(const std::optional<SysFailure>& failure, std::string_view call) {
  return failure && failure->call != nullptr && failure->call == call;
}

std::string HelperPath(const char* name) {
  const char* dir = std::getenv("YINETD_HELPERS");
  REQUIRE_MESSAGE(dir != nullptr, "YINETD_HELPERS is not set");
  return std::string(dir) + "/" + name;
}

TEST_CASE("the child holds fds 0, 1 and 2 and nothing else") {
  Run run = SpawnAndCollect({HelperPath("fd_lister")}, StderrTarget::kReportPipe);
  CHECK(run.socket_output == "fds=0,1,2\n");
  CHECK(WIFEXITED(run.wait_status));
  CHECK(WEXITSTATUS(run.wait_status) == 0);
}

TEST_CASE("beside thousands of open fds a cloned child copies only the low ones and holds fds 0, 1 and 2") {
  if (!ClonesChild(nullptr)) {
    MESSAGE("skipped: a sanitized build forks every child, which copies the whole table");
    return;
  }
  // FDSize: the slots of the descriptor table the program got. Copied
  // whole, it would have room for the 3000 fds of ours (4096 slots).
  const char* fd_size = "while read -r key value; do [ \"$key\" = FDSize: ] && echo \"$value\"; done </proc/$$/status; "
                        "echo err >&2";
  for (auto mode : {StderrTarget::kReportPipe, StderrTarget::kNull, StderrTarget::kConnection}) {
    CAPTURE(static_cast<int>(mode));
    Run run = SpawnAndCollect({"/bin/sh", "-c", fd_size}, mode, "", nullptr, true, 3000);
    CHECK_FALSE(run.failure.has_value());
    CHECK(run.socket_output == (mode == StderrTarget::kConnection ? "64\nerr\n" : "64\n"));
    CHECK(run.report_output == (mode == StderrTarget::kReportPipe ? "err\n" : ""));
    CHECK(run.ends_closed);
    Run listed = SpawnAndCollect({HelperPath("fd_lister")}, mode, "", nullptr, true, 3000);
    CHECK(listed.socket_output == "fds=0,1,2\n");
    CHECK(listed.ends_closed);
  }
}

TEST_CASE("stderr=log goes to the report pipe, socket to the socket, null nowhere") {
  std::vector<std::string> argv{"/bin/sh", "-c", "echo out; echo err >&2"};
  Run log = SpawnAndCollect(argv, StderrTarget::kReportPipe);
  CHECK(log.socket_output == "out\n");
  CHECK(log.report_output == "err\n");
  Run socket = SpawnAndCollect(argv, StderrTarget::kConnection);
  CHECK(socket.socket_output == "out\nerr\n");
  CHECK(socket.report_output == "");
  Run null = SpawnAndCollect(argv, StderrTarget::kNull);
  CHECK(null.socket_output == "out\n");
  CHECK(null.report_output == "");
}

TEST_CASE("the environment is exactly what was prepared") {
  Run run = SpawnAndCollect({"/usr/bin/env"}, StderrTarget::kReportPipe);
  CHECK(run.socket_output == "A=1\n");
}

TEST_CASE("signals are reset: SIGPIPE kills the program again") {
  signal(SIGPIPE, SIG_IGN);
  Run run = SpawnAndCollect({"/bin/sh", "-c", "kill -PIPE $$; echo survived"},
                            StderrTarget::kReportPipe);
  signal(SIGPIPE, SIG_DFL);
  CHECK(WIFSIGNALED(run.wait_status));
  CHECK(WTERMSIG(run.wait_status) == SIGPIPE);
}

TEST_CASE("with a SignalPipe, a child resets what was inherited ignored and what yinetd set") {
  // The child resets only the signals found not at their default when the
  // pipe was made: one ignored by our parent (as a shell leaves SIGQUIT in
  // a background job) must be among them.
  signal(SIGUSR2, SIG_IGN);
  {
    SignalPipe pipe({SIGHUP, SIGTERM});
    // (Not SigCgt: exec resets handlers, and grep installs its own.)
    Run run = SpawnAndCollect({"/bin/grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"}, StderrTarget::kReportPipe);
    CHECK(run.socket_output == "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
    Run killed = SpawnAndCollect({"/bin/sh", "-c", "kill -PIPE $$; echo survived"}, StderrTarget::kReportPipe);
    CHECK(WIFSIGNALED(killed.wait_status));
    CHECK(WTERMSIG(killed.wait_status) == SIGPIPE);
  }
  signal(SIGUSR2, SIG_DFL);
}

TEST_CASE("the child leads its own process group") {
  // Fields 1 and 5 of /proc/PID/stat: pid and process group.
  Run run = SpawnAndCollect({"/bin/sh", "-c", "read -r pid comm state ppid pgrp rest </proc/$$/stat; echo $pid $pgrp $ppid"},
                            StderrTarget::kReportPipe);
  std::string pid, pgrp, ppid;
  std::istringstream fields(run.socket_output);
  fields >> pid >> pgrp >> ppid;
  CHECK(!pid.empty());
  CHECK(pid == pgrp);
  CHECK(pgrp != std::to_string(getpgrp()));
}

TEST_CASE("an exec failure is reported, in every stderr mode, and nothing reaches the client") {
  for (auto mode : {StderrTarget::kReportPipe, StderrTarget::kConnection, StderrTarget::kNull}) {
    Run run = SpawnAndCollect({"/nonexistent/program"}, mode);
    CHECK(WEXITSTATUS(run.wait_status) == kStartFailedStatus);
    CHECK(IsCall(run.failure, "exec"));
    REQUIRE(run.failure.has_value());
    CHECK(run.failure->err == ENOENT);
    CHECK(run.socket_output == "");
  }
}

TEST_CASE("a program that prints the old failure record and exits 127 has not failed to start") {
  // Before: a forked child's failure was a record on the pipe that is also
  // the program's stderr, and these bytes passed for it.
  for (auto mode : {StderrTarget::kReportPipe, StderrTarget::kNull}) {
    Run run = SpawnAndCollect({"/bin/sh", "-c", "/usr/bin/printf '\\000yinetd-start-failed:exec:2\\n' >&2; exit 127"},
                              mode);
    CHECK(WEXITSTATUS(run.wait_status) == kStartFailedStatus);
    CHECK_FALSE(run.failure.has_value());
    if (mode == StderrTarget::kReportPipe) {
      CHECK(run.report_output == std::string("\0yinetd-start-failed:exec:2\n", 28));
    }
  }
}

TEST_CASE("builtins are forked; only a logged stderr needs a report pipe") {
  CHECK_FALSE(ClonesChild(builtin::Find("echo")));
  CHECK(NeedsReportPipe(StderrTarget::kReportPipe));
  CHECK_FALSE(NeedsReportPipe(StderrTarget::kNull));
  CHECK_FALSE(NeedsReportPipe(StderrTarget::kConnection));
}

TEST_CASE("a child that was never forked, or is reaped twice, has no failure") {
  ForkSpawner spawner;
  CHECK_FALSE(spawner.Reaped(12345678).has_value());
}

TEST_CASE("a child that switches user runs as that user, its groups only") {
  if (geteuid() != 0) {
    MESSAGE("skipped: switching user needs root");
    return;
  }
  Credentials nobody{65534, 65534, true, {65534}};
  int dumpable = prctl(PR_GET_DUMPABLE);
  Run run = SpawnAndCollect({"/bin/sh", "-c", "echo $(id -u) $(id -g) $(id -G)"}, StderrTarget::kNull, "",
                            &nobody);
  CHECK_FALSE(run.failure.has_value());
  CHECK(run.socket_output == "65534 65534 65534\n");
  CHECK(WEXITSTATUS(run.wait_status) == 0);
  // The child's setuid made the memory it shared with us undumpable; we
  // set it back.
  CHECK(prctl(PR_GET_DUMPABLE) == dumpable);
}

TEST_CASE("a child stopped between switching user and exec is killed, and Spawn returns") {
  if (!ClonesChild(nullptr)) return;  // a sanitized build forks: a stopped child stops alone
  if (geteuid() != 0) {
    MESSAGE("skipped: switching user needs root");
    return;
  }
  UniqueFd devnull(open("/dev/null", O_RDWR | O_CLOEXEC));
  std::vector<std::string> argv{"/bin/true"};
  std::vector<char*> argv_ptrs = ToExecArray(argv);
  Credentials nobody{65534, 65534, true, {65534}};
  ChildSpec spec{"/bin/true", argv_ptrs.data(), argv_ptrs.data() + 1, devnull.Get(), StderrTarget::kNull,
                 devnull.Get(), &nobody};
  ForkSpawner spawner;
  ReportPipe none;
  auto spawn = [&] {
    Started started;
    REQUIRE(spawner.Spawn(spec, none, started).Ok());
    return started;
  };
  int status = 0;
  Started first = spawn();  // starts the watchdog
  REQUIRE(waitpid(first.pid, &status, 0) == first.pid);
  // Stop each child as soon as the kernel names it: it is then still
  // before its exec (it resets 64 signal handlers first), or, if it won the
  // race, /bin/true is stopped instead and we try again.
  bool caught = false;
  for (int attempt = 0; attempt < 20 && !caught; ++attempt) {
    std::atomic<bool> done{false};
    std::thread stopper([&] {
      while (!done) {
        if (pid_t pid = spawner.CloningPid(); pid > 0) {
          kill(pid, SIGSTOP);
          return;
        }
      }
    });
    Started started = spawn();
    done = true;
    stopper.join();
    kill(started.pid, SIGKILL);  // /bin/true, if it was the one stopped
    REQUIRE(waitpid(started.pid, &status, 0) == started.pid);
    if (started.failure) {
      caught = true;
      CHECK(IsCall(started.failure, "stopped before exec"));
      CHECK(started.failure->err == ECANCELED);
      CHECK(WTERMSIG(status) == SIGKILL);
    }
  }
  CHECK(caught);
}

TEST_CASE("a program whose stderr is not logged runs without a report pipe where clone shares memory") {
  if (!ClonesChild(nullptr)) return;  // a sanitized build forks
  Run run = SpawnAndCollect({"/bin/echo", "no pipe"}, StderrTarget::kNull, "", nullptr, false);
  CHECK_FALSE(run.failure.has_value());
  CHECK(run.socket_output == "no pipe\n");
  CHECK(WIFEXITED(run.wait_status));
  CHECK(WEXITSTATUS(run.wait_status) == 0);
}

TEST_CASE("a child with a mount namespace of its own leaves it to the spawner until it is reaped") {
  if (!ClonesChild(nullptr)) return;  // a sanitized build forks
  config::SandboxConfig tmp_only;
  tmp_only.private_tmp = true;
  std::unique_ptr<sandbox::Prepared> prepared;
  try {
    prepared = sandbox::Prepare("t", tmp_only, false, sandbox::ProbeKernel(), nullptr);
  } catch (const SysError& e) {
    MESSAGE("skipped: no mount namespaces here: " << e.what());
    return;
  }
  UniqueFd devnull(open("/dev/null", O_RDWR | O_CLOEXEC));
  // Runs until we write a line, so that it is still there after Spawn.
  std::vector<std::string> argv{"/bin/sh", "-c", "read line; readlink /proc/self/ns/mnt"}, env;
  std::vector<char*> argv_ptrs = ToExecArray(argv), env_ptrs = ToExecArray(env);
  ChildSpec spec{argv[0].c_str(), argv_ptrs.data(), env_ptrs.data(), -1, StderrTarget::kNull, devnull.Get(), nullptr};
  spec.sandbox = prepared.get();
  ForkSpawner spawner;
  // Three at once: a namespace's number is reused once it is gone.
  std::vector<UniqueFd> connections;
  std::vector<pid_t> pids;
  for (size_t child = 0; child < 3; ++child) {
    int pair[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
    UniqueFd theirs(pair[1]);
    connections.emplace_back(pair[0]);
    spec.connection_fd = theirs.Get();
    ReportPipe no_pipe;
    Started started;
    REQUIRE(spawner.Spawn(spec, no_pipe, started).Ok());
    REQUIRE_FALSE(started.failure.has_value());
    pids.push_back(started.pid);
    CHECK(spawner.HeldNamespaces() == child + 1);
  }
  std::set<std::string> seen;
  for (size_t child = 0; child < 3; ++child) {
    REQUIRE(write(connections[child].Get(), "go\n", 3) == 3);
    std::string ns = ReadAll(connections[child].Get());
    CHECK(ns.rfind("mnt:[", 0) == 0);  // it ran
    seen.insert(ns);
    int status = 0;
    REQUIRE(waitpid(pids[child], &status, 0) == pids[child]);
    CHECK(spawner.HeldNamespaces() == 3 - child);  // it outlived the program
    spawner.Reaped(pids[child]);
    CHECK(spawner.HeldNamespaces() == 2 - child);
  }
  CHECK(seen.size() == 3);  // each its own
}

TEST_CASE("a builtin is served in the child, which keeps fds 0-2 only and exits 0") {
  int pair[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
  UniqueFd ours(pair[0]), theirs(pair[1]);
  UniqueFd devnull(open("/dev/null", O_RDWR | O_CLOEXEC));
  UniqueFd canary(open("/dev/null", O_RDONLY));  // not close-on-exec: a builtin must close it itself
  std::vector<std::string> no_args;
  std::vector<char*> empty = ToExecArray(no_args);
  ChildSpec spec{"", empty.data(), empty.data(), theirs.Get(), StderrTarget::kNull, devnull.Get(),
                 nullptr, nullptr, builtin::Find("echo")};
  ForkSpawner spawner;
  ReportPipe pipe;
  REQUIRE(OpenReportPipe(pipe).Ok());
  Started started;
  REQUIRE(spawner.Spawn(spec, pipe, started).Ok());
  CHECK_FALSE(started.failure.has_value());
  pid_t pid = started.pid;
  theirs.Reset();
  REQUIRE(write(ours.Get(), "hi", 2) == 2);
  char reply[2];
  pollfd p{ours.Get(), POLLIN, 0};
  REQUIRE(poll(&p, 1, 10000) == 1);
  REQUIRE(read(ours.Get(), reply, 2) == 2);  // serving: its set-up is done
  CHECK(std::string(reply, 2) == "hi");
  int fds = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    (void)entry;
    ++fds;
  }
  CHECK(fds == 3);
  shutdown(ours.Get(), SHUT_WR);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

// A child of /bin/true (or `builtin`) on a socketpair whose start fails at
// setrlimit: RLIMIT_NOFILE above the kernel's nr_open.
struct FailingStart {
  explicit FailingStart(const builtin::Builtin* builtin) {
    int pair[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
    ours.Reset(pair[0]);
    theirs.Reset(pair[1]);
    controls.rlimits = {{RLIMIT_NOFILE, RLIM_INFINITY}};
    spec = ChildSpec{"/bin/true", argv_ptrs.data(), argv_ptrs.data() + 1, theirs.Get(), StderrTarget::kNull,
                     devnull.Get(), nullptr, &controls, builtin};
  }
  UniqueFd ours, theirs;
  UniqueFd devnull{open("/dev/null", O_RDWR | O_CLOEXEC)};
  std::vector<std::string> argv{"/bin/true"};
  std::vector<char*> argv_ptrs = ToExecArray(argv);
  ProcessControls controls;
  ChildSpec spec{};
};

TEST_CASE("a failing process control is reported like an exec failure, for a program and for a builtin") {
  for (const builtin::Builtin* builtin : {static_cast<const builtin::Builtin*>(nullptr), builtin::Find("echo")}) {
    FailingStart child(builtin);
    ForkSpawner spawner;
    ReportPipe pipe;
    REQUIRE(OpenReportPipe(pipe).Ok());
    Started started;
    REQUIRE(spawner.Spawn(child.spec, pipe, started).Ok());
    int status = 0;
    REQUIRE(waitpid(started.pid, &status, 0) == started.pid);
    CHECK(WEXITSTATUS(status) == kStartFailedStatus);
    std::optional<SysFailure> failure = started.failure;
    std::optional<SysFailure> reaped = spawner.Reaped(started.pid);
    if (!failure) failure = reaped;
    CHECK(IsCall(failure, "setrlimit nofile"));
    REQUIRE(failure.has_value());
    CHECK(failure->err == EPERM);
    CHECK_FALSE(spawner.Reaped(started.pid).has_value());  // once only
  }
}

TEST_CASE("a forked child reports why it could not start even when descriptors ran out before the spawn") {
  FailingStart child(builtin::Find("echo"));  // a builtin is always forked
  ForkSpawner spawner;
  ReportPipe pipe;
  REQUIRE(OpenReportPipe(pipe).Ok());
  // Every descriptor taken, as when a flood has used them all: nothing
  // can be opened at the spawn.
  rlimit saved{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &saved) == 0);
  std::vector<UniqueFd> filler;
  rlimit lowered = saved;
  lowered.rlim_cur = 256;
  REQUIRE(setrlimit(RLIMIT_NOFILE, &lowered) == 0);
  for (;;) {
    UniqueFd fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!fd) break;
    filler.push_back(std::move(fd));
  }
  int probe[2];
  bool exhausted = pipe2(probe, O_CLOEXEC) != 0;
  Started started;
  SysFailure spawned = spawner.Spawn(child.spec, pipe, started);
  filler.clear();
  REQUIRE(setrlimit(RLIMIT_NOFILE, &saved) == 0);
  REQUIRE(exhausted);
  REQUIRE(spawned.Ok());
  int status = 0;
  REQUIRE(waitpid(started.pid, &status, 0) == started.pid);
  CHECK(WEXITSTATUS(status) == kStartFailedStatus);
  std::optional<SysFailure> failure = spawner.Reaped(started.pid);
  CHECK(IsCall(failure, "setrlimit nofile"));
}

}  // namespace
}  // namespace yinetd::spawn
