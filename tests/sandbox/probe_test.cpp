#include "sandbox/probe.h"

#include <doctest/doctest.h>

#include "sandbox/sandbox.h"

namespace yinetd::sandbox {
namespace {

TEST_CASE("the cgroup v2 mount is found in mountinfo, hybrid or unified") {
  const char* hybrid =
      "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
      "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
      "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
  CHECK(CgroupV2Mount(hybrid) == "/sys/fs/cgroup/unified");
  CHECK(CgroupV2Mount("30 23 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n") ==
        "/sys/fs/cgroup");
  CHECK(CgroupV2Mount("35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n") == "");
  CHECK(CgroupV2Mount("") == "");
}

TEST_CASE("our cgroup v2 path is the 0:: line") {
  CHECK(CgroupV2Path("4:memory:/x\n0::/system.slice/yinetd.service\n") == "/system.slice/yinetd.service");
  CHECK(CgroupV2Path("4:memory:/x\n") == "");
}

TEST_CASE("the mechanisms the kernel offers, as event=start says them") {
  CHECK(OfferedMechanisms(config::KernelSupport{}) == "none");
  CHECK(OfferedMechanisms(config::KernelSupport{3, true, false, "", "why"}) == "landlock,seccomp");
  CHECK(OfferedMechanisms(config::KernelSupport{1, true, true, "/sys/fs/cgroup/y", ""}) ==
        "landlock,seccomp,namespaces,cgroup");
}

TEST_CASE("this machine's kernel, as probed") {
  config::KernelSupport kernel = ProbeKernel();
  MESSAGE("landlock ABI " << kernel.landlock_abi << ", seccomp " << kernel.seccomp << ", namespaces "
                          << kernel.namespaces << ", cgroup " << (kernel.cgroup_root.empty() ? kernel.cgroup_why_not
                                                                                             : kernel.cgroup_root));
  CHECK(kernel.landlock_abi == LandlockAbi());
  // Either a tree or the reason there is none, with what to enable.
  CHECK(kernel.cgroup_root.empty() != kernel.cgroup_why_not.empty());
  if (kernel.cgroup_root.empty()) CHECK(kernel.cgroup_why_not.find("Delegate=yes") != std::string::npos);
  CHECK(IsSystemCall("read"));
  CHECK_FALSE(IsSystemCall("frobnicate"));
}

}  // namespace
}  // namespace yinetd::sandbox
