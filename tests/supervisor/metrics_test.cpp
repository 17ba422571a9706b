#include "supervisor/metrics.h"

#include <doctest/doctest.h>

#include <map>
#include <sstream>

namespace yinetd::supervisor {
namespace {

// Counts changed the way Children changes them, rendered as a scrape sees them.
class Metrics {
 public:
  explicit Metrics(double start_time) { process_.start_time = start_time; }
  void AddService(const std::string& service) { services_[service]; }
  void Accepted(const std::string& service) {
    ++services_[service].accepted;
    ++services_[service].running;
  }
  void Exited(const std::string& service, bool by_signal, double seconds) {
    --services_[service].running;
    services_[service].CountExit(by_signal, seconds, seconds / 2);
  }
  void Refused(const std::string& service, const std::string& reason) { services_[service].CountRefusal(reason); }
  void Reloaded(bool success) { ++(success ? process_.reloads_success : process_.reloads_failure); }
  std::string Exposition() const {
    std::vector<std::pair<std::string, const ServiceCounts*>> list;
    for (const auto& [name, counts] : services_) list.emplace_back(name, &counts);
    return supervisor::Exposition(list, process_);
  }

 private:
  std::map<std::string, ServiceCounts> services_;
  ProcessCounts process_;
};

bool HasLine(const std::string& text, const std::string& line) {
  std::istringstream lines(text);
  for (std::string l; std::getline(lines, l);) {
    if (l == line) return true;
  }
  return false;
}

TEST_CASE("a service appears with zeros before its first connection") {
  Metrics metrics(1700000000.5);
  metrics.AddService("echo");
  std::string text = metrics.Exposition();
  CHECK(HasLine(text, "yinetd_connections_accepted_total{service=\"echo\"} 0"));
  CHECK(HasLine(text, "yinetd_children_running{service=\"echo\"} 0"));
  CHECK(HasLine(text, "yinetd_child_exits_total{service=\"echo\",outcome=\"status\"} 0"));
  CHECK(HasLine(text, "yinetd_child_duration_seconds_bucket{service=\"echo\",le=\"+Inf\"} 0"));
  CHECK(HasLine(text, "yinetd_child_duration_seconds_count{service=\"echo\"} 0"));
  CHECK(HasLine(text, "yinetd_reloads_total{result=\"success\"} 0"));
  CHECK(HasLine(text, "process_start_time_seconds 1700000000.5"));
}

TEST_CASE("accepts, exits and refusals are counted per service") {
  Metrics metrics(0);
  metrics.Accepted("echo");
  metrics.Accepted("echo");
  metrics.Accepted("web");
  metrics.Exited("echo", false, 0.002);
  metrics.Exited("web", true, 7);
  metrics.Refused("echo", "max_connections");
  metrics.Refused("echo", "max_connections");
  metrics.Refused("echo", "denied");
  std::string text = metrics.Exposition();
  CHECK(HasLine(text, "yinetd_connections_accepted_total{service=\"echo\"} 2"));
  CHECK(HasLine(text, "yinetd_connections_accepted_total{service=\"web\"} 1"));
  CHECK(HasLine(text, "yinetd_children_running{service=\"echo\"} 1"));
  CHECK(HasLine(text, "yinetd_children_running{service=\"web\"} 0"));
  CHECK(HasLine(text, "yinetd_child_exits_total{service=\"echo\",outcome=\"status\"} 1"));
  CHECK(HasLine(text, "yinetd_child_exits_total{service=\"web\",outcome=\"signal\"} 1"));
  CHECK(HasLine(text, "yinetd_connections_refused_total{service=\"echo\",reason=\"max_connections\"} 2"));
  CHECK(HasLine(text, "yinetd_connections_refused_total{service=\"echo\",reason=\"denied\"} 1"));
}

TEST_CASE("the duration histogram is cumulative, with sum and count") {
  Metrics metrics(0);
  for (int i = 0; i < 3; ++i) metrics.Accepted("s");
  metrics.Exited("s", false, 0.004);   // first bucket
  metrics.Exited("s", false, 0.5);     // le=0.5: bounds are inclusive
  metrics.Exited("s", false, 1000);    // only +Inf
  std::string text = metrics.Exposition();
  CHECK(HasLine(text, "yinetd_child_duration_seconds_bucket{service=\"s\",le=\"0.005\"} 1"));
  CHECK(HasLine(text, "yinetd_child_duration_seconds_bucket{service=\"s\",le=\"0.1\"} 1"));
  CHECK(HasLine(text, "yinetd_child_duration_seconds_bucket{service=\"s\",le=\"0.5\"} 2"));
  CHECK(HasLine(text, "yinetd_child_duration_seconds_bucket{service=\"s\",le=\"300\"} 2"));
  CHECK(HasLine(text, "yinetd_child_duration_seconds_bucket{service=\"s\",le=\"+Inf\"} 3"));
  CHECK(HasLine(text, "yinetd_child_duration_seconds_count{service=\"s\"} 3"));
  CHECK(HasLine(text, "yinetd_child_duration_seconds_sum{service=\"s\"} 1000.504"));
}

TEST_CASE("reloads are counted by result") {
  Metrics metrics(0);
  metrics.Reloaded(true);
  metrics.Reloaded(false);
  metrics.Reloaded(true);
  std::string text = metrics.Exposition();
  CHECK(HasLine(text, "yinetd_reloads_total{result=\"success\"} 2"));
  CHECK(HasLine(text, "yinetd_reloads_total{result=\"failure\"} 1"));
}

TEST_CASE("every family has HELP and TYPE before its samples, and every line ends") {
  Metrics metrics(0);
  metrics.Accepted("a");
  std::string text = metrics.Exposition();
  REQUIRE(!text.empty());
  CHECK(text.back() == '\n');
  for (const char* family : {"yinetd_connections_accepted_total counter", "yinetd_connections_refused_total counter",
                             "yinetd_children_running gauge", "yinetd_child_exits_total counter",
                             "yinetd_child_duration_seconds histogram", "yinetd_reloads_total counter",
                             "process_start_time_seconds gauge"}) {
    CHECK_MESSAGE(HasLine(text, std::string("# TYPE ") + family), family);
  }
  CHECK(text.find("# TYPE yinetd_children_running") < text.find("yinetd_children_running{"));
}

TEST_CASE("a service with a cgroup shows its memory peak and OOM kills; one without shows neither") {
  ServiceCounts boxed, plain;
  std::map<std::string, sandbox::CgroupUsage, std::less<>> cgroups;
  cgroups["boxed"] = sandbox::CgroupUsage{268435456u, 3u};
  cgroups["old_kernel"] = sandbox::CgroupUsage{std::nullopt, 0u};  // no memory.peak before 5.19
  std::string text = Exposition({{"boxed", &boxed}, {"plain", &plain}}, ProcessCounts{}, cgroups);
  CHECK(HasLine(text, "# TYPE yinetd_service_memory_peak_bytes gauge"));
  CHECK(HasLine(text, "yinetd_service_memory_peak_bytes{service=\"boxed\"} 268435456"));
  CHECK(HasLine(text, "# TYPE yinetd_service_oom_kills_total counter"));
  CHECK(HasLine(text, "yinetd_service_oom_kills_total{service=\"boxed\"} 3"));
  CHECK(HasLine(text, "yinetd_service_oom_kills_total{service=\"old_kernel\"} 0"));
  CHECK(text.find("yinetd_service_memory_peak_bytes{service=\"old_kernel\"}") == std::string::npos);
  CHECK(text.find("{service=\"plain\"} 268435456") == std::string::npos);
  CHECK(text.find("yinetd_service_oom_kills_total{service=\"plain\"}") == std::string::npos);
}

TEST_CASE("label values escape backslash, quote and newline") {
  CHECK(EscapeLabelValue("plain") == "plain");
  CHECK(EscapeLabelValue("a\\b\"c\nd") == "a\\\\b\\\"c\\nd");
}

}  // namespace
}  // namespace yinetd::supervisor
