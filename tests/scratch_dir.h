// A fresh directory for one test, removed with everything in it when the
// test ends (passed, failed or thrown). One place for what several suites
// need; the prefix names the test in `ls /tmp` should one ever stay.
#pragma once

#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace yinetd::testing {

class ScratchDir {
 public:
  // `parent`: /tmp by default; /var/tmp for a directory a sandboxed program
  // must still find (private_tmp empties /tmp for it).
  explicit ScratchDir(const std::string& prefix, const std::string& parent = "/tmp") {
    std::string pattern = parent + "/yinetd-" + prefix + "-XXXXXX";
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& Path() const { return path_; }
  std::string Path(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace yinetd::testing
