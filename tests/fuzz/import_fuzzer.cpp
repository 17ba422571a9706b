// libFuzzer target: `yinetd import` on hostile inetd.conf and xinetd text.
// Whatever the input, the output must be YAML that parses (comments and
// quoting hold), as inetd.conf and as xinetd.
#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "import/import.h"

namespace {

std::optional<uint16_t> Ports(const std::string& name, const std::string&) {
  if (name == "echo") return 7;
  if (name == "ftp") return 21;
  return std::nullopt;
}

void MustParse(const std::string& yaml) {
  try {
    YAML::Node root = YAML::Load(yaml);
    if (!root.IsMap() || !root["services"]) std::abort();
  } catch (const YAML::Exception&) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  yinetd::import::SourceFile file{"fuzz", text};
  MustParse(yinetd::import::FromInetd(file, Ports));
  MustParse(yinetd::import::FromXinetd({file}, Ports));
  yinetd::import::LooksLikeXinetd(text);
  yinetd::import::IncludeDirs(text);
  return 0;
}
