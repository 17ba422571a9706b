#include "config/dump.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdio>

namespace yinetd::config {
namespace {

// Seconds as the loader reads them: "10", "0.5".
std::string SecondsText(std::chrono::milliseconds ms) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", static_cast<double>(ms.count()) / 1000.0);
  std::string value = text;
  while (value.back() == '0') value.pop_back();
  if (value.back() == '.') value.pop_back();
  return value;
}

std::string OctalText(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode));
  return text;
}

std::string NumberText(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", value);
  return text;
}

const char* StderrName(StderrMode mode) {
  switch (mode) {
    case StderrMode::kLog: return "log";
    case StderrMode::kSocket: return "socket";
    case StderrMode::kNull: return "null";
  }
  return "log";
}

void Key(YAML::Emitter& out, const char* key, const std::string& value) {
  out << YAML::Key << key << YAML::Value << value;
}

void Key(YAML::Emitter& out, const char* key, bool value) {
  out << YAML::Key << key << YAML::Value << (value ? "true" : "false");
}

void Key(YAML::Emitter& out, const char* key, long value) {
  out << YAML::Key << key << YAML::Value << std::to_string(value);
}

// A setting left unset, as a comment on its own line.
void Unset(YAML::Emitter& out, const std::string& what) { out << YAML::Newline << YAML::Comment(what); }

void EmitList(YAML::Emitter& out, const char* key, const std::vector<std::string>& items) {
  out << YAML::Key << key << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (const std::string& item : items) out << item;
  out << YAML::EndSeq;
}

void EmitProcess(YAML::Emitter& out, const ServiceConfig& service) {
  const ProcessControls& process = service.process;
  if (!process.chroot.empty()) Key(out, "chroot", process.chroot);
  Key(out, "chdir", process.chdir);
  if (process.umask) Key(out, "umask", OctalText(*process.umask)); else Unset(out, "umask: inherited");
  if (process.nice) Key(out, "nice", static_cast<long>(*process.nice)); else Unset(out, "nice: inherited");
  if (!process.rlimits.empty()) {
    out << YAML::Key << "rlimits" << YAML::Value << YAML::BeginMap;
    for (const ResourceLimit& limit : process.rlimits) {
      std::string value = limit.value == static_cast<uint64_t>(RLIM_INFINITY) ? "unlimited" : std::to_string(limit.value);
      out << YAML::Key << limit.name << YAML::Value << value;
    }
    out << YAML::EndMap;
  }
  Key(out, "no_new_privs", process.no_new_privs);
  if (process.argv0) Key(out, "argv0", *process.argv0);
  Key(out, "clear_env", process.clear_env);
}

void EmitSocket(YAML::Emitter& out, const ServiceConfig& service) {
  const SocketOptions& socket = service.socket;
  Key(out, "backlog", static_cast<long>(socket.backlog));
  Key(out, "ipv6_only", socket.ipv6_only);
  Key(out, "keepalive", socket.keepalive);
  Key(out, "nodelay", socket.nodelay);
  Key(out, "reuseport", socket.reuseport);
  Key(out, "freebind", socket.freebind);
  if (!socket.bind_interface.empty()) Key(out, "bind_interface", socket.bind_interface);
  if (socket.unix_mode) Key(out, "socket_mode", OctalText(*socket.unix_mode));
  // The names as written (the loader takes names), with the ids they
  // resolved to when this config was loaded.
  if (socket.unix_owner) {
    Key(out, "socket_owner", socket.unix_owner_name);
    Unset(out, "socket_owner: uid " + std::to_string(*socket.unix_owner));
  }
  if (socket.unix_group) {
    Key(out, "socket_group", socket.unix_group_name);
    Unset(out, "socket_group: gid " + std::to_string(*socket.unix_group));
  }
}

// Keys the loader refuses in a wait-mode service: yinetd never meets its clients.
void EmitAdmission(YAML::Emitter& out, const ServiceConfig& service) {
  const Limits& limits = service.limits;
  if (limits.max_connections) Key(out, "max_connections", static_cast<long>(*limits.max_connections));
  else Unset(out, "max_connections: no limit");
  if (limits.max_per_source) Key(out, "max_per_source", static_cast<long>(*limits.max_per_source));
  else Unset(out, "max_per_source: no limit");
  if (limits.max_rate) Key(out, "max_rate", NumberText(*limits.max_rate)); else Unset(out, "max_rate: no limit");
  if (limits.max_rate_per_source) Key(out, "max_rate_per_source", NumberText(*limits.max_rate_per_source));
  else Unset(out, "max_rate_per_source: no limit");
  Key(out, "overflow", std::string(limits.overflow == Overflow::kQueue ? "queue" : "refuse"));
  std::vector<std::string> allow, deny;
  for (const net::Cidr& cidr : service.access.allow) allow.push_back(cidr.ToString());
  for (const net::Cidr& cidr : service.access.deny) deny.push_back(cidr.ToString());
  if (!allow.empty()) EmitList(out, "allow", allow); else Unset(out, "allow: everyone not denied");
  if (!deny.empty()) EmitList(out, "deny", deny);
  Key(out, "refuse_message", service.refuse_message);
}

// A load balancer's PROXY header, read before the program starts.
void EmitProxy(YAML::Emitter& out, const ProxySettings& proxy) {
  const char* protocol = proxy.protocol == ProxyProtocol::kV1   ? "v1"
                         : proxy.protocol == ProxyProtocol::kV2 ? "v2"
                                                                : "any";
  Key(out, "proxy_protocol", std::string(protocol));
  std::vector<std::string> from;
  for (const net::Cidr& cidr : proxy.from) from.push_back(cidr.ToString());
  EmitList(out, "proxy_from", from);
  Key(out, "proxy_timeout", SecondsText(proxy.timeout));
  Key(out, "proxy_local", std::string(proxy.local == ProxyLocal::kClose ? "close" : "serve"));
}

void EmitTls(YAML::Emitter& out, const TlsConfig& tls) {
  out << YAML::Key << "tls" << YAML::Value << YAML::BeginMap;
  Key(out, "cert", tls.cert);
  Key(out, "key", tls.key);
  if (!tls.client_ca.empty()) Key(out, "client_ca", tls.client_ca);
  const char* client_cert = tls.client_cert == ClientCert::kRequire    ? "require"
                            : tls.client_cert == ClientCert::kOptional ? "optional"
                                                                       : "none";
  Key(out, "client_cert", std::string(client_cert));
  if (!tls.allow_client.empty()) EmitList(out, "allow_client", tls.allow_client);
  Key(out, "min_version", tls.min_version);
  if (!tls.alpn.empty()) EmitList(out, "alpn", tls.alpn);
  Key(out, "handshake_timeout", SecondsText(tls.handshake_timeout));
  if (!tls.sni.empty()) {
    out << YAML::Key << "sni" << YAML::Value << YAML::BeginSeq;
    for (const TlsSni& sni : tls.sni) {
      out << YAML::BeginMap;
      EmitList(out, "names", sni.names);
      Key(out, "cert", sni.cert);
      Key(out, "key", sni.key);
      out << YAML::EndMap;
    }
    out << YAML::EndSeq;
  }
  out << YAML::EndMap;
}

// sandbox: only the keys that are set (each is off by default).
void EmitSandbox(YAML::Emitter& out, const SandboxConfig& sandbox) {
  if (!sandbox.Any()) {
    Unset(out, "sandbox: none");
    return;
  }
  out << YAML::Key << "sandbox" << YAML::Value << YAML::BeginMap;
  if (sandbox.private_network) Key(out, "private_network", true);
  if (sandbox.private_tmp) Key(out, "private_tmp", true);
  if (sandbox.read_only) Key(out, "read_only", true);
  if (!sandbox.writable.empty()) EmitList(out, "writable", sandbox.writable);
  if (!sandbox.hidden.empty()) EmitList(out, "hidden", sandbox.hidden);
  if (sandbox.system_calls) EmitList(out, "system_calls", *sandbox.system_calls);
  if (sandbox.address_families) {
    std::vector<std::string> names;
    for (int family : *sandbox.address_families) {
      switch (family) {
        case AF_UNIX: names.push_back("unix"); break;
        case AF_INET: names.push_back("inet"); break;
        case AF_INET6: names.push_back("inet6"); break;
        case AF_NETLINK: names.push_back("netlink"); break;
        case AF_PACKET: names.push_back("packet"); break;
        case AF_VSOCK: names.push_back("vsock"); break;
        default: names.push_back(std::to_string(family)); break;
      }
    }
    EmitList(out, "address_families", names);
  }
  std::vector<std::string> namespaces;
  if (sandbox.pid_namespace) namespaces.push_back("pid");
  if (sandbox.ipc_namespace) namespaces.push_back("ipc");
  if (sandbox.uts_namespace) namespaces.push_back("uts");
  if (!namespaces.empty()) EmitList(out, "namespaces", namespaces);
  if (sandbox.memory_max) Key(out, "memory_max", std::to_string(*sandbox.memory_max));
  if (sandbox.tasks_max) Key(out, "tasks_max", static_cast<long>(*sandbox.tasks_max));
  if (sandbox.cpu_max_percent) Key(out, "cpu_max", std::to_string(*sandbox.cpu_max_percent) + "%");
  out << YAML::EndMap;
}

void EmitService(YAML::Emitter& out, const ServiceConfig& service) {
  out << YAML::BeginMap;
  Key(out, "name", service.name);
  std::vector<std::string> listen;
  for (const net::Address& address : service.listen) listen.push_back(address.ToString());
  EmitList(out, "listen", listen);
  if (!service.builtin.empty()) Key(out, "builtin", service.builtin); else Key(out, "program", service.program);
  if (!service.args.empty()) EmitList(out, "args", service.args);
  Key(out, "protocol", std::string(service.protocol == Protocol::kUdp ? "udp" : "tcp"));
  Key(out, "mode", std::string(service.mode == Mode::kWait ? "wait" : "nowait"));
  if (!service.env.empty()) {
    out << YAML::Key << "env" << YAML::Value << YAML::BeginMap;
    for (const auto& [name, value] : service.env) out << YAML::Key << name << YAML::Value << value;
    out << YAML::EndMap;
  }
  if (const Credentials* credentials = service.credentials ? &*service.credentials : nullptr) {
    if (credentials->set_uid) {
      Key(out, "user", credentials->user);
      Unset(out, "uid " + std::to_string(credentials->uid) + ", gid " + std::to_string(credentials->gid));
    }
    if (!credentials->group.empty()) Key(out, "group", credentials->group);
  } else if (service.dynamic_user) {
    Key(out, "user", std::string("dynamic"));
  } else {
    Unset(out, "user: yinetd's own");
  }
  Key(out, "stderr", std::string(StderrName(service.stderr_mode)));
  EmitProcess(out, service);
  EmitSocket(out, service);
  Key(out, "source_prefix_v4", static_cast<long>(service.limits.source_prefix_v4));
  Key(out, "source_prefix_v6", static_cast<long>(service.limits.source_prefix_v6));
  if (service.mode == Mode::kNowait) EmitAdmission(out, service);
  if (service.proxy.Enabled()) EmitProxy(out, service.proxy);
  if (service.tls) EmitTls(out, *service.tls);
  EmitSandbox(out, service.sandbox);
  if (service.timeout) Key(out, "timeout", SecondsText(*service.timeout)); else Unset(out, "timeout: none");
  Key(out, "kill_grace", SecondsText(service.kill_grace));
  out << YAML::EndMap;
}

// yaml-cpp writes a comment on its own line at column 0: indent each like
// the key after it, and drop the blank lines Newline leaves.
std::string IndentComments(std::string_view text) {
  std::vector<std::string_view> lines;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    if (end > start) lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  std::string indented;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0 && lines[i][0] == '#') {
      size_t next = i + 1;
      while (next < lines.size() && lines[next][0] == '#') ++next;
      if (next < lines.size()) {
        std::string_view after = lines[next];
        size_t indent = after.find_first_not_of(' ');
        // A list entry's keys sit two past its dash.
        if (after.substr(indent, 2) == "- ") indent += 2;
        indented.append(indent, ' ');
      }
    }
    indented.append(lines[i]);
    indented += '\n';
  }
  return indented;
}

}  // namespace

std::string DumpYaml(const Config& config) {
  YAML::Emitter out;
  out << YAML::Comment("effective config of " + config.file + " (yinetd ctl dump)");
  out << YAML::BeginMap;
  out << YAML::Key << "log" << YAML::Value << YAML::BeginMap;
  if (config.log_level) out << YAML::Key << "level" << YAML::Value << std::string(log::LevelName(*config.log_level));
  else Unset(out, "level: info, or --log-level");
  out << YAML::Key << "target" << YAML::Value << (config.log_output == log::Output::kSyslog ? "syslog" : "stderr");
  out << YAML::EndMap;
  Key(out, "watch", config.watch);
  Key(out, "shutdown_grace", SecondsText(config.shutdown_grace));
  if (config.max_children) Key(out, "max_children", static_cast<long>(*config.max_children));
  else Unset(out, "max_children: derived from RLIMIT_NOFILE and RLIMIT_NPROC");
  if (config.dynamic_users) {
    Key(out, "dynamic_users",
        std::to_string(config.dynamic_users->first) + "-" + std::to_string(config.dynamic_users->last));
  }
  if (config.control_socket.empty()) Key(out, "control", false); else Key(out, "control", config.control_socket);
  out << YAML::Key << "services" << YAML::Value << YAML::BeginSeq;
  for (const ServiceConfig& service : config.services) EmitService(out, service);
  out << YAML::EndSeq << YAML::EndMap;
  return IndentComments(out.c_str());
}

}  // namespace yinetd::config
