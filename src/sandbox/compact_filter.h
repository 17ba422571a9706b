// CompactFilter: the seccomp program for x86_64, written here instead of by
// libseccomp. The kernel checks, converts and JIT-compiles a filter again in
// every child that installs it, so each instruction is paid per connection
// (docs/benchmarks.md, "What a sandbox costs"). libseccomp compares the
// number against each allowed call; this program merges the sorted numbers
// into ranges and finds the call's range by a binary search (a lone call
// between two like ranges is one equality test): 75 instructions instead
// of 356 for the `service` set with families.
//
// It decides exactly what libseccomp's program decides (the unit test
// runs both on every call number, architecture and family):
//   - another architecture (AUDIT_ARCH_* other than x86_64): kill;
//   - an x32 call (number with bit 30 set), other than -1: kill;
//   - socket() and socketpair() when families are filtered: allowed when
//     the 64-bit first argument is an allowed family, else refused;
//   - every other call by its number: allowed, or the default action.
// Only loads of the number and architecture, constant comparisons, jumps
// and returns decide a plain call, which is what the kernel's per-filter
// cache of always-allowed calls (seccomp_cache_prepare, Linux 5.11) can
// evaluate: the allowed calls stay cached and never run the filter.
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <vector>

namespace yinetd::sandbox {

struct FilterRules {
  // true: the calls in `allowed` and `by_family` may run and every other
  // fails with EPERM. false: every call may run but those in `by_family`,
  // whose refused families fail with EAFNOSUPPORT.
  bool allow_list = false;
  std::vector<uint32_t> allowed;    // x86_64 call numbers
  std::vector<uint32_t> by_family;  // socket, socketpair: only for `families`
  std::vector<uint32_t> families;   // AF_*
};

std::vector<sock_filter> BuildCompactFilter(const FilterRules& rules);

}  // namespace yinetd::sandbox
