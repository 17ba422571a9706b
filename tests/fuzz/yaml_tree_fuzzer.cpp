// libFuzzer target: wherever libyaml builds the config's tree, it must be
// the tree yaml-cpp builds, node for node and position for position, and
// yaml-cpp must not refuse the text (src/config/yaml_tree.h).
#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "config/yaml_shape.h"
#include "config/yaml_tree.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace yinetd::config::yaml;
  std::string text(reinterpret_cast<const char*>(data), size);
  Node fast = FromLibyaml(text);
  if (!fast) return 0;
  try {
    if (Shape(fast) != Shape(FromYamlCpp(text))) std::abort();
  } catch (const YAML::Exception&) {
    std::abort();
  }
  return 0;
}
