// Reading what `yinetd import` converts: a file (inetd.conf, xinetd.conf or
// one xinetd service file) or a directory (/etc/xinetd.d), following
// xinetd.conf's includedir. Port names are looked up in /etc/services.
// The conversion itself is pure (import.h).
#pragma once

#include <optional>
#include <string>

namespace yinetd::import {

// The YAML for `path`, or nullopt with `error` saying why.
std::optional<std::string> ImportPath(const std::string& path, std::string& error);

}  // namespace yinetd::import
