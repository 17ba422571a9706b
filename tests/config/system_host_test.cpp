// SystemHost against the real file system: what a reload may and may not
// read. Each case that could hang arms alarm() first, so a regression kills
// the test (SIGALRM) instead of freezing the suite.
#include "config/host.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "config/loader.h"
#include "scratch_dir.h"

namespace yinetd::config {
namespace {

using testing::ScratchDir;

// Turns a hang into a failure: SIGALRM's default action ends the test binary.
class HangGuard {
 public:
  HangGuard() { alarm(20); }
  ~HangGuard() { alarm(0); }
};

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

TEST_CASE("ReadFile reads a regular file whole") {
  ScratchDir dir("host");
  WriteFile(dir.Path("a.yaml"), "services: []\n");
  SystemHost host;
  std::string error;
  auto text = host.ReadFile(dir.Path("a.yaml"), error);
  REQUIRE(text);
  CHECK(*text == "services: []\n");
}

TEST_CASE("ReadFile refuses a FIFO at once instead of waiting for a writer") {
  ScratchDir dir("host");
  REQUIRE(mkfifo(dir.Path("fifo.yaml").c_str(), 0600) == 0);
  HangGuard guard;
  SystemHost host;
  std::string error;
  CHECK_FALSE(host.ReadFile(dir.Path("fifo.yaml"), error));
  CHECK(error.find("not a regular file") != std::string::npos);
}

TEST_CASE("ReadFile refuses a device and a directory") {
  HangGuard guard;
  SystemHost host;
  std::string error;
  CHECK_FALSE(host.ReadFile("/dev/zero", error));
  CHECK(error.find("not a regular file") != std::string::npos);
  error.clear();
  CHECK_FALSE(host.ReadFile("/tmp", error));
  CHECK(error.find("not a regular file") != std::string::npos);
}

TEST_CASE("ReadFile refuses a file over the size bound") {
  ScratchDir dir("host");
  {
    // Sparse: costs no disk.
    std::ofstream(dir.Path("big.yaml"));
    std::filesystem::resize_file(dir.Path("big.yaml"), kMaxConfigFileBytes + 1);
  }
  SystemHost host;
  std::string error;
  CHECK_FALSE(host.ReadFile(dir.Path("big.yaml"), error));
  CHECK(error.find("larger than") != std::string::npos);
}

TEST_CASE("an include glob matching a FIFO is a problem in that file, not a hang") {
  ScratchDir dir("host");
  WriteFile(dir.Path("main.yaml"), "include: conf.d/*.yaml\n");
  std::filesystem::create_directory(dir.Path("conf.d"));
  WriteFile(dir.Path("conf.d/a.yaml"),
            "services:\n  - name: a\n    listen: 127.0.0.1:7007\n    program: /bin/cat\n");
  REQUIRE(mkfifo(dir.Path("conf.d/b.yaml").c_str(), 0600) == 0);
  HangGuard guard;
  SystemHost host;
  LoadResult result = LoadConfigFile(dir.Path("main.yaml"), host);
  REQUIRE(result.problems.size() == 1);
  CHECK(result.problems[0].where.file == dir.Path("conf.d/b.yaml"));
  CHECK(result.problems[0].message.find("not a regular file") != std::string::npos);
}

TEST_CASE("a main config file that is a FIFO is refused, not waited on") {
  ScratchDir dir("host");
  REQUIRE(mkfifo(dir.Path("main.yaml").c_str(), 0600) == 0);
  HangGuard guard;
  SystemHost host;
  LoadResult result = LoadConfigFile(dir.Path("main.yaml"), host);
  REQUIRE(result.problems.size() == 1);
  CHECK(result.problems[0].message.find("not a regular file") != std::string::npos);
}

}  // namespace
}  // namespace yinetd::config
