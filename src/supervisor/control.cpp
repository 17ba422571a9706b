// The Supervisor's side of the control socket (control/server.h): its
// descriptors in the poll set and its deadline in the timer queue, kept in
// step with what the server wants after each event; and the answers to
// `yinetd ctl`, built from the state of the moment (control/report.h
// formats them).
#include <unistd.h>

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
  for (const auto& [fd, events] : control_polled_) poll_.Remove(fd);
  control_polled_.clear();
  control_deadline_.Cancel();
  control_ = std::move(server);
  version_ = std::move(version);
  if (control_) SyncControl();
}

void Supervisor::OnControlReady(int fd, short revents) {
  ControlHandler handler(*this);
  control_->OnReady(fd, revents, handler, clock_.Now());
  if (control_->ReloadWanted()) {
    // In this pass, as SIGHUP's reload is: every client waiting gets it.
    control::Printed printed = control::ReloadReport(Reload("ctl"));
    control_->AnswerReloads(control::FormatAnswer(printed.exit_status, printed.text));
  }
  SyncControl();
}

void Supervisor::SyncControl() {
  std::map<int, short> wanted;
  for (const pollfd& watch : control_->Watches()) wanted[watch.fd] = watch.events;
  for (auto it = control_polled_.begin(); it != control_polled_.end();) {
    auto want = wanted.find(it->first);
    if (want != wanted.end() && want->second == it->second) {
      ++it;
      continue;
    }
    poll_.Remove(it->first);
    it = control_polled_.erase(it);
  }
  for (const auto& [fd, events] : wanted) {
    if (control_polled_.count(fd)) continue;
    poll_.Add(fd, [this, fd = fd](short revents) { OnControlReady(fd, revents); }, events);
    control_polled_[fd] = events;
  }
  control_deadline_.Cancel();
  if (std::optional<TimePoint> next = control_->NextDeadline()) {
    control_deadline_ = timers_.Schedule(*next, [this] {
      control_->Expire(clock_.Now());
      SyncControl();
    });
  }
}

control::Snapshot Supervisor::TakeSnapshot() const {
  TimePoint now = clock_.Now();
  auto millis = [](auto d) { return std::chrono::duration_cast<milliseconds>(d).count(); };
  control::Snapshot snapshot;
  snapshot.version = version_;
  snapshot.config_file = config_.file;
  snapshot.pid = getpid();
  snapshot.uptime_ms = millis(now - started_at_);
  snapshot.max_children = children_.MaxChildren();
  for (const auto& service : services_) {
    const ServiceCounts& counts = service->state->counts;
    control::ServiceSnapshot entry{service->Name(), {}, counts.running, counts.accepted, counts.Refused(),
                                   counts.Exited()};
    for (const auto& listener : listeners_.All()) {
      if (listener->service == service) entry.listeners.push_back(listener->addr_text);
    }
    snapshot.services.push_back(std::move(entry));
  }
  for (const auto& [pid, child] : children_.All()) {
    const config::ServiceConfig& config = child.service->config;
    std::string user = config.credentials && config.credentials->set_uid ? config.credentials->user : "";
    snapshot.connections.push_back({config.name, pid, child.peer, child.via, user, millis(now - child.started),
                                    child.tls.version, child.tls.client});
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
  ReloadPlan plan = PlanReload(old_configs, listeners_.Describe(), result.config->services);
  for (size_t i = 0; i < plan.services.size(); ++i) {
    const std::string& name = result.config->services[i].name;
    switch (plan.services[i].fate) {
      case ServiceStep::Fate::kAdded: outcome.added.push_back(name); break;
      case ServiceStep::Fate::kChanged: outcome.changed.push_back(name); break;
      case ServiceStep::Fate::kKept: outcome.kept.push_back(name); break;
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
      children_.CollectTlsOutcomes();
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
