#include "import/reader.h"

#include <netdb.h>
#include <netinet/in.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "import/import.h"

namespace yinetd::import {
namespace {

namespace fs = std::filesystem;

// Files bigger than this are not configs; refuse rather than read them whole.
constexpr std::uintmax_t kMaxFile = 4 << 20;

std::optional<SourceFile> ReadSource(const fs::path& path, std::string& error) {
  std::error_code ec;
  std::uintmax_t size = fs::file_size(path, ec);
  if (ec) {
    error = path.string() + ": " + ec.message();
    return std::nullopt;
  }
  if (size > kMaxFile) {
    error = path.string() + ": larger than 4 MiB, not a config";
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) {
    error = path.string() + ": cannot be read";
    return std::nullopt;
  }
  return SourceFile{path.string(), text.str()};
}

// The files xinetd reads from `dir`, by name.
bool AddDirectory(const fs::path& dir, std::vector<SourceFile>& files, std::string& error) {
  std::error_code ec;
  std::vector<fs::path> names;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_regular_file() && XinetdReadsFile(entry.path().filename().string())) names.push_back(entry.path());
  }
  if (ec) {
    error = dir.string() + ": " + ec.message();
    return false;
  }
  std::sort(names.begin(), names.end());
  for (const fs::path& name : names) {
    auto file = ReadSource(name, error);
    if (!file) return false;
    files.push_back(std::move(*file));
  }
  return true;
}

std::optional<uint16_t> LookupPort(const std::string& name, const std::string& protocol) {
  servent* entry = getservbyname(name.c_str(), protocol.c_str());
  if (entry == nullptr) return std::nullopt;
  return ntohs(static_cast<uint16_t>(entry->s_port));
}

// A banner_fail file's text.
std::optional<std::string> ReadBanner(const std::string& path, std::string& why) {
  if (!fs::path(path).is_absolute()) {
    why = "not an absolute path";
    return std::nullopt;
  }
  std::string error;
  auto file = ReadSource(path, error);
  if (!file) {
    why = error.substr(error.rfind(path + ": ", 0) == 0 ? path.size() + 2 : 0);
    return std::nullopt;
  }
  return std::move(file->text);
}

}  // namespace

std::optional<std::string> ImportPath(const std::string& path, std::string& error) {
  std::error_code ec;
  std::vector<SourceFile> files;
  if (fs::is_directory(path, ec)) {
    if (!AddDirectory(path, files, error)) return std::nullopt;
    if (files.empty()) {
      error = path + ": no xinetd service files in it";
      return std::nullopt;
    }
    return FromXinetd(files, LookupPort, ReadBanner);
  }
  auto file = ReadSource(path, error);
  if (!file) return std::nullopt;
  if (!LooksLikeXinetd(file->text)) return FromInetd(*file, LookupPort);
  std::vector<std::string> dirs = IncludeDirs(file->text);
  files.push_back(std::move(*file));
  for (const std::string& dir : dirs) {
    // A relative includedir is relative to the including file.
    fs::path full = fs::path(dir).is_absolute() ? fs::path(dir) : fs::path(path).parent_path() / dir;
    if (!AddDirectory(full, files, error)) return std::nullopt;
  }
  return FromXinetd(files, LookupPort, ReadBanner);
}

}  // namespace yinetd::import
