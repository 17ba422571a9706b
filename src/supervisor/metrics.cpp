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

uint64_t ServiceCounts::Refused() const {
  uint64_t total = 0;
  for (const auto& [reason, count] : refused) total += count;
  return total;
}

void ServiceCounts::CountRefusal(std::string_view reason) {
  auto it = refused.find(reason);
  if (it == refused.end()) it = refused.emplace(std::string(reason), 0).first;
  ++it->second;
}

void ServiceCounts::CountExit(bool by_signal, double seconds, double cpu) {
  cpu_seconds += cpu;
  ++(by_signal ? exits_signal : exits_status);
  ++durations;
  duration_sum += seconds;
  for (size_t i = 0; i < kDurationBuckets.size(); ++i) {
    if (seconds <= kDurationBuckets[i]) {
      ++buckets[i];
      break;
    }
  }
}

void ServiceCounts::CountTlsFailure(std::string_view reason) {
  auto it = tls_failures.find(reason);
  if (it == tls_failures.end()) it = tls_failures.emplace(std::string(reason), 0).first;
  ++it->second;
}

std::string Exposition(const std::vector<std::pair<std::string, const ServiceCounts*>>& services,
                       const ProcessCounts& process,
                       const std::map<std::string, sandbox::CgroupUsage, std::less<>>& cgroups) {
  std::string out;
  Family(out, "yinetd_connections_accepted_total", "counter", "Connections handed to a program.");
  for (const auto& [name, c] : services) {
    Sample(out, "yinetd_connections_accepted_total", ServiceLabel(name), std::to_string(c->accepted));
  }
  Family(out, "yinetd_connections_refused_total", "counter", "Connections closed without a program, by reason.");
  for (const auto& [name, c] : services) {
    for (const auto& [reason, count] : c->refused) {
      Sample(out, "yinetd_connections_refused_total",
             ServiceLabel(name) + ",reason=\"" + EscapeLabelValue(reason) + "\"", std::to_string(count));
    }
  }
  Family(out, "yinetd_children_running", "gauge", "Programs running now.");
  for (const auto& [name, c] : services) {
    Sample(out, "yinetd_children_running", ServiceLabel(name), std::to_string(c->running));
  }
  Family(out, "yinetd_child_exits_total", "counter", "Programs reaped, by how they ended.");
  for (const auto& [name, c] : services) {
    Sample(out, "yinetd_child_exits_total", ServiceLabel(name) + ",outcome=\"status\"", std::to_string(c->exits_status));
    Sample(out, "yinetd_child_exits_total", ServiceLabel(name) + ",outcome=\"signal\"", std::to_string(c->exits_signal));
  }
  Family(out, "yinetd_child_duration_seconds", "histogram", "How long programs ran.");
  for (const auto& [name, c] : services) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kDurationBuckets.size(); ++i) {
      cumulative += c->buckets[i];
      Sample(out, "yinetd_child_duration_seconds_bucket",
             ServiceLabel(name) + ",le=\"" + Number(kDurationBuckets[i]) + "\"", std::to_string(cumulative));
    }
    Sample(out, "yinetd_child_duration_seconds_bucket", ServiceLabel(name) + ",le=\"+Inf\"",
           std::to_string(c->durations));
    Sample(out, "yinetd_child_duration_seconds_sum", ServiceLabel(name), Number(c->duration_sum));
    Sample(out, "yinetd_child_duration_seconds_count", ServiceLabel(name), std::to_string(c->durations));
  }
  Family(out, "yinetd_child_cpu_seconds_total", "counter", "CPU time (user + system) of the programs reaped.");
  for (const auto& [name, c] : services) {
    Sample(out, "yinetd_child_cpu_seconds_total", ServiceLabel(name), Number(c->cpu_seconds));
  }
  Family(out, "yinetd_service_memory_peak_bytes", "gauge",
         "The most memory the programs of a service with a cgroup used together (memory.peak).");
  for (const auto& [name, usage] : cgroups) {
    if (usage.memory_peak) Sample(out, "yinetd_service_memory_peak_bytes", ServiceLabel(name), std::to_string(*usage.memory_peak));
  }
  Family(out, "yinetd_service_oom_kills_total", "counter",
         "Processes of a service with a cgroup that the OOM killer ended (memory.events oom_kill).");
  for (const auto& [name, usage] : cgroups) {
    if (usage.oom_kills) Sample(out, "yinetd_service_oom_kills_total", ServiceLabel(name), std::to_string(*usage.oom_kills));
  }
  Family(out, "yinetd_tls_handshake_failures_total", "counter", "TLS handshakes that failed, by reason.");
  for (const auto& [name, c] : services) {
    for (const auto& [reason, count] : c->tls_failures) {
      Sample(out, "yinetd_tls_handshake_failures_total",
             ServiceLabel(name) + ",reason=\"" + EscapeLabelValue(reason) + "\"", std::to_string(count));
    }
  }
  Family(out, "yinetd_tls_cert_expiry_timestamp_seconds", "gauge",
         "When each certificate a TLS service serves expires, in seconds since the epoch.");
  for (const auto& [name, c] : services) {
    for (const auto& [file, not_after] : c->cert_expiry) {
      Sample(out, "yinetd_tls_cert_expiry_timestamp_seconds",
             ServiceLabel(name) + ",cert=\"" + EscapeLabelValue(file) + "\"", std::to_string(not_after));
    }
  }
  Family(out, "yinetd_reloads_total", "counter", "Config reloads, by result.");
  Sample(out, "yinetd_reloads_total", "result=\"success\"", std::to_string(process.reloads_success));
  Sample(out, "yinetd_reloads_total", "result=\"failure\"", std::to_string(process.reloads_failure));
  Family(out, "process_start_time_seconds", "gauge", "Start time of the process since the epoch, in seconds.");
  Sample(out, "process_start_time_seconds", "", Number(process.start_time));
  return out;
}

}  // namespace yinetd::supervisor
