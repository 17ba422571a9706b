// seccomp_install: what installing a service's system-call filter costs a
// child, the part of a sandboxed connection that grows with the filter's
// length (the kernel checks, converts, JIT-compiles and, for its cache of
// always-allowed calls, walks the program in every child).
//
// For each program (none: fork and exit only; address_families alone; the
// `service` set with families, libseccomp's program and ours), forks
// --children children that set no_new_privs, install the program and exit,
// and reads their CPU time from getrusage(RUSAGE_CHILDREN). Programs take
// turns within each of --rounds rounds; the medians per child are printed.
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "sandbox/probe.h"
#include "sandbox/seccomp_filter.h"
#include "sandbox/system_call_sets.h"

namespace {

struct Program {
  std::string name;
  std::vector<sock_filter> code;  // empty: fork and exit only
};

double Seconds(const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; }

double ChildrenCpu() {
  rusage usage{};
  getrusage(RUSAGE_CHILDREN, &usage);
  return Seconds(usage.ru_utime) + Seconds(usage.ru_stime);
}

// Microseconds of CPU per child, for `children` children.
double Measure(const Program& program, int children) {
  sock_fprog fprog{static_cast<unsigned short>(program.code.size()), const_cast<sock_filter*>(program.code.data())};
  double before = ChildrenCpu();
  for (int i = 0; i < children; ++i) {
    pid_t pid = fork();
    if (pid == 0) {
      if (!program.code.empty()) {
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(2);
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) != 0) _exit(3);
      }
      _exit(0);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "seccomp_install: child for %s failed\n", program.name.c_str());
      std::exit(1);
    }
  }
  return (ChildrenCpu() - before) * 1e6 / children;
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

std::vector<Program> Programs() {
  yinetd::config::SandboxConfig sandbox;
  std::vector<std::string> calls;
  for (std::string_view call : *yinetd::sandbox::SystemCallSet("service")) {
    if (yinetd::sandbox::IsSystemCall(std::string(call))) calls.emplace_back(call);
  }
  yinetd::config::SandboxConfig families;  // address_families alone: a short program, for scale
  families.address_families = std::vector<int>{AF_UNIX, AF_INET, AF_INET6};
  sandbox.address_families = families.address_families;
  sandbox.system_calls = calls;
  return {{"none", {}},
          {"families_compact", yinetd::sandbox::CompileCompactFilter(families)},
          {"service_libseccomp", yinetd::sandbox::CompileWithLibseccomp(sandbox)},
          {"service_compact", yinetd::sandbox::CompileCompactFilter(sandbox)}};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"CPU time a child spends installing the service seccomp filter"};
  int children = 2000, rounds = 7;
  app.add_option("--children", children, "children per program per round")->check(CLI::PositiveNumber);
  app.add_option("--rounds", rounds, "rounds, programs interleaved in each")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  std::vector<Program> programs = Programs();
  std::vector<std::vector<double>> samples(programs.size());
  for (int round = 0; round < rounds; ++round) {
    for (size_t i = 0; i < programs.size(); ++i) {
      size_t which = (i + static_cast<size_t>(round)) % programs.size();  // each goes first in turn
      samples[which].push_back(Measure(programs[which], children));
    }
  }
  double none = Median(samples[0]);
  for (size_t i = 0; i < programs.size(); ++i) {
    double median = Median(samples[i]);
    std::printf("program=%s instructions=%zu cpu_us_per_child=%.1f over_none_us=%.1f\n", programs[i].name.c_str(),
                programs[i].code.size(), median, median - none);
  }
}
