#include "sandbox/seccomp_filter.h"

#include <doctest/doctest.h>
#include <linux/audit.h>
#include <seccomp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "sandbox/bpf_interpreter.h"
#include "sandbox/probe.h"
#include "sandbox/system_call_sets.h"

namespace yinetd::sandbox {
namespace {

using testing::ConstantAllow;
using testing::Run;

constexpr uint32_t kX32Bit = 0x40000000;

std::vector<std::string> ServiceCalls() {
  std::vector<std::string> calls;
  for (std::string_view call : *SystemCallSet("service")) {
    if (IsSystemCall(std::string(call))) calls.emplace_back(call);
  }
  return calls;
}

// Every other x86_64 call: more ranges than one jump can cross, so the
// program needs its trampolines.
std::vector<std::string> EveryOtherCall() {
  std::vector<std::string> calls;
  for (int number = 0; number < 460; number += 2) {
    char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_X86_64, number);
    if (name != nullptr) calls.emplace_back(name);
    free(name);
  }
  return calls;
}

struct Case {
  const char* name;
  config::SandboxConfig sandbox;
};

std::vector<Case> Cases() {
  std::vector<int> families = {AF_UNIX, AF_INET, AF_INET6};
  std::vector<std::string> custom = {"read", "write", "exit_group", "getpid", "socket", "socketpair",
                                     "rt_sigreturn", "socketcall" /* not on x86_64 */};
  std::vector<Case> cases(8);
  cases[0] = {"service, families", {}};
  cases[0].sandbox.system_calls = ServiceCalls();
  cases[0].sandbox.address_families = families;
  cases[1] = {"service", {}};
  cases[1].sandbox.system_calls = ServiceCalls();
  cases[2] = {"families alone", {}};
  cases[2].sandbox.address_families = families;
  cases[3] = {"families with gaps", {}};
  cases[3].sandbox.address_families = std::vector<int>{AF_INET6, AF_UNIX, AF_NETLINK};
  cases[4] = {"no family", {}};
  cases[4].sandbox.address_families = std::vector<int>{};
  cases[5] = {"custom", {}};
  cases[5].sandbox.system_calls = custom;
  cases[6] = {"custom, families", {}};
  cases[6].sandbox.system_calls = custom;
  cases[6].sandbox.address_families = std::vector<int>{AF_UNIX};
  cases[7] = {"every other call, families", {}};
  cases[7].sandbox.system_calls = EveryOtherCall();
  cases[7].sandbox.address_families = families;
  return cases;
}

// The call numbers to try: every real one and beyond, and x32's.
std::vector<uint32_t> Numbers() {
  std::vector<uint32_t> numbers;
  for (uint32_t number = 0; number <= 1100; ++number) numbers.push_back(number);
  for (uint32_t number : {0u, 1u, 41u, 53u, 512u, 547u}) numbers.push_back(kX32Bit | number);
  for (uint32_t number : {0x3fffffffu, 0x7fffffffu, 0x80000000u, 0xfffffffeu, 0xffffffffu}) numbers.push_back(number);
  return numbers;
}

// Families 0..50, then values a 32-bit comparison would mistake for one.
std::vector<uint64_t> FirstArguments() {
  std::vector<uint64_t> values;
  for (uint64_t family = 0; family <= 50; ++family) values.push_back(family);
  for (uint64_t value : {0x100000000ull, 0x100000001ull, 0x100000002ull, 0xffffffffull, 0xffffffff0000000aull,
                         0x8000000000000001ull, ~0ull}) {
    values.push_back(value);
  }
  return values;
}

TEST_CASE("on x86_64, our program decides every call exactly as libseccomp's does") {
  if (seccomp_arch_native() != SCMP_ARCH_X86_64) {
    MESSAGE("skipped: the compact program is for x86_64; this architecture uses libseccomp's");
    return;
  }
  const std::vector<uint64_t> families = FirstArguments();
  // Only socket() and socketpair() (41, 53) read an argument: every other
  // call is tried with two, a family and one a 32-bit comparison mistakes
  // for it.
  const std::vector<uint64_t> two = {AF_INET, 0x100000002ull};
  for (const Case& c : Cases()) {
    std::string name = c.name;
    CAPTURE(name);
    std::vector<sock_filter> ours = CompileCompactFilter(c.sandbox);
    std::vector<sock_filter> theirs = CompileWithLibseccomp(c.sandbox);
    CHECK(CompileSeccompFilter(c.sandbox).size() == std::min(ours.size(), theirs.size()));
    MESSAGE(name << ": " << ours.size() << " instructions, libseccomp's " << theirs.size());
    size_t differences = 0;
    for (uint32_t arch : {uint32_t{AUDIT_ARCH_X86_64}, uint32_t{AUDIT_ARCH_I386}, uint32_t{AUDIT_ARCH_AARCH64}}) {
      for (uint32_t number : Numbers()) {
        bool by_family = (number & ~kX32Bit) == 41 || (number & ~kX32Bit) == 53;
        for (uint64_t argument : by_family ? families : two) {
          seccomp_data data{};
          data.nr = static_cast<int>(number);
          data.arch = arch;
          data.args[0] = argument;
          data.args[1] = argument;  // socket(2)'s type and socketpair(2)'s as well: neither program looks
          std::optional<uint32_t> expected = Run(theirs, data);
          std::optional<uint32_t> got = Run(ours, data);
          REQUIRE(expected.has_value());
          REQUIRE(got.has_value());
          if (*got != *expected && ++differences <= 5) {
            FAIL_CHECK("arch " << arch << " nr " << number << " arg " << argument << ": ours "
                               << *got << ", libseccomp's " << *expected);
          }
        }
      }
    }
    CHECK(differences == 0);
  }
}

TEST_CASE("every call the service set allows is one the kernel's cache allows without running the filter") {
  config::SandboxConfig sandbox;
  sandbox.system_calls = ServiceCalls();
  sandbox.address_families = std::vector<int>{AF_UNIX, AF_INET, AF_INET6};
  std::vector<sock_filter> ours = CompileCompactFilter(sandbox);
  std::vector<sock_filter> theirs = CompileWithLibseccomp(sandbox);
  size_t allowed = 0, cached = 0, cached_by_libseccomp = 0;
  size_t steps = 0, steps_by_libseccomp = 0;  // over 470 numbers, about what x86_64 and i386 have
  for (uint32_t number = 0; number < 470; ++number) {
    for (uint32_t arch : {uint32_t{AUDIT_ARCH_X86_64}, uint32_t{AUDIT_ARCH_I386}}) {
      ConstantAllow(ours, arch, number, &steps);
      ConstantAllow(theirs, arch, number, &steps_by_libseccomp);
    }
  }
  MESSAGE("instructions the kernel follows to fill its cache, per child: ours " << steps << ", libseccomp's "
                                                                               << steps_by_libseccomp);
  CHECK(steps < steps_by_libseccomp);
  for (uint32_t number = 0; number < 1024; ++number) {
    seccomp_data data{};
    data.nr = static_cast<int>(number);
    data.arch = AUDIT_ARCH_X86_64;
    data.args[0] = AF_INET;
    bool by_family = number == 41 || number == 53;  // socket, socketpair
    if (Run(ours, data) == SECCOMP_RET_ALLOW && !by_family) ++allowed;
    cached += ConstantAllow(ours, AUDIT_ARCH_X86_64, number);
    cached_by_libseccomp += ConstantAllow(theirs, AUDIT_ARCH_X86_64, number);
    CHECK_FALSE(ConstantAllow(ours, AUDIT_ARCH_I386, number));
  }
  MESSAGE("allowed by number alone " << allowed << ", cached: ours " << cached << ", libseccomp's "
                                     << cached_by_libseccomp);
  CHECK(allowed > 200);
  CHECK(cached == allowed);
}

}  // namespace
}  // namespace yinetd::sandbox
