#include "config/config.h"

namespace yinetd::config {

std::string Location::ToString() const {
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
         kill_grace == other.kill_grace;
}

}  // namespace yinetd::config
