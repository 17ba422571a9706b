#include "systemd/journal.h"

#include <sys/stat.h>

#include <charconv>
#include <cstdlib>

namespace yinetd::systemd {
namespace {

bool ParseDecimal(std::string_view text, unsigned long long& value) {
  if (text.empty()) return false;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size();
}

}  // namespace

bool JournalStreamMatches(std::string_view value, dev_t dev, ino_t ino) {
  size_t colon = value.find(':');
  if (colon == std::string_view::npos) return false;
  unsigned long long want_dev = 0, want_ino = 0;
  if (!ParseDecimal(value.substr(0, colon), want_dev)) return false;
  if (!ParseDecimal(value.substr(colon + 1), want_ino)) return false;
  return want_dev == dev && want_ino == ino;
}

bool IsJournal(int fd) {
  const char* value = std::getenv("JOURNAL_STREAM");
  if (value == nullptr) return false;
  struct stat st;
  if (fstat(fd, &st) != 0) return false;
  return JournalStreamMatches(value, st.st_dev, st.st_ino);
}

bool StderrIsJournal() { return IsJournal(2); }

}  // namespace yinetd::systemd
