// The effective config as YAML, for `yinetd ctl dump`: defaults merged,
// includes inlined, paths resolved, every setting written (unset ones as a
// comment). The text loads again with `yinetd --check` to the same Config.
#pragma once

#include <string>

#include "config/config.h"

namespace yinetd::config {

std::string DumpYaml(const Config& config);

}  // namespace yinetd::config
