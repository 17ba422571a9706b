// libFuzzer target: the config loader on arbitrary bytes. Whatever the
// input, LoadConfigText must return problems or a config, never crash, leak
// or trip a sanitizer, and a config it returns must be self-consistent.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "config/fake_host.h"
#include "config/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  yinetd::config::FakeHost host;
  std::string text(reinterpret_cast<const char*>(data), size);
  yinetd::config::LoadResult result = yinetd::config::LoadConfigText(text, "/fuzz/yinetd.yaml", host);
  if (result.config.has_value() == !result.problems.empty()) std::abort();
  if (result.config) {
    for (const auto& service : result.config->services) {
      if (service.name.empty() || service.listen.empty() || service.program.empty()) std::abort();
    }
  }
  for (const auto& problem : result.problems) {
    if (problem.message.empty() || problem.where.file != "/fuzz/yinetd.yaml") std::abort();
  }
  return 0;
}
