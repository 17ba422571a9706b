// Loader: YAML text → checked Config, or every problem found in it.
//
// The loader never stops at the first problem: `yinetd --check` shows them
// all, each with FILE:LINE:COLUMN and what to do. yaml-cpp exceptions are
// caught here and never leave this module.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/host.h"

namespace yinetd::config {

struct LoadResult {
  std::optional<Config> config;  // set exactly when `problems` is empty
  std::vector<Problem> problems;
  // What is valid but will likely fail at run time (a user that cannot
  // reach its program): --check prints them, startup and reload log them.
  // Initialized here so that LoadResult{config, problems} stays complete.
  std::vector<Problem> warnings = {};
};

LoadResult LoadConfigFile(const std::string& path, Host& host);

// `file_name` is used in messages and to resolve "./program" paths.
LoadResult LoadConfigText(const std::string& text, const std::string& file_name, Host& host);

// "1024", "64M", "unlimited": a number with an optional binary suffix
// (unlimited is RLIM_INFINITY); nullopt if it is not one.
std::optional<uint64_t> ParseLimitValue(std::string_view text);

// The candidate closest to `word` by edit distance, or "" if none is close
// enough to be a likely typo.
std::string NearestWord(std::string_view word, const std::vector<std::string_view>& candidates);

}  // namespace yinetd::config
