// Reloading the config without dropping a connection, and the status
// snapshot. A reload is planned by Diff (reload_plan.h) and applied here:
// listeners whose address is unchanged keep their socket (nothing queued in
// its backlog is lost), services keep their state when their settings are
// unchanged, and children already running are left alone: they keep a
// shared_ptr to the Service they started under.
#include <unistd.h>

#include <algorithm>
#include <map>

#include "log/events.h"
#include "net/listener.h"
#include "supervisor/reload_plan.h"
#include "supervisor/supervisor.h"
#include "sys/sys_error.h"
#include "systemd/notify.h"

namespace yinetd::supervisor {
namespace {

// Edits come in bursts (an editor writes, renames, touches): wait for quiet.
constexpr std::chrono::milliseconds kWatchDebounce{300};

net::ListenOptions ListenOptionsFor(const config::ServiceConfig& service) {
  const config::SocketOptions& socket = service.socket;
  net::ListenOptions options;
  options.backlog = socket.backlog;
  options.type = service.protocol == config::Protocol::kUdp ? SOCK_DGRAM : SOCK_STREAM;
  options.nonblocking = service.mode == config::Mode::kNowait;
  options.ipv6_only = socket.ipv6_only;
  options.keepalive = socket.keepalive;
  options.nodelay = socket.nodelay;
  options.reuseport = socket.reuseport;
  options.freebind = socket.freebind;
  options.bind_interface = socket.bind_interface;
  options.unix_mode = socket.unix_mode;
  options.unix_owner = socket.unix_owner;
  options.unix_group = socket.unix_group;
  return options;
}

// The kernel silently caps a backlog at somaxconn; say so once at bind.
void WarnIfBacklogClamped(const config::ServiceConfig& service, const std::string& addr) {
  std::optional<int> max = net::SomaxConn();
  if (service.protocol == config::Protocol::kTcp && max && service.socket.backlog > *max) {
    log::BacklogClamped(service.name, addr, service.socket.backlog, *max);
  }
}

// An open listener can serve `service` on `address` as it is: same address,
// protocol, mode and socket options. Otherwise it must be bound anew.
bool Reusable(const Listener& listener, const Service& service, const net::Address& address) {
  const config::ServiceConfig& had = listener.service->config;
  const config::ServiceConfig& wants = service.config;
  return listener.fd.Valid() && listener.address == address && had.protocol == wants.protocol &&
         had.mode == wants.mode && had.socket == wants.socket;
}

}  // namespace

std::vector<std::string> Supervisor::OpenListeners(const std::vector<std::shared_ptr<Service>>& services,
                                                   std::vector<Listener>& old, bool fatal) {
  std::vector<std::string> failed;
  std::vector<Listener> opened;
  for (const auto& service : services) {
    for (const net::Address& address : service->config.listen) {
      Listener listener;
      listener.service = service;
      listener.address = address;
      listener.addr_text = address.ToString();
      auto same_address = std::find_if(old.begin(), old.end(), [&](const Listener& l) {
        return l.fd.Valid() && l.address == address;
      });
      if (UseAdopted(listener)) {
        // Bound and listening already: systemd passed it.
      } else if (same_address != old.end() && Reusable(*same_address, *service, address)) {
        listener.fd = std::move(same_address->fd);
        listener.adopted = same_address->adopted;
        listener.wait_child = same_address->wait_child;  // still holding the socket
      } else {
        // New socket options or protocol: the old socket must go first.
        if (same_address != old.end()) same_address->fd.Reset();
        try {
          listener.fd = net::OpenListener(address, ListenOptionsFor(service->config));
        } catch (const SysError& e) {
          if (fatal) throw SysError("service " + service->config.name + ": " + e.Call(), e.Errno());
          log::SyscallFailed(service->config.name, e.Call(), "", e.Errno());
          failed.push_back(listener.addr_text);
          continue;
        }
        WarnIfBacklogClamped(service->config, listener.addr_text);
        log::Listen(service->config.name, listener.addr_text);
      }
      listener.fixed_local = address.family == net::Address::Family::kIPv4 ||
                             address.family == net::Address::Family::kIPv6;
      if (listener.fixed_local) listener.local = net::LocalEndpoint(listener.fd.Get());
      opened.push_back(std::move(listener));
    }
  }
  // What is left of `old` is closed; a unix socket's file goes with it
  // unless a new listener took it over.
  for (Listener& gone : old) {
    if (!gone.fd.Valid()) continue;
    // systemd owns the file of a socket it passed.
    if (gone.address.family == net::Address::Family::kUnix && !gone.adopted) unlink(gone.address.path.c_str());
    gone.fd.Reset();
  }
  listeners_ = std::move(opened);
  return failed;
}

control::ReloadOutcome Supervisor::Reload(std::string_view trigger) {
  control::ReloadOutcome outcome;
  if (!config_source_) {
    log::ReloadError(trigger, config_.file, 0, "reload is not available");
    outcome.result = control::ReloadOutcome::Result::kRefused;
    outcome.problems.push_back({config::Location{config_.file, 0, 0}, "reload is not available"});
    return outcome;
  }
  systemd::NotifyReloading();
  config::LoadResult result = config_source_();
  if (!result.config) {
    // The old config keeps serving, untouched.
    for (const config::Problem& problem : result.problems) {
      log::ReloadError(trigger, problem.where.file, problem.where.line, problem.message);
    }
    metrics_.Reloaded(false);
    outcome.result = control::ReloadOutcome::Result::kRefused;
    outcome.problems = std::move(result.problems);
  } else {
    outcome = Apply(std::move(*result.config));
    metrics_.Reloaded(true);
  }
  // READY=1 ends the reload for systemd either way: the old or the new
  // config is serving.
  NotifyReady();
  return outcome;
}

control::ReloadOutcome Supervisor::Apply(config::Config next) {
  std::vector<const config::ServiceConfig*> old_configs;
  std::map<std::string, std::shared_ptr<Service>> old_by_name;
  for (const auto& service : services_) {
    old_configs.push_back(&service->config);
    old_by_name[service->config.name] = service;
  }
  ReloadPlan plan = Diff(old_configs, next.services);
  std::vector<std::shared_ptr<Service>> services;
  for (size_t i = 0; i < next.services.size(); ++i) {
    auto old = old_by_name.find(next.services[i].name);
    if (plan.next[i] == ReloadPlan::Fate::kKept) {
      services.push_back(old->second);
      continue;
    }
    auto service = std::make_shared<Service>(next.services[i]);
    metrics_.AddService(service->config.name);
    if (old != old_by_name.end()) service->totals = old->second->totals;
    services.push_back(std::move(service));
  }
  std::vector<Listener> old_listeners = std::move(listeners_);
  std::vector<std::string> failed = OpenListeners(services, old_listeners, false);
  services_ = std::move(services);
  std::optional<log::Level> level = next.log_level;
  config_ = std::move(next);
  if (config_.max_children) max_children_ = *config_.max_children;
  if (level) log::SetLevel(*level);
  WatchConfig();
  control::ReloadOutcome outcome;
  outcome.result = failed.empty() ? control::ReloadOutcome::Result::kOk : control::ReloadOutcome::Result::kPartial;
  outcome.added = plan.Count(ReloadPlan::Fate::kAdded);
  outcome.removed = plan.removed.size();
  outcome.changed = plan.Count(ReloadPlan::Fate::kChanged);
  outcome.kept = plan.Count(ReloadPlan::Fate::kKept);
  log::ReloadDone(failed.empty() ? "ok" : "partial", outcome.added, outcome.removed, outcome.changed,
                  outcome.kept, failed.size());
  outcome.unbound = std::move(failed);
  return outcome;
}

void Supervisor::WatchConfig() {
  watch_.Stop();
  if (config_.watch) watch_.Watch(config_.files, config_.include_dirs);
}

void Supervisor::OnConfigChanged() {
  if (watch_.Changed()) reload_at_ = Clock::now() + kWatchDebounce;
}

void Supervisor::RunPendingReload() {
  if (stopping_) {
    AnswerControlReloads(std::nullopt);
    return;
  }
  bool by_control = control_ && control_->ReloadWanted();
  if (reload_requested_ || by_control) {
    // One reload answers a SIGHUP and every waiting `yinetd ctl reload`.
    reload_requested_ = false;
    reload_at_.reset();
    control::ReloadOutcome outcome = Reload(by_control ? "ctl" : "SIGHUP");
    AnswerControlReloads(std::move(outcome));
  } else if (reload_at_ && Clock::now() >= *reload_at_) {
    reload_at_.reset();
    Reload("watch");
  }
}

void Supervisor::LogStatus() {
  for (const auto& service : services_) {
    size_t listeners = std::count_if(listeners_.begin(), listeners_.end(),
                                     [&](const Listener& l) { return l.service == service; });
    log::Status(service->config.name, listeners, service->running, service->totals.accepted,
                service->totals.refused, service->totals.exited);
  }
}

}  // namespace yinetd::supervisor
