#include "sandbox/system_call_sets.h"

namespace yinetd::sandbox {
namespace {

// Grouped by what a program does with them. Names this architecture lacks
// (the 32-bit variants, for one) are skipped when the filter is built.
const std::vector<std::string_view> kService = {
    // processes and their ids
    "execve", "execveat", "exit", "exit_group", "fork", "vfork", "clone", "clone3", "wait4", "waitid",
    "getpid", "getppid", "gettid", "getpgid", "setpgid", "getpgrp", "getsid", "setsid",
    "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid", "getgroups",
    "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups",
    "capget", "prctl", "arch_prctl", "set_tid_address", "set_robust_list", "get_robust_list",
    "rseq", "uname", "sysinfo", "getrlimit", "setrlimit", "prlimit64", "getrusage", "times",
    "getpriority", "setpriority", "sched_yield", "sched_getaffinity", "sched_setaffinity",
    "sched_getparam", "sched_getscheduler", "sched_get_priority_max", "sched_get_priority_min",
    "getcpu", "personality", "umask", "ioprio_get", "ioprio_set", "membarrier", "futex",
    "futex_waitv", "get_mempolicy",
    // memory
    "brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "mlock", "munlock", "mincore",
    "msync", "memfd_create", "pkey_alloc", "pkey_free", "pkey_mprotect",
    // signals
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "rt_sigsuspend",
    "rt_sigtimedwait", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "sigaltstack", "kill", "tgkill",
    "tkill", "pidfd_open", "pidfd_send_signal", "pidfd_getfd", "signalfd", "signalfd4", "pause",
    // time
    "clock_gettime", "clock_getres", "clock_nanosleep", "gettimeofday", "time", "nanosleep",
    "alarm", "getitimer", "setitimer", "timer_create", "timer_delete", "timer_gettime",
    "timer_settime", "timer_getoverrun", "timerfd_create", "timerfd_gettime", "timerfd_settime",
    // files
    "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2",
    "pwritev2", "open", "openat", "openat2", "creat", "close", "close_range", "dup", "dup2", "dup3",
    "lseek", "fcntl", "ioctl", "flock", "fsync", "fdatasync", "sync_file_range", "ftruncate",
    "truncate", "fallocate", "fadvise64", "readahead", "sendfile", "splice", "tee",
    "copy_file_range", "stat", "fstat", "lstat", "newfstatat", "statx", "statfs", "fstatfs",
    "access", "faccessat", "faccessat2", "getcwd", "chdir", "fchdir", "getdents", "getdents64",
    "mkdir", "mkdirat", "rmdir", "unlink", "unlinkat", "rename", "renameat", "renameat2", "link",
    "linkat", "symlink", "symlinkat", "readlink", "readlinkat", "chmod", "fchmod", "fchmodat",
    "chown", "fchown", "lchown", "fchownat", "utime", "utimes", "utimensat", "futimesat", "mknod",
    "mknodat", "getxattr", "lgetxattr", "fgetxattr", "listxattr", "llistxattr", "flistxattr",
    "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr",
    "inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch", "pipe", "pipe2",
    "eventfd", "eventfd2", "name_to_handle_at",
    // polling
    "poll", "ppoll", "select", "pselect6", "epoll_create", "epoll_create1", "epoll_ctl",
    "epoll_wait", "epoll_pwait", "epoll_pwait2", "io_setup", "io_destroy", "io_submit",
    "io_getevents", "io_cancel", "io_uring_setup", "io_uring_enter", "io_uring_register",
    // sockets
    "socket", "socketpair", "bind", "listen", "accept", "accept4", "connect", "getsockname",
    "getpeername", "getsockopt", "setsockopt", "shutdown", "sendto", "recvfrom", "sendmsg",
    "recvmsg", "sendmmsg", "recvmmsg",
    // System V and POSIX IPC (private with namespaces: [ipc])
    "shmget", "shmat", "shmdt", "shmctl", "semget", "semop", "semtimedop", "semctl", "msgget",
    "msgsnd", "msgrcv", "msgctl", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive",
    "mq_notify", "mq_getsetattr",
    // randomness and landlock (a program may confine itself further)
    "getrandom", "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self",
    "seccomp",
};

}  // namespace

const std::vector<std::string_view>* SystemCallSet(std::string_view name) {
  if (name == "service") return &kService;
  return nullptr;
}

std::vector<std::string_view> SystemCallSetNames() { return {"service"}; }

}  // namespace yinetd::sandbox
