#include "spawn/child_env.h"

#include <algorithm>

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
void AddServiceVariables(const config::ServiceConfig& service, std::vector<std::string>& env) {
  if (!service.process.clear_env) {
    Set(env, "YINETD_SERVICE", service.name);
    Set(env, "PATH", kDefaultPath);
  }
  for (const auto& [name, value] : service.env) Set(env, name, value);
}

}  // namespace

std::vector<std::string> BuildArgv(const config::ServiceConfig& service) {
  std::vector<std::string> argv{service.process.argv0.value_or(service.program)};
  argv.insert(argv.end(), service.args.begin(), service.args.end());
  return argv;
}

std::vector<std::string> BuildEnv(const config::ServiceConfig& service, const Connection& connection) {
  std::vector<std::string> env;
  env.reserve(10 + service.env.size());
  if (service.process.clear_env) {
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
  }
  AddServiceVariables(service, env);
  return env;
}

std::vector<std::string> BuildWaitEnv(const config::ServiceConfig& service, const net::Address& listening) {
  std::vector<std::string> env;
  if (!service.process.clear_env) {
    const char* proto = service.protocol == config::Protocol::kUdp ? "UDP"
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
