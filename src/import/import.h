// Import: inetd.conf lines and xinetd service files → yinetd YAML.
//
// Pure: the caller reads the files (the configs, and the banner files
// they name) and answers port look-ups, so the
// conversion is tested with text alone (and fuzzed: the files are not
// ours). Every attribute that cannot be carried over becomes a comment
// saying why; a service that cannot be served at all (RPC, raw sockets) is
// written as a comment too, and a disabled one as a commented-out entry.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace yinetd::import {

// The port of a service name for "tcp" or "udp" (/etc/services).
using PortLookup = std::function<std::optional<uint16_t>(const std::string& name, const std::string& protocol)>;

// The text of a file a config names (xinetd's banner_fail), or nullopt
// with `why` set.
using TextLookup = std::function<std::optional<std::string>(const std::string& path, std::string& why)>;

struct SourceFile {
  std::string name;  // for comments
  std::string text;
};

// Whether `text` reads as xinetd syntax (`service NAME {`, `defaults`,
// `includedir`) rather than inetd.conf lines.
bool LooksLikeXinetd(std::string_view text);

// The YAML for inetd.conf `text`.
std::string FromInetd(const SourceFile& file, const PortLookup& ports);

// The YAML for xinetd files, in order: xinetd.conf first when there is one
// (its `defaults` apply to the services of every later file); `includedir`
// lines are the caller's to follow (IncludeDirs). `banners` reads the
// banner_fail files; without it their text is not carried.
std::string FromXinetd(const std::vector<SourceFile>& files, const PortLookup& ports,
                       const TextLookup& banners = nullptr);

// The directories named by `includedir` in `text`.
std::vector<std::string> IncludeDirs(std::string_view text);

// Whether xinetd reads a file of this name from an includedir: it skips
// names with a '.' or ending in '~'.
bool XinetdReadsFile(std::string_view name);

}  // namespace yinetd::import
