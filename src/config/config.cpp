#include "config/config.h"

namespace yinetd::config {

std::string Location::ToString() const {
  // Line 0 is the file as a whole (it is missing, say): no "FILE:0:0".
  if (line == 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

std::string Problem::ToString() const { return where.ToString() + ": " + message; }

bool ServiceConfig::SameSettings(const ServiceConfig& other) const {
  return name == other.name && listen == other.listen && program == other.program &&
         args == other.args && env == other.env && credentials == other.credentials &&
         stderr_mode == other.stderr_mode && builtin == other.builtin && process == other.process &&
         protocol == other.protocol && mode == other.mode && socket == other.socket &&
         limits == other.limits && access == other.access && proxy == other.proxy &&
         refuse_message == other.refuse_message && timeout == other.timeout &&
         kill_grace == other.kill_grace && dynamic_user == other.dynamic_user &&
         sandbox == other.sandbox && tls == other.tls;
}

std::vector<std::string> TlsConfig::Files() const {
  std::vector<std::string> files = {cert, key};
  if (!client_ca.empty()) files.push_back(client_ca);
  for (const TlsSni& entry : sni) {
    files.push_back(entry.cert);
    files.push_back(entry.key);
  }
  return files;
}

}  // namespace yinetd::config
