#include "sys/signal_pipe.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include "sys/sys_error.h"

namespace yinetd {
namespace {

int g_write_fd = -1;

// What a child must reset before exec: every signal whose disposition is
// not the default. Every signal until a SignalPipe has looked (a spawner
// used without one, as in tests) and again once it is gone; while one
// exists, the signals yinetd inherited ignored and those it set itself.
// Resetting all 64 cost each child 64 system calls (about 70 us on a test
// VM) while the supervisor waited for its exec. Every disposition the
// supervisor changes is changed here, so the set stays true.
sigset_t EverySignal() {
  sigset_t every;
  sigfillset(&every);
  return every;
}
sigset_t g_to_reset = EverySignal();

// Signal handler: async-signal-safe calls only.
void OnSignal(int signo) {
  int saved_errno = errno;
  unsigned char byte = static_cast<unsigned char>(signo);
  // A full pipe means a wake-up is already pending, so dropping is fine.
  [[maybe_unused]] ssize_t n = write(g_write_fd, &byte, 1);
  errno = saved_errno;
}

void SetDisposition(int signo, void (*handler)(int)) {
  struct sigaction action = {};
  action.sa_handler = handler;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  if (sigaction(signo, &action, nullptr) != 0) throw SysError("sigaction", errno);
}

}  // namespace

SignalPipe::SignalPipe(std::initializer_list<int> signals) : signals_(signals) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) throw SysError("pipe2 for signals", errno);
  read_.Reset(fds[0]);
  write_.Reset(fds[1]);
  g_write_fd = write_.Get();
  sigemptyset(&g_to_reset);
  for (int signo = 1; signo < NSIG; ++signo) {
    struct sigaction inherited;
    if (sigaction(signo, nullptr, &inherited) == 0 && inherited.sa_handler != SIG_DFL) {
      sigaddset(&g_to_reset, signo);
    }
  }
  for (int signo : signals_) {
    SetDisposition(signo, OnSignal);
    sigaddset(&g_to_reset, signo);
  }
  // A client that hangs up while we write a refusal must not kill us.
  SetDisposition(SIGPIPE, SIG_IGN);
  sigaddset(&g_to_reset, SIGPIPE);
}

SignalPipe::~SignalPipe() {
  for (int signo : signals_) signal(signo, SIG_DFL);
  signal(SIGPIPE, SIG_DFL);
  g_to_reset = EverySignal();
  g_write_fd = -1;
}

std::vector<int> SignalPipe::Drain() {
  std::vector<int> received;
  unsigned char buf[64];
  for (;;) {
    ssize_t n = RetryOnEintr([&] { return read(read_.Get(), buf, sizeof buf); });
    if (n <= 0) break;  // EAGAIN: drained
    received.insert(received.end(), buf, buf + n);
  }
  return received;
}

void ResetSignalsForChild() {
  // Ignored dispositions (SIGPIPE) survive exec and would surprise the
  // program. Handled ones are reset by exec, but not before: a signal
  // between the unblocking below and exec would run our handler in the
  // child, which writes to the supervisor's pipe.
  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int signo = 1; signo < NSIG; ++signo) {
    if (sigismember(&g_to_reset, signo) == 1) sigaction(signo, &dfl, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
}

}  // namespace yinetd
