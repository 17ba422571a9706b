// spawn_window: how long the supervisor waits in Spawn for a sandboxed
// child to exec (a cloned child runs in our memory, and we sleep until it
// has exec'd: spawn/spawner.h), and how long a connection takes from spawn
// to reaped.
//
// For each variant (plain; private_tmp; namespaces: [ipc]; namespaces:
// [pid, ipc, uts]; the `service` call set with three address families;
// the file rules; those two together, `rules`; and with private_tmp,
// bench/sandbox.sh's files_seccomp), spawns PROGRAM --children times in
// turn on a socket pair, reads its reply to the end and reaps it, as
// yinetd does one connection at c=1. Variants take turns within each of
// --rounds rounds; prints the medians per child of the time in Spawn (the
// wait) and of spawn-to-reaped (what a client at c=1 sees, roughly).
// Needs root (namespaces).
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "sandbox/probe.h"
#include "sandbox/sandbox.h"
#include "sandbox/system_call_sets.h"
#include "spawn/child_env.h"
#include "spawn/spawner.h"

namespace {

using Clock = std::chrono::steady_clock;
using yinetd::UniqueFd;

struct Way {
  std::string name;
  std::unique_ptr<yinetd::sandbox::Prepared> sandbox;  // nullptr: plain
};

struct Times {
  std::vector<double> wait_us, total_us;
};

double Micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0 : values[values.size() / 2];
}

void SpawnOne(yinetd::spawn::ForkSpawner& spawner, yinetd::spawn::ChildSpec spec, Times& times) {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) std::exit(1);
  UniqueFd ours(pair[0]), theirs(pair[1]);
  spec.connection_fd = theirs.Get();
  yinetd::spawn::ReportPipe no_pipe;
  yinetd::spawn::Started started;
  Clock::time_point begin = Clock::now();
  yinetd::SysFailure failure = spawner.Spawn(spec, no_pipe, started);
  if (!failure.Ok() || started.failure) {
    if (started.failure) failure = *started.failure;
    std::fprintf(stderr, "spawn_window: the child did not start: %s: %s\n", failure.call,
                 yinetd::ErrnoText(failure.err).c_str());
    std::exit(1);
  }
  Clock::time_point spawned = Clock::now();
  theirs.Reset();
  char buffer[256];
  while (read(ours.Get(), buffer, sizeof buffer) > 0) {
  }
  int status = 0;
  if (waitpid(started.pid, &status, 0) != started.pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "spawn_window: the child failed (status %d)\n", status);
    std::exit(1);
  }
  spawner.Reaped(started.pid);
  times.wait_us.push_back(Micros(spawned - begin));
  times.total_us.push_back(Micros(Clock::now() - begin));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"How long Spawn waits for a sandboxed child, namespaces made ahead or by the child"};
  std::string program;
  int children = 300, rounds = 5;
  app.add_option("program", program, "the program each child runs (bench/tiny_service)")->required();
  app.add_option("--children", children, "children per way per round")->check(CLI::PositiveNumber);
  app.add_option("--rounds", rounds, "rounds, ways interleaved in each")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  yinetd::config::KernelSupport kernel = yinetd::sandbox::ProbeKernel();
  if (!kernel.namespaces) {
    std::fprintf(stderr, "spawn_window: no namespaces here (needs root)\n");
    return 77;
  }
  struct Variant {
    std::string name;
    yinetd::config::SandboxConfig config;
  };
  yinetd::config::SandboxConfig tmp, ipc, pid_ipc_uts, calls, files;
  tmp.private_tmp = true;
  ipc.ipc_namespace = true;
  pid_ipc_uts.pid_namespace = pid_ipc_uts.ipc_namespace = pid_ipc_uts.uts_namespace = true;
  const auto* service_calls = yinetd::sandbox::SystemCallSet("service");
  calls.system_calls.emplace(service_calls->begin(), service_calls->end());
  calls.address_families = std::vector<int>{AF_UNIX, AF_INET, AF_INET6};
  files.read_only = true;
  files.writable = {"/var/tmp"};
  files.hidden = {"/root"};
  yinetd::config::SandboxConfig rules = calls;
  rules.read_only = files.read_only;
  rules.writable = files.writable;
  rules.hidden = files.hidden;
  yinetd::config::SandboxConfig files_seccomp = rules;
  files_seccomp.private_tmp = true;
  std::vector<Variant> variants{{"private_tmp", tmp},        {"ipc", ipc},
                                {"pid_ipc_uts", pid_ipc_uts}, {"system_calls", calls},
                                {"file_rules", files},        {"rules", rules},
                                {"files_seccomp", files_seccomp}};
  std::vector<Way> ways;
  ways.push_back({"plain", nullptr});
  for (const Variant& variant : variants) {
    ways.push_back({variant.name, yinetd::sandbox::Prepare("b", variant.config, false, kernel, nullptr)});
  }

  UniqueFd devnull(open("/dev/null", O_RDWR | O_CLOEXEC));
  std::vector<std::string> args{program}, env;
  std::vector<char*> argv_ptrs = yinetd::spawn::ToExecArray(args), env_ptrs = yinetd::spawn::ToExecArray(env);
  yinetd::spawn::ForkSpawner spawner;
  std::vector<Times> times(ways.size());
  for (int round = 0; round < rounds; ++round) {
    for (size_t i = 0; i < ways.size(); ++i) {
      size_t which = (i + static_cast<size_t>(round)) % ways.size();  // each goes first in turn
      yinetd::spawn::ChildSpec spec{program.c_str(), argv_ptrs.data(), env_ptrs.data(), -1,
                                    yinetd::spawn::StderrTarget::kNull, devnull.Get(), nullptr};
      spec.sandbox = ways[which].sandbox.get();
      for (int child = 0; child < children; ++child) SpawnOne(spawner, spec, times[which]);
    }
  }
  double plain_wait = Median(times[0].wait_us), plain_total = Median(times[0].total_us);
  for (size_t i = 0; i < ways.size(); ++i) {
    double wait = Median(times[i].wait_us), total = Median(times[i].total_us);
    std::printf("way=%s wait_us=%.0f total_us=%.0f wait_over_plain_us=%.0f total_over_plain_us=%.0f\n",
                ways[i].name.c_str(), wait, total, wait - plain_wait, total - plain_total);
  }
}
