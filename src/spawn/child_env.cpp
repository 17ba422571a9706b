#include "spawn/child_env.h"

#include <algorithm>
#include <cctype>
#include <utility>

namespace yinetd::spawn {
namespace {

// Appends NAME=value, replacing an earlier NAME.
void Set(std::vector<std::string>& env, const std::string& name, const std::string& value) {
  auto same_name = [&](const std::string& entry) {
    return entry.size() > name.size() && entry[name.size()] == '=' && entry.compare(0, name.size(), name) == 0;
  };
  env.erase(std::remove_if(env.begin(), env.end(), same_name), env.end());
  env.push_back(name + "=" + value);
}

// YINETD_SERVICE, PATH and the service's `env:` (only `env:` with clear_env).
void AddServiceVariables(const ServiceEnv& service, std::vector<std::string>& env) {
  if (!service.clear_env) {
    Set(env, "YINETD_SERVICE", service.name);
    Set(env, "PATH", kDefaultPath);
  }
  for (const auto& [name, value] : service.env) Set(env, name, value);
}

// The balancer and the TLVs its header carried (escaped).
void AddProxyVariables(const Connection& connection, std::vector<std::string>& env) {
  if (!connection.proxy) return;
  Set(env, "TCPPROXYIP", connection.proxy->ip);
  Set(env, "TCPPROXYPORT", std::to_string(connection.proxy->port));
  const net::ProxyTlvs& tlvs = connection.tlvs;
  const std::pair<const char*, const std::optional<std::string>*> named[] = {
      {"PROXY_ALPN", &tlvs.alpn},           {"PROXY_AUTHORITY", &tlvs.authority},
      {"PROXY_UNIQUE_ID", &tlvs.unique_id}, {"PROXY_SSL_VERSION", &tlvs.ssl_version},
      {"PROXY_SSL_CN", &tlvs.ssl_cn},       {"PROXY_SSL_CIPHER", &tlvs.ssl_cipher},
  };
  for (const auto& [name, value] : named) {
    if (*value) Set(env, name, EscapeEnvValue(**value));
  }
}

}  // namespace

std::string EscapeEnvValue(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(bytes.size());
  for (char c : bytes) {
    auto byte = static_cast<unsigned char>(c);
    bool plain = std::isalnum(byte) != 0 || std::string_view("._:/@+=,-").find(c) != std::string_view::npos;
    if (plain && byte < 0x80) {
      out.push_back(c);
    } else {
      out += {'%', kHex[byte >> 4], kHex[byte & 0x0f]};
    }
  }
  return out;
}

std::vector<std::string> BuildArgv(const std::string& program, const std::optional<std::string>& argv0,
                                   const std::vector<std::string>& args) {
  std::vector<std::string> argv{argv0.value_or(program)};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

std::vector<std::string> BuildEnv(const ServiceEnv& service, const Connection& connection) {
  std::vector<std::string> env;
  env.reserve(10 + service.env.size());
  if (service.clear_env) {
    AddServiceVariables(service, env);
    return env;
  }
  if (connection.peer.is_unix) {
    Set(env, "PROTO", "UNIX");
    if (const auto& peer = connection.credentials) {
      Set(env, "UNIXREMOTEUID", std::to_string(peer->uid));
      Set(env, "UNIXREMOTEGID", std::to_string(peer->gid));
      Set(env, "UNIXREMOTEPID", std::to_string(peer->pid));
    }
  } else {
    Set(env, "PROTO", "TCP");
    Set(env, "TCPREMOTEIP", connection.peer.ip);
    Set(env, "TCPREMOTEPORT", std::to_string(connection.peer.port));
    Set(env, "TCPLOCALIP", connection.local.ip);
    Set(env, "TCPLOCALPORT", std::to_string(connection.local.port));
    Set(env, "REMOTE_ADDR", connection.peer.ip);
    Set(env, "REMOTE_PORT", std::to_string(connection.peer.port));
    AddProxyVariables(connection, env);
  }
  AddServiceVariables(service, env);
  return env;
}

std::vector<std::string> BuildWaitEnv(const ServiceEnv& service, const net::Address& listening) {
  std::vector<std::string> env;
  if (!service.clear_env) {
    const char* proto = service.datagram ? "UDP"
                        : listening.family == net::Address::Family::kUnix ? "UNIX"
                                                                           : "TCP";
    Set(env, "PROTO", proto);
  }
  AddServiceVariables(service, env);
  return env;
}

std::vector<char*> ToExecArray(std::vector<std::string>& strings) {
  std::vector<char*> array;
  array.reserve(strings.size() + 1);
  for (std::string& s : strings) array.push_back(s.data());
  array.push_back(nullptr);
  return array;
}

}  // namespace yinetd::spawn
