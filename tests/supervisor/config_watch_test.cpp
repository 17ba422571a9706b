// ConfigWatch on a real temp directory: inotify queues an event before the
// call that caused it returns, so no test here waits.
#include "supervisor/config_watch.h"

#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "scratch_dir.h"

namespace yinetd::supervisor {
namespace {

namespace fs = std::filesystem;

using testing::ScratchDir;

void Write(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  REQUIRE(out.good());
}

// A ConfigMap volume as the kubelet lays it out: config.yaml ->
// ..data/config.yaml, ..data -> the timestamped directory `stamp`.
void MountConfigMap(const std::string& mount, const std::string& stamp) {
  fs::create_directories(mount + "/" + stamp);
  Write(mount + "/" + stamp + "/config.yaml", "services: []\n");
  fs::create_directory_symlink(stamp, mount + "/..data");
  fs::create_symlink("..data/config.yaml", mount + "/config.yaml");
}

// The kubelet's update: a new directory, a link to it renamed over ..data.
void SwapConfigMap(const std::string& mount, const std::string& stamp) {
  fs::create_directory(mount + "/" + stamp);
  Write(mount + "/" + stamp + "/config.yaml", "services: []\n# new\n");
  fs::create_directory_symlink(stamp, mount + "/..data_tmp");
  fs::rename(mount + "/..data_tmp", mount + "/..data");
}

TEST_CASE("the plan follows a ConfigMap's links to the file they lead to") {
  ScratchDir temp("config-watch");
  MountConfigMap(temp.Path(), "..2026_12_02_a");
  auto plan = ConfigWatch::Plan({temp.Path() + "/config.yaml"}, {});
  REQUIRE(plan.count(temp.Path()));
  CHECK(plan[temp.Path()].names == std::set<std::string>{"config.yaml", "..data"});
  REQUIRE(plan.count(temp.Path() + "/..2026_12_02_a"));
  CHECK(plan[temp.Path() + "/..2026_12_02_a"].names == std::set<std::string>{"config.yaml"});
  CHECK(plan.size() == 2);
}

TEST_CASE("the plan waits for a missing include directory in its nearest existing parent") {
  ScratchDir temp("config-watch");
  auto plan = ConfigWatch::Plan({temp.Path() + "/yinetd.yaml"}, {temp.Path() + "/etc/conf.d"});
  REQUIRE(plan.size() == 1);
  CHECK(plan[temp.Path()].names == std::set<std::string>{"yinetd.yaml", "etc"});
  CHECK_FALSE(plan[temp.Path()].any_yaml);
}

TEST_CASE("the plan ends at a loop of links") {
  ScratchDir temp("config-watch");
  fs::create_symlink("b", temp.Path() + "/a");
  fs::create_symlink("a", temp.Path() + "/b");
  auto plan = ConfigWatch::Plan({temp.Path() + "/a"}, {});
  CHECK(plan[temp.Path()].names == std::set<std::string>{"a", "b"});
}

TEST_CASE("switching a ConfigMap's ..data link is a change, and the new target is watched after it") {
  ScratchDir temp("config-watch");
  MountConfigMap(temp.Path(), "..2026_12_02_a");
  ConfigWatch watch;
  watch.Watch({temp.Path() + "/config.yaml"}, {});
  REQUIRE(watch.Fd() >= 0);
  CHECK_FALSE(watch.Changed());
  SwapConfigMap(temp.Path(), "..2026_12_02_b");
  CHECK(watch.Changed());
  fs::remove_all(temp.Path() + "/..2026_12_02_a");
  watch.Changed();  // the old directory's removal may count; either way it is drained
  // Edited in place behind the new link: seen, so the watch moved along.
  Write(temp.Path() + "/..2026_12_02_b/config.yaml", "services: []\n# edited\n");
  CHECK(watch.Changed());
}

TEST_CASE("an include directory created after the start is a change, and its files are watched after it") {
  ScratchDir temp("config-watch");
  Write(temp.Path() + "/yinetd.yaml", "services: []\n");
  ConfigWatch watch;
  watch.Watch({temp.Path() + "/yinetd.yaml"}, {temp.Path() + "/conf.d"});
  Write(temp.Path() + "/notes.txt", "not config\n");
  CHECK_FALSE(watch.Changed());
  fs::create_directory(temp.Path() + "/conf.d");
  CHECK(watch.Changed());
  Write(temp.Path() + "/conf.d/extra.yaml", "services: []\n");
  CHECK(watch.Changed());
  Write(temp.Path() + "/conf.d/README", "not config\n");
  CHECK_FALSE(watch.Changed());
}

TEST_CASE("an include directory replaced by a new one is a change, and only the new one is watched after it") {
  ScratchDir temp("config-watch");
  Write(temp.Path() + "/yinetd.yaml", "services: []\n");
  fs::create_directory(temp.Path() + "/conf.d");
  ConfigWatch watch;
  watch.Watch({temp.Path() + "/yinetd.yaml"}, {temp.Path() + "/conf.d"});
  fs::create_directory(temp.Path() + "/conf.d.new");
  fs::rename(temp.Path() + "/conf.d", temp.Path() + "/conf.d.old");
  fs::rename(temp.Path() + "/conf.d.new", temp.Path() + "/conf.d");
  CHECK(watch.Changed());
  Write(temp.Path() + "/conf.d.old/stale.yaml", "services: []\n");
  CHECK_FALSE(watch.Changed());
  Write(temp.Path() + "/conf.d/fresh.yaml", "services: []\n");
  CHECK(watch.Changed());
}

TEST_CASE("re-arming keeps events that were already queued") {
  ScratchDir temp("config-watch");
  Write(temp.Path() + "/yinetd.yaml", "services: []\n");
  ConfigWatch watch;
  watch.Watch({temp.Path() + "/yinetd.yaml"}, {});
  Write(temp.Path() + "/yinetd.yaml", "services: []\n# edited\n");
  watch.Watch({temp.Path() + "/yinetd.yaml"}, {});
  CHECK(watch.Changed());
}

}  // namespace
}  // namespace yinetd::supervisor
