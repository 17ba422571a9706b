// Metrics: the supervisor's counters, and their Prometheus text exposition.
//
// The supervisor records each accept, refusal, exit and reload here; the
// exposition text is a pure function of the counters, so a child forked to
// serve it (builtin: metrics, not yet wired) sees the snapshot of the
// moment it was forked. Pure: no syscalls.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace yinetd::supervisor {

// Upper bounds, in seconds, of the child duration histogram's buckets.
inline constexpr std::array<double, 10> kDurationBuckets = {0.005, 0.01, 0.05, 0.1, 0.5,
                                                            1,     5,    10,   60,  300};

class Metrics {
 public:
  // `start_time` is the process start, in seconds since the epoch.
  explicit Metrics(double start_time) : start_time_(start_time) {}

  // Makes `service` appear, with zeros, before anything happened to it.
  void AddService(std::string_view service);
  void Accepted(std::string_view service);
  // `reason` as the refusal log names it: max_connections, denied, ...
  void Refused(std::string_view service, std::string_view reason);
  void Exited(std::string_view service, bool by_signal, double seconds);
  void Reloaded(bool success);
  // A TLS handshake of `service` failed, for `reason` (one word).
  void TlsHandshakeFailed(std::string_view service, std::string_view reason);
  // The certificates `service` serves now and when each expires (seconds
  // since the epoch); replaces what was recorded before.
  void TlsCertificates(std::string_view service, std::map<std::string, int64_t> expiry_by_file);

  // The Prometheus text exposition format (version 0.0.4).
  std::string Exposition() const;

 private:
  struct ServiceCounters {
    uint64_t accepted = 0;
    std::map<std::string, uint64_t, std::less<>> refused;  // by reason
    int64_t running = 0;
    uint64_t exits_status = 0;
    uint64_t exits_signal = 0;
    std::array<uint64_t, kDurationBuckets.size()> buckets{};  // not cumulative
    uint64_t durations = 0;
    double duration_sum = 0;
    std::map<std::string, uint64_t, std::less<>> tls_failures;  // by reason
    std::map<std::string, int64_t> cert_expiry;                 // by file
  };
  ServiceCounters& For(std::string_view service);

  double start_time_;
  std::map<std::string, ServiceCounters, std::less<>> services_;
  uint64_t reloads_success_ = 0;
  uint64_t reloads_failure_ = 0;
};

// `value` escaped for a label value: backslash, double quote, newline.
std::string EscapeLabelValue(std::string_view value);

}  // namespace yinetd::supervisor
