#include "spawn/process_controls.h"

#include <doctest/doctest.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <functional>

namespace yinetd::spawn {
namespace {

// Runs `apply` then `check` in a forked child, so that the controls never
// touch the test process; true if both succeeded there.
bool InChild(const std::function<bool()>& apply_and_check) {
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) _exit(apply_and_check() ? 0 : 1);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

bool Applied(const ProcessControls& controls) {
  return ApplyPrivilegedControls(controls).Ok() && ApplyUnprivilegedControls(controls).Ok();
}

TEST_CASE("the defaults only change the directory to /") {
  ProcessControls defaults;
  CHECK(InChild([&] {
    mode_t before = umask(022);
    umask(before);
    int nice_before = getpriority(PRIO_PROCESS, 0);
    char cwd[PATH_MAX];
    return Applied(defaults) && getcwd(cwd, sizeof cwd) && std::strcmp(cwd, "/") == 0 &&
           umask(before) == before && getpriority(PRIO_PROCESS, 0) == nice_before &&
           prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 0;
  }));
}

TEST_CASE("chdir, umask, nice and no_new_privs take effect") {
  ProcessControls controls;
  controls.chdir = "/tmp";
  controls.umask = 027;
  controls.nice = 7;
  controls.no_new_privs = true;
  CHECK(InChild([&] {
    char cwd[PATH_MAX];
    return Applied(controls) && getcwd(cwd, sizeof cwd) && std::strcmp(cwd, "/tmp") == 0 &&
           umask(0) == 027 && getpriority(PRIO_PROCESS, 0) == 7 &&
           prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1;
  }));
}

TEST_CASE("each rlimit is set as both soft and hard limit") {
  ProcessControls controls;
  controls.rlimits = {{RLIMIT_NOFILE, 100}, {RLIMIT_CORE, 0},           {RLIMIT_CPU, 3600},
                      {RLIMIT_FSIZE, 1 << 20}, {RLIMIT_AS, RLIM_INFINITY}, {RLIMIT_NPROC, 5000}};
  CHECK(InChild([&] {
    if (!Applied(controls)) return false;
    for (const ResourceLimit& limit : controls.rlimits) {
      rlimit value;
      getrlimit(static_cast<__rlimit_resource>(limit.resource), &value);
      if (value.rlim_cur != limit.value || value.rlim_max != limit.value) return false;
    }
    return true;
  }));
}

TEST_CASE("a failing step is named with its errno") {
  ProcessControls missing_dir;
  missing_dir.chdir = "/nonexistent/dir";
  CHECK(InChild([&] {
    SysFailure error = ApplyUnprivilegedControls(missing_dir);
    return error.call != nullptr && std::strcmp(error.call, "chdir") == 0 && error.err == ENOENT;
  }));
  ProcessControls bad_limit;
  bad_limit.rlimits = {{RLIMIT_NOFILE, RLIM_INFINITY}};  // above the kernel's nr_open
  CHECK(InChild([&] {
    SysFailure error = ApplyPrivilegedControls(bad_limit);
    return error.call != nullptr && std::strcmp(error.call, "setrlimit nofile") == 0;
  }));
}

TEST_CASE("chroot changes the root and leaves the directory inside it") {
  if (geteuid() != 0) {
    MESSAGE("skipped: chroot needs root");
    return;
  }
  char tmpl[] = "/tmp/yinetd-chroot-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  std::string root = tmpl;
  std::filesystem::create_directory(root + "/inner");
  ProcessControls controls;
  controls.chroot = root;
  controls.chdir = "/inner";
  CHECK(InChild([&] {
    char cwd[PATH_MAX];
    struct stat st;
    return Applied(controls) && getcwd(cwd, sizeof cwd) && std::strcmp(cwd, "/inner") == 0 &&
           stat("/tmp", &st) != 0;  // the real /tmp is outside
  }));
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace yinetd::spawn
