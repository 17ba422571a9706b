#include "sandbox/cgroup.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scratch_dir.h"
#include "sys/sys_error.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace yinetd::sandbox {
namespace {

// A temporary directory standing in for a delegated cgroup v2 tree: the
// files the kernel would make are plain files here.
struct FakeTree {
  testing::ScratchDir dir{"cgroup"};
  const std::string root = dir.Path();
  std::string Read(const std::string& relative) const {
    std::ifstream in(root + "/" + relative);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }
  void Write(const std::string& relative, const std::string& text) const {
    std::ofstream(root + "/" + relative) << text;
  }
};

TEST_CASE("cpu.max is a quota of a 100 ms period") {
  CHECK(CpuMaxValue(50) == "50000 100000");
  CHECK(CpuMaxValue(100) == "100000 100000");
  CHECK(CpuMaxValue(250) == "250000 100000");
  CHECK(CpuMaxValue(1) == "1000 100000");
}

TEST_CASE("flat-keyed files") {
  const char* events = "low 0\nhigh 3\nmax 7\noom 2\noom_kill 1\noom_group_kill 0\n";
  CHECK(FlatKeyedValue(events, "oom_kill") == 1u);
  CHECK(FlatKeyedValue(events, "oom") == 2u);
  CHECK(FlatKeyedValue(events, "max") == 7u);
  CHECK_FALSE(FlatKeyedValue(events, "om"));
  CHECK_FALSE(FlatKeyedValue("oom_kill x\n", "oom_kill"));
  CHECK_FALSE(FlatKeyedValue("", "oom_kill"));
}

TEST_CASE("adopting the tree moves us into a leaf and hands the controllers to the children") {
  FakeTree tree;
  CgroupTree cgroups(tree.root, 4242);
  CHECK(tree.Read("supervisor/cgroup.procs") == "4242");
  CHECK(tree.Read("cgroup.subtree_control") == "+memory +pids +cpu");
}

TEST_CASE("a service's group carries its limits, and a reload that drops one lifts it") {
  FakeTree tree;
  CgroupTree cgroups(tree.root, 1);
  config::SandboxConfig sandbox;
  sandbox.memory_max = 256ULL << 20;
  sandbox.tasks_max = 64;
  sandbox.cpu_max_percent = 50;
  UniqueFd dir = cgroups.PrepareService("notes", sandbox);
  CHECK(dir.Valid());
  CHECK(tree.Read("service.notes/memory.max") == "268435456");
  CHECK(tree.Read("service.notes/pids.max") == "64");
  CHECK(tree.Read("service.notes/cpu.max") == "50000 100000");
  sandbox.memory_max.reset();
  sandbox.cpu_max_percent.reset();
  cgroups.PrepareService("notes", sandbox);
  CHECK(tree.Read("service.notes/memory.max") == "max");
  CHECK(tree.Read("service.notes/pids.max") == "64");
  CHECK(tree.Read("service.notes/cpu.max") == "max 100000");
}

TEST_CASE("killing a group writes cgroup.kill through its fd; usage reads the peak and the OOM kills") {
  FakeTree tree;
  CgroupTree cgroups(tree.root, 1);
  UniqueFd group = cgroups.PrepareService("notes", config::SandboxConfig{});
  // The kernel makes cgroup.kill; the fake tree has it only once written.
  CHECK_FALSE(KillGroup(group.Get()));
  tree.Write("service.notes/cgroup.kill", "");
  CHECK(KillGroup(group.Get()));
  CHECK(tree.Read("service.notes/cgroup.kill") == "1");
  CHECK_FALSE(ReadUsage(group.Get()).memory_peak);  // a kernel before 5.19
  CHECK_FALSE(ReadUsage(group.Get()).oom_kills);
  tree.Write("service.notes/memory.peak", "1048576\n");
  tree.Write("service.notes/memory.events", "low 0\nhigh 0\nmax 4\noom 2\noom_kill 2\n");
  CgroupUsage usage = ReadUsage(group.Get());
  CHECK(usage.memory_peak == 1048576u);
  CHECK(usage.oom_kills == 2u);
}

TEST_CASE("a tree we may not write is a startup error naming the file") {
  if (geteuid() == 0) {
    // root writes anywhere: make the leaf a file so that mkdir fails.
    FakeTree tree;
    tree.Write("supervisor", "");
    CHECK_THROWS_WITH_AS(CgroupTree(tree.root + "/supervisor/x", 1), doctest::Contains("mkdir"), yinetd::SysError);
    return;
  }
  FakeTree tree;
  chmod(tree.root.c_str(), 0500);
  CHECK_THROWS_AS(CgroupTree(tree.root, 1), yinetd::SysError);
  chmod(tree.root.c_str(), 0700);
}

}  // namespace
}  // namespace yinetd::sandbox
