// The `sandbox:` block of a service: YAML → SandboxConfig, each key checked
// against what the running kernel offers (Host::Kernel), so that a key the
// kernel cannot honour is a problem `--check` reports rather than a program
// silently running unconfined.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/host.h"
#include "config/yaml_tree.h"

namespace yinetd::config {

// Adds every problem found, with its place in `file`, to `problems`.
void ParseSandbox(const yaml::Node& node, const std::string& file, Host& host, SandboxConfig& sandbox,
                  std::vector<Problem>& problems);

// The sandbox keys, for "did you mean" and the docs' tests.
const std::vector<std::string_view>& SandboxKeyNames();

// "61000-61999" → the range; nullopt unless 0 < first <= last < 2^31.
std::optional<DynamicUserRange> ParseDynamicUserRange(std::string_view text);

}  // namespace yinetd::config
