// spawn_limit: how many programs per second this machine can start at all.
//
// Starts the same program in a loop, with no network: fork+exec+wait, and
// posix_spawn+wait (glibc's is a clone(CLONE_VM|CLONE_VFORK)), in one and
// in two worker processes. The program's stdout goes to /dev/null. No
// superserver can start programs faster than this, so it is the ceiling the
// benchmark compares against. Prints a table on stderr and one JSON line
// per case on stdout.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

enum class Method { kForkExec, kPosixSpawn };

const char* MethodName(Method method) { return method == Method::kForkExec ? "fork_exec" : "posix_spawn"; }

// Starts `program` once with stdout on `null_fd`; returns its pid or -1.
pid_t StartOnce(Method method, const char* program, int null_fd) {
  char* argv[] = {const_cast<char*>(program), nullptr};
  if (method == Method::kPosixSpawn) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, null_fd, 1);
    pid_t pid = -1;
    int err = posix_spawn(&pid, program, &actions, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    return err == 0 ? pid : -1;
  }
  pid_t pid = fork();
  if (pid == 0) {
    dup2(null_fd, 1);
    execve(program, argv, environ);
    _exit(127);
  }
  return pid;
}

// One worker: spawns and waits until the deadline; returns the count of
// children that exited 0, or -1 on a failure.
long Worker(Method method, const char* program, Clock::time_point deadline) {
  int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (null_fd < 0) return -1;
  long count = 0;
  while (Clock::now() < deadline) {
    pid_t pid = StartOnce(method, program, null_fd);
    if (pid < 0) return -1;
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
    ++count;
  }
  close(null_fd);
  return count;
}

// Runs `workers` worker processes in parallel; returns spawns per second.
double Measure(Method method, const char* program, int workers, double seconds) {
  Clock::time_point begin = Clock::now();
  Clock::time_point deadline = begin + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(seconds));
  std::vector<std::pair<pid_t, int>> running;  // pid, read end of its result pipe
  for (int w = 0; w < workers; ++w) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
      long count = Worker(method, program, deadline);
      [[maybe_unused]] ssize_t n = write(fds[1], &count, sizeof count);
      _exit(0);
    }
    close(fds[1]);
    running.emplace_back(pid, fds[0]);
  }
  long total = 0;
  bool failed = false;
  for (auto [pid, fd] : running) {
    long count = -1;
    if (read(fd, &count, sizeof count) != sizeof count || count < 0) failed = true;
    total += count;
    close(fd);
    waitpid(pid, nullptr, 0);
  }
  double elapsed = std::chrono::duration<double>(Clock::now() - begin).count();
  return failed ? -1 : static_cast<double>(total) / elapsed;
}

}  // namespace

int main(int argc, char** argv) {
  std::string program;
  double seconds = 2.0;
  std::vector<int> worker_counts{1, 2};
  CLI::App app{"spawn_limit: programs started per second, no network"};
  app.add_option("program", program, "the program to start (absolute path)")->required()->check(CLI::ExistingFile);
  app.add_option("-d,--duration", seconds, "seconds per case")->capture_default_str()->check(CLI::Range(0.05, 120.0));
  app.add_option("-w,--workers", worker_counts, "worker counts to try")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  int status = 0;
  for (Method method : {Method::kForkExec, Method::kPosixSpawn}) {
    for (int workers : worker_counts) {
      double rate = Measure(method, program.c_str(), workers, seconds);
      if (rate < 0) {
        std::fprintf(stderr, "spawn_limit: %s with %d worker(s) failed\n", MethodName(method), workers);
        status = 1;
        continue;
      }
      std::fprintf(stderr, "%-12s workers %d  %9.1f spawns/s\n", MethodName(method), workers, rate);
      std::printf("{\"method\":\"%s\",\"workers\":%d,\"spawns_per_s\":%.1f}\n", MethodName(method), workers, rate);
      std::fflush(stdout);
    }
  }
  return status;
}
