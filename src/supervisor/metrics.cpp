#include "supervisor/metrics.h"

#include <charconv>

namespace yinetd::supervisor {
namespace {

// Shortest text that reads back as the same double.
std::string Number(double value) {
  char buf[64];
  auto [end, error] = std::to_chars(buf, buf + sizeof buf, value);
  return error == std::errc() ? std::string(buf, end) : "NaN";
}

void Family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

std::string ServiceLabel(const std::string& service) {
  return "service=\"" + EscapeLabelValue(service) + "\"";
}

void Sample(std::string& out, std::string_view name, const std::string& labels, std::string_view value) {
  out.append(name);
  if (!labels.empty()) out.append("{").append(labels).append("}");
  out.append(" ").append(value).append("\n");
}

}  // namespace

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

Metrics::ServiceCounters& Metrics::For(std::string_view service) {
  auto it = services_.find(service);
  if (it == services_.end()) it = services_.emplace(std::string(service), ServiceCounters{}).first;
  return it->second;
}

void Metrics::AddService(std::string_view service) { For(service); }

void Metrics::Accepted(std::string_view service) {
  ServiceCounters& counters = For(service);
  ++counters.accepted;
  ++counters.running;
}

void Metrics::Refused(std::string_view service, std::string_view reason) {
  std::map<std::string, uint64_t, std::less<>>& refused = For(service).refused;
  auto it = refused.find(reason);
  if (it == refused.end()) it = refused.emplace(std::string(reason), 0).first;
  ++it->second;
}

void Metrics::Exited(std::string_view service, bool by_signal, double seconds) {
  ServiceCounters& counters = For(service);
  if (counters.running > 0) --counters.running;
  ++(by_signal ? counters.exits_signal : counters.exits_status);
  ++counters.durations;
  counters.duration_sum += seconds;
  for (size_t i = 0; i < kDurationBuckets.size(); ++i) {
    if (seconds <= kDurationBuckets[i]) {
      ++counters.buckets[i];
      break;
    }
  }
}

void Metrics::Reloaded(bool success) { ++(success ? reloads_success_ : reloads_failure_); }

void Metrics::TlsHandshakeFailed(std::string_view service, std::string_view reason) {
  std::map<std::string, uint64_t, std::less<>>& failures = For(service).tls_failures;
  auto it = failures.find(reason);
  if (it == failures.end()) it = failures.emplace(std::string(reason), 0).first;
  ++it->second;
}

void Metrics::TlsCertificates(std::string_view service, std::map<std::string, int64_t> expiry_by_file) {
  For(service).cert_expiry = std::move(expiry_by_file);
}

std::string Metrics::Exposition() const {
  std::string out;
  Family(out, "yinetd_connections_accepted_total", "counter", "Connections handed to a program.");
  for (const auto& [name, c] : services_) {
    Sample(out, "yinetd_connections_accepted_total", ServiceLabel(name), std::to_string(c.accepted));
  }
  Family(out, "yinetd_connections_refused_total", "counter", "Connections closed without a program, by reason.");
  for (const auto& [name, c] : services_) {
    for (const auto& [reason, count] : c.refused) {
      Sample(out, "yinetd_connections_refused_total",
             ServiceLabel(name) + ",reason=\"" + EscapeLabelValue(reason) + "\"", std::to_string(count));
    }
  }
  Family(out, "yinetd_children_running", "gauge", "Programs running now.");
  for (const auto& [name, c] : services_) {
    Sample(out, "yinetd_children_running", ServiceLabel(name), std::to_string(c.running));
  }
  Family(out, "yinetd_child_exits_total", "counter", "Programs reaped, by how they ended.");
  for (const auto& [name, c] : services_) {
    Sample(out, "yinetd_child_exits_total", ServiceLabel(name) + ",outcome=\"status\"", std::to_string(c.exits_status));
    Sample(out, "yinetd_child_exits_total", ServiceLabel(name) + ",outcome=\"signal\"", std::to_string(c.exits_signal));
  }
  Family(out, "yinetd_child_duration_seconds", "histogram", "How long programs ran.");
  for (const auto& [name, c] : services_) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kDurationBuckets.size(); ++i) {
      cumulative += c.buckets[i];
      Sample(out, "yinetd_child_duration_seconds_bucket",
             ServiceLabel(name) + ",le=\"" + Number(kDurationBuckets[i]) + "\"", std::to_string(cumulative));
    }
    Sample(out, "yinetd_child_duration_seconds_bucket", ServiceLabel(name) + ",le=\"+Inf\"",
           std::to_string(c.durations));
    Sample(out, "yinetd_child_duration_seconds_sum", ServiceLabel(name), Number(c.duration_sum));
    Sample(out, "yinetd_child_duration_seconds_count", ServiceLabel(name), std::to_string(c.durations));
  }
  Family(out, "yinetd_tls_handshake_failures_total", "counter", "TLS handshakes that failed, by reason.");
  for (const auto& [name, c] : services_) {
    for (const auto& [reason, count] : c.tls_failures) {
      Sample(out, "yinetd_tls_handshake_failures_total",
             ServiceLabel(name) + ",reason=\"" + EscapeLabelValue(reason) + "\"", std::to_string(count));
    }
  }
  Family(out, "yinetd_tls_cert_expiry_timestamp_seconds", "gauge",
         "When each certificate a TLS service serves expires, in seconds since the epoch.");
  for (const auto& [name, c] : services_) {
    for (const auto& [file, not_after] : c.cert_expiry) {
      Sample(out, "yinetd_tls_cert_expiry_timestamp_seconds",
             ServiceLabel(name) + ",cert=\"" + EscapeLabelValue(file) + "\"", std::to_string(not_after));
    }
  }
  Family(out, "yinetd_reloads_total", "counter", "Config reloads, by result.");
  Sample(out, "yinetd_reloads_total", "result=\"success\"", std::to_string(reloads_success_));
  Sample(out, "yinetd_reloads_total", "result=\"failure\"", std::to_string(reloads_failure_));
  Family(out, "process_start_time_seconds", "gauge", "Start time of the process since the epoch, in seconds.");
  Sample(out, "process_start_time_seconds", "", Number(start_time_));
  return out;
}

}  // namespace yinetd::supervisor
