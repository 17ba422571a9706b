#include "sandbox/sandbox.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>

#include "sandbox/landlock.h"
#include "sandbox/probe.h"
#include "sandbox/seccomp_filter.h"
#include "sandbox/system_call_sets.h"
#include "sys/sys_error.h"

namespace yinetd::sandbox {
namespace {

// Exit codes of the forked child: which step failed, or what it saw.
constexpr int kEnterFailed = 100, kConfineFailed = 101;

// Forks; the child applies `prepared` as a spawned child does (with fork,
// so the namespaces come from unshare rather than clone flags) and exits
// with `check`'s result. Returns that, or -1 if it died otherwise.
int RunConfined(const Prepared& prepared, const std::function<int()>& check) {
  pid_t pid = fork();
  if (pid == 0) {
    if (prepared.clone_flags != 0 && unshare(prepared.clone_flags & ~CLONE_NEWPID) != 0) _exit(kEnterFailed);
    if (!EnterNamespaces(prepared).Ok()) _exit(kEnterFailed);
    if (!Confine(prepared).Ok()) _exit(kConfineFailed);
    // The raw call: a sanitizer's _exit runs its leak check first, whose
    // calls (sigaltstack, mmap) the filter may deny.
    syscall(SYS_exit_group, check());
    _exit(kConfineFailed);  // not reached
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

const config::KernelSupport& Kernel() {
  static const config::KernelSupport kernel = ProbeKernel();
  return kernel;
}

// True, after saying why, where the tests cannot make namespaces.
bool SkipWithoutNamespaces() {
  if (Kernel().namespaces) return false;
  MESSAGE("skipped: yinetd may not make namespaces here (no CAP_SYS_ADMIN)");
  return true;
}

// Which namespace `path` (a /proc/PID/ns/* link) or `fd` is: its inode.
// Plain calls: the children below use them too.
ino_t NamespaceOf(const char* path) {
  struct stat info;
  return stat(path, &info) == 0 ? info.st_ino : 0;
}
ino_t NamespaceOf(int fd) {
  struct stat info;
  return fstat(fd, &info) == 0 ? info.st_ino : 0;
}

std::string ReadMountTable() {
  std::ifstream in("/proc/self/mountinfo");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteFile(const std::string& path, const char* text) {
  std::ofstream(path) << text;
}

// In the build directory, not /tmp: private_tmp hides /tmp's contents.
std::string TempDir() {
  std::string pattern = std::filesystem::current_path().string() + "/yinetd-sandbox-XXXXXX";
  REQUIRE(mkdtemp(pattern.data()) != nullptr);
  return pattern;
}

TEST_CASE("a denied system call fails with EPERM and the program goes on") {
  if (!Kernel().seccomp) {
    MESSAGE("skipped: this kernel has no seccomp filters");
    return;
  }
  config::SandboxConfig sandbox;
  sandbox.system_calls = std::vector<std::string>{"exit_group", "exit", "getpid", "write", "rt_sigreturn"};
  auto prepared = Prepare("t", sandbox, false, Kernel(), nullptr);
  CHECK(prepared->mechanisms == "seccomp");
  int seen = RunConfined(*prepared, [] {
    errno = 0;
    long uid = syscall(SYS_getuid);  // not listed
    if (uid != -1 || errno != EPERM) return 1;
    return getpid() > 0 ? 0 : 2;     // listed, and we are still running
  });
  CHECK(seen == 0);
}

TEST_CASE("address_families makes socket() of another family fail") {
  if (!Kernel().seccomp) {
    MESSAGE("skipped: this kernel has no seccomp filters");
    return;
  }
  config::SandboxConfig sandbox;
  sandbox.address_families = std::vector<int>{AF_UNIX};
  auto prepared = Prepare("t", sandbox, false, Kernel(), nullptr);
  int seen = RunConfined(*prepared, [] {
    int unix_socket = socket(AF_UNIX, SOCK_STREAM, 0);
    if (unix_socket < 0) return 1;
    errno = 0;
    if (socket(AF_INET, SOCK_STREAM, 0) >= 0 || errno != EAFNOSUPPORT) return 2;
    if (socket(AF_INET6, SOCK_DGRAM, 0) >= 0) return 3;
    if (socket(4096, SOCK_DGRAM, 0) >= 0) return 4;  // beyond every known family
    return 0;
  });
  CHECK(seen == 0);
  // With an allow-list, the other families fail as any unlisted call does.
  sandbox.system_calls = std::vector<std::string>{"exit_group", "socket", "rt_sigreturn"};
  prepared = Prepare("t", sandbox, false, Kernel(), nullptr);
  seen = RunConfined(*prepared, [] {
    if (socket(AF_UNIX, SOCK_STREAM, 0) < 0) return 1;
    errno = 0;
    return socket(AF_INET, SOCK_STREAM, 0) < 0 && errno == EPERM ? 0 : 2;
  });
  CHECK(seen == 0);
}

TEST_CASE("the filter is small: the families above the highest allowed are one range, the calls ranges") {
  config::SandboxConfig sandbox;
  sandbox.address_families = std::vector<int>{AF_UNIX, AF_INET, AF_INET6};
  size_t families_only = CompileSeccompFilter(sandbox).size();
  std::vector<std::string> calls;
  for (std::string_view call : *SystemCallSet("service")) {
    if (IsSystemCall(std::string(call))) calls.emplace_back(call);
  }
  sandbox.system_calls = calls;
  size_t with_calls = CompileSeccompFilter(sandbox).size();
  MESSAGE("instructions: address_families alone " << families_only << ", with a call list " << with_calls);
  // Each family below inet6 that is not allowed costs a few instructions;
  // the ~35 known families above it would cost ~4 each on their own.
  CHECK(families_only < 40);  // 62 when each family above had a rule of its own
  // On x86_64 the program is ours, the calls merged into ranges: 75.
  if (seccomp_arch_native() == SCMP_ARCH_X86_64) CHECK(with_calls < 100);  // libseccomp's: 356
  if (!Kernel().seccomp) return;
  config::SandboxConfig gaps;
  gaps.address_families = std::vector<int>{AF_UNIX, AF_INET6};
  auto prepared = Prepare("t", gaps, false, Kernel(), nullptr);
  int seen = RunConfined(*prepared, [] {
    if (socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0) < 0) return 1;
    for (int family : {0, AF_INET, AF_NETLINK, AF_PACKET, AF_VSOCK, AF_MAX, 4096}) {
      errno = 0;
      if (socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0) >= 0 || errno != EAFNOSUPPORT) return 2;
    }
    return 0;
  });
  CHECK(seen == 0);
}

TEST_CASE("read_only: nothing written but the writable paths") {
  if (Kernel().landlock_abi == 0) {
    MESSAGE("skipped: this kernel has no Landlock");
    return;
  }
  std::string writable = TempDir(), other = TempDir();
  config::SandboxConfig sandbox;
  sandbox.read_only = true;
  sandbox.writable = {writable};
  auto prepared = Prepare("t", sandbox, false, Kernel(), nullptr);
  CHECK(prepared->mechanisms == "landlock");
  int seen = RunConfined(*prepared, [&] {
    if (open((writable + "/ok").c_str(), O_CREAT | O_WRONLY, 0600) < 0) return 1;
    errno = 0;
    if (open((other + "/no").c_str(), O_CREAT | O_WRONLY, 0600) >= 0 || errno != EACCES) return 2;
    if (open("/etc/hostname", O_WRONLY) >= 0) return 3;
    if (open("/etc/hostname", O_RDONLY) < 0) return 4;  // reading goes on
    if (open("/dev/null", O_WRONLY) < 0) return 5;      // and so do devices
    return 0;
  });
  CHECK(seen == 0);
  CHECK(std::filesystem::exists(writable + "/ok"));
  CHECK_FALSE(std::filesystem::exists(other + "/no"));
  std::filesystem::remove_all(writable);
  std::filesystem::remove_all(other);
}

TEST_CASE("the paths Landlock lets a program write") {
  config::SandboxConfig sandbox;
  sandbox.writable = {"/srv/a"};
  CHECK(WritablePaths(sandbox) == std::vector<std::string>{"/srv/a"});
  sandbox.private_tmp = true;
  CHECK(WritablePaths(sandbox) == std::vector<std::string>{"/srv/a", "/tmp", "/var/tmp"});
  CHECK((HandledFsRights(1) & ReadRights()) == ReadRights());
  CHECK(HandledFsRights(3) > HandledFsRights(2));
  CHECK(HandledFsRights(2) > HandledFsRights(1));
}

TEST_CASE("a writable path that does not exist is an error naming it") {
  if (Kernel().landlock_abi == 0) {
    MESSAGE("skipped: this kernel has no Landlock");
    return;
  }
  config::SandboxConfig sandbox;
  sandbox.read_only = true;
  sandbox.writable = {"/nonexistent/yinetd"};
  CHECK_THROWS_WITH(Prepare("t", sandbox, false, Kernel(), nullptr), doctest::Contains("/nonexistent/yinetd"));
}

TEST_CASE("private_tmp and hidden, in a mount namespace of the child's own") {
  if (SkipWithoutNamespaces()) return;
  std::string hidden = TempDir();
  REQUIRE(close(open((hidden + "/secret").c_str(), O_CREAT | O_WRONLY, 0600)) == 0);
  config::SandboxConfig sandbox;
  sandbox.private_tmp = true;
  sandbox.hidden = {hidden};
  auto prepared = Prepare("t", sandbox, false, Kernel(), nullptr);
  CHECK((prepared->clone_flags & CLONE_NEWNS) == 0);  // entered with setns, then copied
  REQUIRE(prepared->mount_namespace.Valid());
  ino_t service_ns = NamespaceOf(prepared->mount_namespace.Get());
  ino_t ours = NamespaceOf("/proc/self/ns/mnt");
  // Twice: the second child's /tmp is empty again, and its namespace its own.
  for (int child = 0; child < 2; ++child) {
    int seen = RunConfined(*prepared, [&] {
      if (access((hidden + "/secret").c_str(), F_OK) == 0) return 1;
      if (open((hidden + "/new").c_str(), O_CREAT | O_WRONLY, 0600) >= 0) return 2;
      if (std::filesystem::directory_iterator("/tmp") != std::filesystem::directory_iterator()) return 3;
      if (open("/tmp/mine", O_CREAT | O_WRONLY, 0600) < 0) return 4;
      ino_t own = NamespaceOf("/proc/self/ns/mnt");
      if (own == service_ns || own == ours) return 5;
      return 0;
    });
    CHECK(seen == 0);
  }
  CHECK(std::filesystem::exists(hidden + "/secret"));  // hidden from the child only
  CHECK_FALSE(std::filesystem::exists("/tmp/mine"));   // its /tmp was its own
  std::filesystem::remove_all(hidden);
}

TEST_CASE("namespaces: [ipc] comes with the clone, alone or beside a mount namespace of the child's own") {
  if (SkipWithoutNamespaces()) return;
  config::SandboxConfig sandbox;
  sandbox.ipc_namespace = true;
  CHECK((Prepare("t", sandbox, false, Kernel(), nullptr)->clone_flags & CLONE_NEWIPC) != 0);
  sandbox.private_tmp = true;
  auto prepared = Prepare("t", sandbox, false, Kernel(), nullptr);
  REQUIRE((prepared->clone_flags & CLONE_NEWIPC) != 0);
  ino_t ours = NamespaceOf("/proc/self/ns/ipc");
  // A queue made in the child's IPC namespace is not in ours.
  int seen = RunConfined(*prepared, [&] {
    if (NamespaceOf("/proc/self/ns/ipc") == ours) return 1;
    return msgget(0x79696e, IPC_CREAT | 0600) >= 0 ? 0 : 2;
  });
  CHECK(seen == 0);
  CHECK(msgget(0x79696e, 0) < 0);
}

TEST_CASE("hidden alone: every child enters the service's one mount namespace, made at load") {
  if (SkipWithoutNamespaces()) return;
  std::string hidden = TempDir();
  WriteFile(hidden + "/secret", "s3cret\n");
  config::SandboxConfig sandbox;
  sandbox.hidden = {hidden};
  auto prepared = Prepare("t", sandbox, false, Kernel(), nullptr);
  CHECK(prepared->clone_flags == 0);
  CHECK(prepared->mechanisms == "namespaces");
  REQUIRE(prepared->mount_namespace.Valid());
  ino_t service_ns = NamespaceOf(prepared->mount_namespace.Get());
  CHECK(service_ns != NamespaceOf("/proc/self/ns/mnt"));
  for (int child = 0; child < 2; ++child) {
    int seen = RunConfined(*prepared, [&] {
      if (NamespaceOf("/proc/self/ns/mnt") != service_ns) return 1;
      return access((hidden + "/secret").c_str(), F_OK) != 0 && errno == ENOENT ? 0 : 2;
    });
    CHECK(seen == 0);
  }
  CHECK(std::filesystem::exists(hidden + "/secret"));  // hidden from the children only
  std::filesystem::remove_all(hidden);
}

TEST_CASE("a hidden path replaced on the host after load is covered again by each child") {
  if (SkipWithoutNamespaces()) return;
  std::string dir = TempDir();
  std::string hidden_dir = dir + "/keys", hidden_file = dir + "/shadow";
  REQUIRE(std::filesystem::create_directory(hidden_dir));
  WriteFile(hidden_dir + "/secret", "old\n");
  WriteFile(hidden_file, "old\n");
  config::SandboxConfig sandbox;
  sandbox.hidden = {hidden_dir, hidden_file};
  auto prepared = Prepare("t", sandbox, false, Kernel(), nullptr);
  // As passwd replaces /etc/shadow: a new file renamed over the old one.
  // The kernel detaches the template's cover from the replaced file, and
  // from the removed directory.
  WriteFile(dir + "/shadow.new", "new\n");
  REQUIRE(rename((dir + "/shadow.new").c_str(), hidden_file.c_str()) == 0);
  std::filesystem::remove_all(hidden_dir);
  REQUIRE(std::filesystem::create_directory(hidden_dir));
  WriteFile(hidden_dir + "/secret", "new\n");
  ino_t service_ns = NamespaceOf(prepared->mount_namespace.Get());
  int seen = RunConfined(*prepared, [&] {
    if (open(hidden_file.c_str(), O_RDONLY | O_CLOEXEC) >= 0 || errno != EACCES) return 1;
    if (access((hidden_dir + "/secret").c_str(), F_OK) == 0) return 2;
    if (NamespaceOf("/proc/self/ns/mnt") == service_ns) return 3;  // covered in a copy of its own
    return 0;
  });
  CHECK(seen == 0);
  std::filesystem::remove_all(dir);
}

TEST_CASE("nothing mounted for a service or its children reaches the host, even where every mount is shared") {
  if (SkipWithoutNamespaces()) return;
  std::string dir = TempDir();
  std::string hidden_dir = dir + "/keys", hidden_file = dir + "/shadow";
  REQUIRE(std::filesystem::create_directory(hidden_dir));
  WriteFile(hidden_file, "s3cret\n");
  pid_t host = fork();
  if (host == 0) {
    // A host of our own whose every mount is shared, as systemd makes
    // them: made private first, so that nothing of ours reaches the real one.
    if (unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        mount(nullptr, "/", nullptr, MS_REC | MS_SHARED, nullptr) != 0) {
      _exit(10);
    }
    std::string before = ReadMountTable();
    config::SandboxConfig sandbox;
    sandbox.private_tmp = true;
    sandbox.hidden = {hidden_dir, hidden_file};
    std::unique_ptr<Prepared> prepared;
    try {
      prepared = Prepare("t", sandbox, false, Kernel(), nullptr);
    } catch (const SysError&) {
      _exit(11);
    }
    if (ReadMountTable() != before) _exit(12);  // the template's covers
    pid_t child = fork();
    if (child == 0) _exit(EnterNamespaces(*prepared).Ok() ? 0 : 1);
    int status = 0;
    if (waitpid(child, &status, 0) != child || status != 0) _exit(13);
    if (ReadMountTable() != before) _exit(14);  // the child's /tmp
    _exit(0);
  }
  int status = 0;
  REQUIRE(waitpid(host, &status, 0) == host);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  std::filesystem::remove_all(dir);
}

TEST_CASE("a hidden path beneath a private /tmp needs no mount of its own") {
  if (!std::filesystem::is_directory("/tmp") || !Kernel().namespaces) return;
  char pattern[] = "/tmp/yinetd-hidden-XXXXXX";
  REQUIRE(mkdtemp(pattern) != nullptr);
  config::SandboxConfig sandbox;
  sandbox.private_tmp = true;
  sandbox.hidden = {pattern, "/etc"};
  auto prepared = Prepare("t", sandbox, false, Kernel(), nullptr);
  CHECK(prepared->hidden == std::vector<std::string>{"/etc"});
  rmdir(pattern);
}

TEST_CASE("a hidden path that does not exist is an error naming it") {
  config::SandboxConfig sandbox;
  sandbox.hidden = {"/nonexistent/yinetd-hidden"};
  CHECK_THROWS_WITH(Prepare("t", sandbox, false, Kernel(), nullptr),
                    doctest::Contains("hidden /nonexistent/yinetd-hidden (must exist)"));
}

TEST_CASE("a hidden file beneath a hidden directory needs no cover of its own") {
  if (!Kernel().namespaces) return;  // Prepare makes the service's mount namespace
  std::string dir = TempDir();
  std::string file = dir + "/key";
  REQUIRE(close(open(file.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600)) == 0);
  config::SandboxConfig sandbox;
  sandbox.hidden = {file, dir};
  auto prepared = Prepare("t", sandbox, false, Kernel(), nullptr);
  CHECK(prepared->hidden == std::vector<std::string>{dir});
  CHECK(prepared->hidden_files.empty());
  std::filesystem::remove_all(dir);
}

TEST_CASE("a hidden file keeps its name but cannot be opened, by root either") {
  if (SkipWithoutNamespaces()) return;
  std::string dir = TempDir();
  std::string secret = dir + "/sshd_config";
  int fd = open(secret.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  REQUIRE(fd >= 0);
  REQUIRE(write(fd, "PermitRootLogin yes\n", 20) == 20);
  close(fd);
  config::SandboxConfig sandbox;
  sandbox.hidden = {secret};
  auto prepared = Prepare("t", sandbox, false, Kernel(), nullptr);
  CHECK(prepared->hidden.empty());
  CHECK(prepared->hidden_files == std::vector<std::string>{secret});
  int seen = RunConfined(*prepared, [&] {
    if (access(secret.c_str(), F_OK) != 0) return 1;  // the name is still there
    if (open(secret.c_str(), O_RDONLY | O_CLOEXEC) >= 0) return 2;
    if (errno != EACCES) return 3;
    if (open(secret.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC) >= 0) return 4;
    if (open((dir + "/other").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600) < 0) return 5;  // its siblings are not
    return 0;
  });
  CHECK(seen == 0);
  CHECK(std::filesystem::file_size(secret) == 20);  // hidden from the child only
  std::filesystem::remove_all(dir);
}

TEST_CASE("private_network: the child sees loopback only, and it is up") {
  if (SkipWithoutNamespaces()) return;
  config::SandboxConfig sandbox;
  sandbox.private_network = true;
  auto prepared = Prepare("t", sandbox, false, Kernel(), nullptr);
  REQUIRE(prepared->network_namespace.Valid());
  int seen = RunConfined(*prepared, [] {
    // Only lo in /sys/class/net would need /sys remounted; ask the kernel.
    int udp = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(9);
    to.sin_addr.s_addr = htonl(0x08080808);  // no route out of an empty namespace
    if (connect(udp, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0) return 1;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(udp, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) return 2;  // lo is up
    return 0;
  });
  CHECK(seen == 0);
}

TEST_CASE("namespaces and dynamic users become clone flags") {
  config::SandboxConfig sandbox;
  sandbox.ipc_namespace = true;
  sandbox.uts_namespace = true;
  auto prepared = Prepare("t", sandbox, false, Kernel(), nullptr);
  CHECK(prepared->clone_flags == (CLONE_NEWIPC | CLONE_NEWUTS));
  CHECK_FALSE(prepared->mount_proc);
  // A dynamic user's connection is the init of its own pid namespace, and
  // keeps the host's /proc: no mount namespace for that alone.
  auto dynamic = Prepare("t", config::SandboxConfig{}, true, Kernel(), nullptr);
  CHECK(dynamic->clone_flags == CLONE_NEWPID);
  CHECK_FALSE(dynamic->mount_proc);
  CHECK(dynamic->mechanisms == "namespaces");
  // Asked for, a pid namespace gets its own /proc, in a copy of the
  // service's mount namespace.
  if (!Kernel().namespaces) return;
  config::SandboxConfig pid;
  pid.pid_namespace = true;
  auto with_pid = Prepare("t", pid, true, Kernel(), nullptr);
  CHECK(with_pid->clone_flags == CLONE_NEWPID);
  CHECK(with_pid->mount_namespace.Valid());
  CHECK(with_pid->mount_proc);
}

}  // namespace
}  // namespace yinetd::sandbox
