// The Supervisor's side of the control socket (control/server.h): what the
// loop polls for it, and the answers to `yinetd ctl`, built from the state
// of the moment (control/report.h formats them).
#include <unistd.h>

#include <algorithm>

#include "config/dump.h"
#include "supervisor/reload_plan.h"
#include "supervisor/supervisor.h"

namespace yinetd::supervisor {

class Supervisor::ControlHandler : public control::Handler {
 public:
  explicit ControlHandler(Supervisor& supervisor) : supervisor_(supervisor) {}
  std::string Answer(const control::Request& request) override { return supervisor_.AnswerControl(request); }

 private:
  Supervisor& supervisor_;
};

void Supervisor::SetControl(std::unique_ptr<control::Server> server, std::string version) {
  control_ = std::move(server);
  version_ = std::move(version);
}

void Supervisor::ServeControl(const pollfd& ready) {
  ControlHandler handler(*this);
  control_->OnReady(ready.fd, ready.revents, handler, Clock::now());
}

void Supervisor::AnswerControlReloads(std::optional<control::ReloadOutcome> done) {
  if (!control_ || !control_->ReloadWanted()) return;
  control::Printed printed{control::kExitFailed, "refused: yinetd is stopping\n"};
  if (done) printed = control::ReloadReport(*done);
  control_->AnswerReloads(control::FormatAnswer(printed.exit_status, printed.text));
}

control::Snapshot Supervisor::TakeSnapshot() const {
  Clock::time_point now = Clock::now();
  auto millis = [](Clock::duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
  control::Snapshot snapshot;
  snapshot.version = version_;
  snapshot.config_file = config_.file;
  snapshot.pid = getpid();
  snapshot.uptime_ms = millis(now - started_at_);
  snapshot.max_children = max_children_;
  for (const auto& service : services_) {
    control::ServiceSnapshot entry{service->config.name, {}, service->running, service->totals.accepted,
                                   service->totals.refused, service->totals.exited};
    for (const Listener& listener : listeners_) {
      if (listener.service == service) entry.listeners.push_back(listener.addr_text);
    }
    snapshot.services.push_back(std::move(entry));
  }
  for (const auto& [pid, child] : children_.Children()) {
    const config::ServiceConfig& config = child.service->config;
    std::string user = config.credentials && config.credentials->set_uid ? config.credentials->user : "";
    snapshot.connections.push_back({config.name, pid, child.peer, user, millis(now - child.started)});
  }
  return snapshot;
}

control::CheckOutcome Supervisor::CheckConfigOnDisk() const {
  control::CheckOutcome outcome;
  if (!config_source_) {
    outcome.problems.push_back({config::Location{config_.file, 0, 0}, "reload is not available"});
    return outcome;
  }
  config::LoadResult result = config_source_();
  if (!result.config) {
    outcome.problems = std::move(result.problems);
    return outcome;
  }
  std::vector<const config::ServiceConfig*> old_configs;
  for (const auto& service : services_) old_configs.push_back(&service->config);
  ReloadPlan plan = Diff(old_configs, result.config->services);
  for (size_t i = 0; i < plan.next.size(); ++i) {
    const std::string& name = result.config->services[i].name;
    switch (plan.next[i]) {
      case ReloadPlan::Fate::kAdded: outcome.added.push_back(name); break;
      case ReloadPlan::Fate::kChanged: outcome.changed.push_back(name); break;
      case ReloadPlan::Fate::kKept: outcome.kept.push_back(name); break;
    }
  }
  outcome.removed = plan.removed;
  return outcome;
}

std::string Supervisor::AnswerControl(const control::Request& request) {
  using control::Command;
  switch (request.command) {
    case Command::kStatus: {
      control::Snapshot snapshot = TakeSnapshot();
      return control::FormatAnswer(control::kExitOk, request.json ? control::StatusJson(snapshot)
                                                                  : control::StatusText(snapshot));
    }
    case Command::kConnections: {
      control::Snapshot snapshot = TakeSnapshot();
      return control::FormatAnswer(control::kExitOk, request.json ? control::ConnectionsJson(snapshot)
                                                                  : control::ConnectionsText(snapshot));
    }
    case Command::kCheck: {
      control::Printed printed = control::CheckReport(CheckConfigOnDisk());
      return control::FormatAnswer(printed.exit_status, printed.text);
    }
    case Command::kDump:
      return control::FormatAnswer(control::kExitOk, config::DumpYaml(config_));
    case Command::kReload:
      break;  // the server waits for the loop's reload instead
  }
  return control::FormatAnswer(control::kExitFailed, "not answered here\n");
}

}  // namespace yinetd::supervisor
