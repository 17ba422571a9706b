// Metrics: the supervisor's counters, and their Prometheus text exposition.
//
// The counts live where they are changed (ServiceState, Supervisor); the
// exposition text is a pure function of them, rendered when a scrape's
// child is forked, so the child serves the snapshot of that moment.
// Pure: no syscalls.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sandbox/cgroup.h"

namespace yinetd::supervisor {

// Upper bounds, in seconds, of the child duration histogram's buckets.
inline constexpr std::array<double, 10> kDurationBuckets = {0.005, 0.01, 0.05, 0.1, 0.5,
                                                            1,     5,    10,   60,  300};

// One service's counts since yinetd started (or since the service got its
// name). The supervisor keeps one per service (ServiceState) and changes it
// in Children::Started, Ended and Refused only.
struct ServiceCounts {
  int running = 0;
  uint64_t accepted = 0;
  std::map<std::string, uint64_t, std::less<>> refused;  // by reason
  uint64_t exits_status = 0;
  uint64_t exits_signal = 0;
  std::array<uint64_t, kDurationBuckets.size()> buckets{};  // not cumulative
  uint64_t durations = 0;
  double duration_sum = 0;
  double cpu_seconds = 0;  // user + system, of the programs reaped
  std::map<std::string, uint64_t, std::less<>> tls_failures;  // failed handshakes, by reason
  std::map<std::string, int64_t> cert_expiry;  // each served certificate's notAfter, by file

  uint64_t Exited() const { return exits_status + exits_signal; }
  uint64_t Refused() const;
  void CountRefusal(std::string_view reason);
  void CountExit(bool by_signal, double seconds, double cpu_seconds);
  void CountTlsFailure(std::string_view reason);
};

// What the exposition shows besides the services.
struct ProcessCounts {
  double start_time = 0;  // the process start, in seconds since the epoch
  uint64_t reloads_success = 0;
  uint64_t reloads_failure = 0;
};

// The Prometheus text exposition format (version 0.0.4) of `services`, in
// the order given, `process`, and what the cgroups of the services that
// have one report (`cgroups`, by service name).
std::string Exposition(const std::vector<std::pair<std::string, const ServiceCounts*>>& services,
                       const ProcessCounts& process,
                       const std::map<std::string, sandbox::CgroupUsage, std::less<>>& cgroups = {});

// `value` escaped for a label value: backslash, double quote, newline.
std::string EscapeLabelValue(std::string_view value);

}  // namespace yinetd::supervisor
