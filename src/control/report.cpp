#include "control/report.h"

#include <cstdio>

#include "control/protocol.h"

namespace yinetd::control {
namespace {

int Running(const Snapshot& snapshot) {
  int running = 0;
  for (const ServiceSnapshot& service : snapshot.services) running += service.running;
  return running;
}

std::string Join(const std::vector<std::string>& words, std::string_view separator) {
  std::string joined;
  for (const std::string& word : words) {
    if (!joined.empty()) joined += separator;
    joined += word;
  }
  return joined;
}

std::string Seconds(int64_t ms) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1fs", static_cast<double>(ms) / 1000.0);
  return text;
}

std::string OrDash(const std::string& text) { return text.empty() ? "-" : text; }

void AppendNames(std::string& text, std::string_view verb, const std::vector<std::string>& names) {
  for (const std::string& name : names) text += std::string(verb) + " " + name + "\n";
}

}  // namespace

std::string JsonString(std::string_view text) {
  std::string quoted = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      quoted += '\\';
      quoted += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      // Bytes, not code points: a name is not necessarily UTF-8.
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      quoted += escaped;
    } else {
      quoted += static_cast<char>(c);
    }
  }
  return quoted + "\"";
}

std::string StatusText(const Snapshot& snapshot) {
  std::string text = "yinetd " + snapshot.version + ", pid " + std::to_string(snapshot.pid) + ", up " +
                     Seconds(snapshot.uptime_ms) + ", config " + snapshot.config_file + "\n";
  text += std::to_string(snapshot.services.size()) + " service(s), " + std::to_string(Running(snapshot)) +
          " running (at most " + std::to_string(snapshot.max_children) + ")\n";
  for (const ServiceSnapshot& service : snapshot.services) {
    text += service.name + ": listen " + OrDash(Join(service.listeners, ",")) + " running " +
            std::to_string(service.running) + " accepted " + std::to_string(service.accepted) +
            " refused " + std::to_string(service.refused) + " exited " + std::to_string(service.exited) +
            "\n";
  }
  return text;
}

std::string StatusJson(const Snapshot& snapshot) {
  std::string json = "{\"version\":" + JsonString(snapshot.version) + ",\"pid\":" + std::to_string(snapshot.pid) +
                     ",\"uptime_ms\":" + std::to_string(snapshot.uptime_ms) +
                     ",\"config\":" + JsonString(snapshot.config_file) +
                     ",\"running\":" + std::to_string(Running(snapshot)) +
                     ",\"max_children\":" + std::to_string(snapshot.max_children) + ",\"services\":[";
  for (size_t i = 0; i < snapshot.services.size(); ++i) {
    const ServiceSnapshot& service = snapshot.services[i];
    if (i > 0) json += ",";
    json += "{\"name\":" + JsonString(service.name) + ",\"listen\":[";
    for (size_t j = 0; j < service.listeners.size(); ++j) {
      json += (j > 0 ? "," : "") + JsonString(service.listeners[j]);
    }
    json += "],\"running\":" + std::to_string(service.running) +
            ",\"accepted\":" + std::to_string(service.accepted) +
            ",\"refused\":" + std::to_string(service.refused) +
            ",\"exited\":" + std::to_string(service.exited) + "}";
  }
  return json + "]}\n";
}

std::string ConnectionsText(const Snapshot& snapshot) {
  // CLIENT last: a certificate subject may hold spaces.
  std::string text = "SERVICE PID PEER VIA USER AGE TLS CLIENT\n";
  for (const ConnectionSnapshot& connection : snapshot.connections) {
    text += connection.service + " " + std::to_string(connection.pid) + " " + OrDash(connection.peer) + " " +
            OrDash(connection.via) + " " + OrDash(connection.user) + " " + Seconds(connection.age_ms) + " " +
            OrDash(connection.tls) + " " + OrDash(connection.tls_client) + "\n";
  }
  return text;
}

std::string ConnectionsJson(const Snapshot& snapshot) {
  std::string json = "[";
  for (size_t i = 0; i < snapshot.connections.size(); ++i) {
    const ConnectionSnapshot& connection = snapshot.connections[i];
    if (i > 0) json += ",";
    json += "{\"service\":" + JsonString(connection.service) + ",\"pid\":" + std::to_string(connection.pid) +
            ",\"peer\":" + JsonString(connection.peer) + ",\"via\":" + JsonString(connection.via) +
            ",\"user\":" + JsonString(connection.user) + ",\"age_ms\":" + std::to_string(connection.age_ms) +
            ",\"tls\":" + JsonString(connection.tls) + ",\"tls_client\":" + JsonString(connection.tls_client) + "}";
  }
  return json + "]\n";
}

Printed ReloadReport(const ReloadOutcome& outcome) {
  using Result = ReloadOutcome::Result;
  if (outcome.result == Result::kRefused) {
    std::string text = "refused: the old config keeps serving\n";
    for (const config::Problem& problem : outcome.problems) text += problem.ToString() + "\n";
    return {kExitFailed, text};
  }
  std::string counts = "added " + std::to_string(outcome.added) + ", removed " + std::to_string(outcome.removed) +
                       ", changed " + std::to_string(outcome.changed) + ", kept " + std::to_string(outcome.kept) +
                       "\n";
  if (outcome.result == Result::kPartial) {
    std::string text = "partial: " + counts;
    for (const std::string& failure : outcome.unbound) text += "not bound: " + failure + "\n";
    return {kExitPartial, text};
  }
  return {kExitOk, "ok: " + counts};
}

Printed CheckReport(const CheckOutcome& outcome) {
  if (!outcome.problems.empty()) {
    std::string text;
    for (const config::Problem& problem : outcome.problems) text += problem.ToString() + "\n";
    text += std::to_string(outcome.problems.size()) + " problem(s): a reload would be refused\n";
    return {kExitFailed, text};
  }
  std::string text;
  AppendNames(text, "add", outcome.added);
  AppendNames(text, "change", outcome.changed);
  AppendNames(text, "remove", outcome.removed);
  AppendNames(text, "keep", outcome.kept);
  bool nothing = outcome.added.empty() && outcome.changed.empty() && outcome.removed.empty();
  text += nothing ? "OK: a reload would change nothing\n" : "OK: a reload would apply the changes above\n";
  return {kExitOk, text};
}

}  // namespace yinetd::control
