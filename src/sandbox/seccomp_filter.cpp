#include "sandbox/seccomp_filter.h"

#include <seccomp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>

#include "sandbox/compact_filter.h"
#include "sys/sys_error.h"
#include "sys/unique_fd.h"

namespace yinetd::sandbox {
namespace {

struct ContextDeleter {
  void operator()(scmp_filter_ctx ctx) const { seccomp_release(ctx); }
};
using Context = std::unique_ptr<void, ContextDeleter>;

// libseccomp returns -errno.
void Check(int rc, const char* step) {
  if (rc < 0) throw SysError(step, -rc);
}

bool Allowed(const std::vector<int>& families, int family) {
  return std::find(families.begin(), families.end(), family) != families.end();
}

bool Listed(const std::vector<std::string>& calls, std::string_view name) {
  return std::find(calls.begin(), calls.end(), name) != calls.end();
}

// A comparison on socket()'s first argument, the family. Spelled out
// rather than with SCMP_A0, whose two-value form leaves datum_b to the
// compiler (clang warns about the missing initializer).
scmp_arg_cmp FirstArgument(scmp_compare op, scmp_datum_t value) { return scmp_arg_cmp{0, op, value, 0}; }

// An allow-list (default EPERM): socket() and socketpair(), if listed, are
// allowed only for the listed families, by one rule per family.
void AllowFamilies(scmp_filter_ctx ctx, const std::vector<std::string>& calls, const std::vector<int>& families) {
  for (int family : families) {
    if (Listed(calls, "socket")) {
      Check(seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1, FirstArgument(SCMP_CMP_EQ, static_cast<scmp_datum_t>(family))),
            "seccomp_rule_add socket");
    }
    if (Listed(calls, "socketpair")) {
      Check(seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socketpair), 1, FirstArgument(SCMP_CMP_EQ, static_cast<scmp_datum_t>(family))),
            "seccomp_rule_add socketpair");
    }
  }
}

// Everything allowed (default ALLOW): socket() of each other family fails.
// One rule per denied family below the highest allowed one, and one for
// all above it: the kernel checks and JIT-compiles the filter again for
// every child, so its length is paid per connection (docs/benchmarks.md).
void DenyOtherFamilies(scmp_filter_ctx ctx, const std::vector<int>& families) {
  uint32_t deny = SCMP_ACT_ERRNO(EAFNOSUPPORT);
  int highest = families.empty() ? -1 : *std::max_element(families.begin(), families.end());
  for (int family = 0; family < highest; ++family) {
    if (Allowed(families, family)) continue;
    Check(seccomp_rule_add(ctx, deny, SCMP_SYS(socket), 1, FirstArgument(SCMP_CMP_EQ, static_cast<scmp_datum_t>(family))),
          "seccomp_rule_add socket");
    Check(seccomp_rule_add(ctx, deny, SCMP_SYS(socketpair), 1, FirstArgument(SCMP_CMP_EQ, static_cast<scmp_datum_t>(family))),
          "seccomp_rule_add socketpair");
  }
  auto above = static_cast<scmp_datum_t>(highest + 1);
  Check(seccomp_rule_add(ctx, deny, SCMP_SYS(socket), 1, FirstArgument(SCMP_CMP_GE, above)), "seccomp_rule_add socket");
  Check(seccomp_rule_add(ctx, deny, SCMP_SYS(socketpair), 1, FirstArgument(SCMP_CMP_GE, above)),
        "seccomp_rule_add socketpair");
}

// socket() and socketpair() are allowed by family when families are
// filtered; every other call by its number alone.
bool ByFamily(const config::SandboxConfig& sandbox, std::string_view name) {
  return sandbox.address_families && (name == "socket" || name == "socketpair");
}

// Throws for a name libseccomp does not know on any architecture; a
// negative number names a call this architecture lacks.
int Resolve(const std::string& name) {
  int number = seccomp_syscall_resolve_name(name.c_str());
  if (number == __NR_SCMP_ERROR) throw SysError("seccomp_syscall_resolve_name " + name, EINVAL);
  return number;
}

void AllowCalls(scmp_filter_ctx ctx, const config::SandboxConfig& sandbox) {
  for (const std::string& name : *sandbox.system_calls) {
    if (ByFamily(sandbox, name)) continue;  // AllowFamilies adds them with their condition
    Check(seccomp_rule_add(ctx, SCMP_ACT_ALLOW, Resolve(name), 0), "seccomp_rule_add");
  }
}

// libseccomp writes the program to an fd only (seccomp_export_bpf_mem is
// newer than Debian 12's 2.5): a memfd, read back.
std::vector<sock_filter> Export(scmp_filter_ctx ctx) {
  UniqueFd memory(memfd_create("yinetd-seccomp", MFD_CLOEXEC));
  if (!memory) throw SysError("memfd_create", errno);
  Check(seccomp_export_bpf(ctx, memory.Get()), "seccomp_export_bpf");
  off_t size = lseek(memory.Get(), 0, SEEK_END);
  if (size <= 0 || size % static_cast<off_t>(sizeof(sock_filter)) != 0) throw SysError("seccomp_export_bpf", EINVAL);
  std::vector<sock_filter> program(static_cast<size_t>(size) / sizeof(sock_filter));
  if (pread(memory.Get(), program.data(), static_cast<size_t>(size), 0) != size) throw SysError("pread", errno);
  return program;
}

// The sandbox's calls as numbers; libseccomp skips a call the
// architecture lacks, and so does this.
FilterRules Rules(const config::SandboxConfig& sandbox) {
  FilterRules rules;
  rules.allow_list = sandbox.system_calls.has_value();
  auto add = [](std::vector<uint32_t>& numbers, int number) {
    if (number >= 0) numbers.push_back(static_cast<uint32_t>(number));
  };
  if (rules.allow_list) {
    for (const std::string& name : *sandbox.system_calls) {
      add(ByFamily(sandbox, name) ? rules.by_family : rules.allowed, Resolve(name));
    }
  } else {
    add(rules.by_family, SCMP_SYS(socket));
    add(rules.by_family, SCMP_SYS(socketpair));
  }
  if (sandbox.address_families) {
    for (int family : *sandbox.address_families) rules.families.push_back(static_cast<uint32_t>(family));
  }
  return rules;
}

}  // namespace

std::vector<sock_filter> CompileSeccompFilter(const config::SandboxConfig& sandbox) {
  if (!sandbox.NeedsSeccomp()) return {};
  std::vector<sock_filter> theirs = CompileWithLibseccomp(sandbox);
  if (seccomp_arch_native() != SCMP_ARCH_X86_64) return theirs;
  // Both decide alike (tests/sandbox/seccomp_filter_test.cpp); ours is the
  // shorter unless the calls are scattered one by one, where libseccomp's
  // comparison per call can win by a few instructions.
  std::vector<sock_filter> ours = CompileCompactFilter(sandbox);
  return ours.size() <= theirs.size() ? ours : theirs;
}

std::vector<sock_filter> CompileCompactFilter(const config::SandboxConfig& sandbox) {
  return BuildCompactFilter(Rules(sandbox));
}

std::vector<sock_filter> CompileWithLibseccomp(const config::SandboxConfig& sandbox) {
  bool allow_list = sandbox.system_calls.has_value();
  Context ctx(seccomp_init(allow_list ? SCMP_ACT_ERRNO(EPERM) : SCMP_ACT_ALLOW));
  if (!ctx) throw SysError("seccomp_init", ENOMEM);
  // no_new_privs is ours to set (sandbox.h's order), not the filter's.
  Check(seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0), "seccomp_attr_set");
  // A binary tree of the allowed calls rather than a chain of comparisons:
  // every system call the program makes walks the filter.
  Check(seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2), "seccomp_attr_set optimize");
  if (allow_list) AllowCalls(ctx.get(), sandbox);
  if (sandbox.address_families) {
    if (allow_list) {
      AllowFamilies(ctx.get(), *sandbox.system_calls, *sandbox.address_families);
    } else {
      DenyOtherFamilies(ctx.get(), *sandbox.address_families);
    }
  }
  return Export(ctx.get());
}

}  // namespace yinetd::sandbox
