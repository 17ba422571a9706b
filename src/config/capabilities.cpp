#include "config/capabilities.h"

#include <linux/capability.h>

#include <string>
#include <string_view>

namespace yinetd::config {
namespace {

constexpr uint16_t kFirstUnprivilegedPort = 1024;

// The capabilities a service's keys need, each with the key that needs it.
struct Need {
  int capability;
  std::string_view name;  // "CAP_SYS_CHROOT"
  std::string key;        // what in the service asks for it
};

std::vector<Need> NeedsOf(const ServiceConfig& service, Host& host) {
  std::vector<Need> needs;
  uid_t euid = host.EffectiveUid();
  if (service.credentials) {
    const Credentials& credentials = *service.credentials;
    if (credentials.set_uid && credentials.uid != euid) {
      needs.push_back({CAP_SETUID, "CAP_SETUID", "user '" + credentials.user + "'"});
    }
    // setgroups(2) and setgid(2) to another group both need it.
    needs.push_back({CAP_SETGID, "CAP_SETGID", "user/group"});
  }
  if (!service.process.chroot.empty()) needs.push_back({CAP_SYS_CHROOT, "CAP_SYS_CHROOT", "chroot"});
  if (service.process.nice && *service.process.nice < 0) {
    needs.push_back({CAP_SYS_NICE, "CAP_SYS_NICE", "a negative nice"});
  }
  for (const ResourceLimit& limit : service.process.rlimits) {
    if (limit.value > host.HardLimit(limit.resource)) {
      needs.push_back({CAP_SYS_RESOURCE, "CAP_SYS_RESOURCE",
                       "rlimits." + limit.name + " above yinetd's hard limit"});
    }
  }
  if (!service.socket.bind_interface.empty()) {
    needs.push_back({CAP_NET_RAW, "CAP_NET_RAW", "bind_interface"});
  }
  if ((service.socket.unix_owner && *service.socket.unix_owner != euid) || service.socket.unix_group) {
    needs.push_back({CAP_CHOWN, "CAP_CHOWN", "socket_owner/socket_group"});
  }
  for (const net::Address& address : service.listen) {
    if (address.IsInet() && address.port != 0 && address.port < kFirstUnprivilegedPort) {
      needs.push_back({CAP_NET_BIND_SERVICE, "CAP_NET_BIND_SERVICE",
                       "port " + std::to_string(address.port)});
      break;
    }
  }
  return needs;
}

}  // namespace

std::vector<Problem> MissingCapabilities(const Config& config, Host& host) {
  std::vector<Problem> warnings;
  for (const ServiceConfig& service : config.services) {
    for (const Need& need : NeedsOf(service, host)) {
      if (host.HasCapability(need.capability)) continue;
      warnings.push_back({service.where, "service '" + service.name + "': " + need.key + " needs " +
                                             std::string(need.name) +
                                             ", which yinetd does not have: its programs will fail "
                                             "to start; grant it (under systemd, a drop-in adding it "
                                             "to CapabilityBoundingSet=) or remove the key"});
    }
  }
  return warnings;
}

}  // namespace yinetd::config
