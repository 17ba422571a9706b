#include "tls/front.h"

#include <fcntl.h>
#include <grp.h>
#include <openssl/err.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

#include "tls/identity.h"
#include "tls/outcome.h"

namespace yinetd::tls {
namespace {

int64_t NowMs() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1'000'000;
}

void SetNonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

void WriteOutcome(int fd, const Outcome& outcome) {
  std::string record = FormatOutcome(outcome);
  // Below PIPE_BUF: one write, whole or not at all.
  [[maybe_unused]] ssize_t written = write(fd, record.data(), record.size());
  close(fd);
}

// One word per kind of failure: the metric's `reason` label, so the set
// must stay small. OpenSSL's own text goes to the log as `detail`.
std::string FailureReason(int ssl_error, unsigned long code) {
  if (ssl_error == SSL_ERROR_SYSCALL || ssl_error == SSL_ERROR_ZERO_RETURN) return "client_closed";
  if (ERR_GET_LIB(code) != ERR_LIB_SSL) return "protocol_error";
  int reason = ERR_GET_REASON(code);
  switch (reason) {
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE: return "no_client_cert";
    case SSL_R_CERTIFICATE_VERIFY_FAILED: return "bad_client_cert";
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_UNSUPPORTED_SSL_VERSION:
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION: return "protocol_version";
    case SSL_R_NO_SHARED_CIPHER: return "no_shared_cipher";
    case SSL_R_NO_APPLICATION_PROTOCOL: return "no_alpn";
    case SSL_R_HTTP_REQUEST:
    case SSL_R_HTTPS_PROXY_REQUEST:
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_UNKNOWN_PROTOCOL: return "not_tls";
    default: break;
  }
  // An alert the client sent us: it refused our certificate, say.
  if (reason >= SSL_AD_REASON_OFFSET && reason < SSL_AD_REASON_OFFSET + 256) return "client_alert";
  return "protocol_error";
}

[[noreturn]] void FailHandshake(int outcome_fd, std::string reason, std::string detail) {
  Outcome outcome;
  outcome.failure = std::move(reason);
  outcome.detail = std::move(detail);
  WriteOutcome(outcome_fd, outcome);
  _exit(kHandshakeFailedStatus);
}

// Waits for `fd` to be ready for `events` until `deadline_ms`; false once
// it has passed.
bool WaitUntil(int fd, short events, int64_t deadline_ms) {
  for (;;) {
    int64_t left = deadline_ms - NowMs();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    int ready = poll(&p, 1, static_cast<int>(left));
    if (ready > 0) return true;
    if (ready < 0 && errno != EINTR) return true;  // let the next SSL call find the error
  }
}

// The handshake, bounded as a whole by the service's handshake_timeout: a
// client that trickles bytes gains no time by it.
void Handshake(SSL* ssl, int fd, const FrontSpec& spec) {
  int64_t deadline = NowMs() + spec.context->Config().handshake_timeout.count();
  for (;;) {
    ERR_clear_error();
    int result = SSL_accept(ssl);
    if (result == 1) return;
    int error = SSL_get_error(ssl, result);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
      if (!WaitUntil(fd, error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) {
        FailHandshake(spec.outcome_fd, "handshake_timeout", "");
      }
      continue;
    }
    unsigned long code = ERR_peek_last_error();
    const char* text = code != 0 ? ERR_reason_error_string(code) : nullptr;
    FailHandshake(spec.outcome_fd, FailureReason(error, code), text != nullptr ? text : "");
  }
}

std::string KtlsText(SSL* ssl) {
  bool send = BIO_get_ktls_send(SSL_get_wbio(ssl)) > 0;
  bool recv = BIO_get_ktls_recv(SSL_get_rbio(ssl)) > 0;
  if (send && recv) return "send+recv";
  if (send) return "send";
  if (recv) return "recv";
  return "off";
}

// The front's privileges once the program runs: the service's user, if it
// has one, and never ptrace-able or readable through /proc by the program
// (it holds the service's private key in memory).
void DropPrivileges(const spawn::Credentials* credentials) {
  if (credentials != nullptr) {
    bool ok = setgroups(credentials->groups.size(), credentials->groups.data()) == 0 &&
              setgid(credentials->gid) == 0 && (!credentials->set_uid || setuid(credentials->uid) == 0);
    if (!ok) _exit(kHandshakeFailedStatus);  // the program runs unattended: end it with us
  }
  prctl(PR_SET_DUMPABLE, 0);
}

// Copies between the TLS connection and the program's socket until both
// directions are closed. Everything is non-blocking; each pass does all it
// can, then polls for what the stalled operations wait for.
class Pump {
 public:
  Pump(SSL* ssl, int tls_fd, int plain_fd) : ssl_(ssl), tls_fd_(tls_fd), plain_fd_(plain_fd) {}

  void Run() {
    while (!(up_.done && down_.done)) {
      if (Step()) continue;
      Wait();
    }
  }

 private:
  struct Direction {
    char buffer[16384];
    size_t length = 0;
    size_t offset = 0;
    bool eof = false;   // the source is closed
    bool done = false;  // the sink was told
  };

  // True if anything moved.
  bool Step() {
    bool moved = ReadClient();
    moved |= WriteProgram();
    moved |= ReadProgram();
    moved |= WriteClient();
    return moved;
  }

  bool ReadClient() {
    if (up_.eof || up_.length > 0) return false;
    ERR_clear_error();
    int n = SSL_read(ssl_, up_.buffer, sizeof up_.buffer);
    if (n > 0) {
      up_.length = static_cast<size_t>(n);
      up_.offset = 0;
      return true;
    }
    int error = SSL_get_error(ssl_, n);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
      up_wants_ = error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
      return false;
    }
    // close_notify, a bare EOF or a broken stream: the program's stdin ends.
    up_.eof = true;
    if (error != SSL_ERROR_ZERO_RETURN) client_broken_ = true;
    return true;
  }

  bool WriteProgram() {
    if (up_.length > 0) {
      ssize_t n = send(plain_fd_, up_.buffer + up_.offset, up_.length - up_.offset, MSG_NOSIGNAL);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return false;
      if (n < 0) {
        // The program closed its stdin: what the client sends is dropped.
        up_.length = 0;
        up_.eof = true;
        return true;
      }
      up_.offset += static_cast<size_t>(n);
      if (up_.offset == up_.length) up_.length = 0;
      return true;
    }
    if (up_.eof && !up_.done) {
      shutdown(plain_fd_, SHUT_WR);
      up_.done = true;
      return true;
    }
    return false;
  }

  bool ReadProgram() {
    if (down_.eof || down_.length > 0) return false;
    ssize_t n = read(plain_fd_, down_.buffer, sizeof down_.buffer);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return false;
    if (n <= 0) {
      down_.eof = true;
      return true;
    }
    down_.length = static_cast<size_t>(n);
    down_.offset = 0;
    return true;
  }

  bool WriteClient() {
    if (down_.length > 0) {
      if (client_broken_) {
        down_.length = 0;  // nobody to send it to
        return true;
      }
      ERR_clear_error();
      int n = SSL_write(ssl_, down_.buffer + down_.offset, static_cast<int>(down_.length - down_.offset));
      if (n > 0) {
        down_.offset += static_cast<size_t>(n);
        if (down_.offset == down_.length) down_.length = 0;
        return true;
      }
      int error = SSL_get_error(ssl_, n);
      if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
        down_wants_ = error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
        return false;
      }
      // The client is gone: nothing more can reach it, and nothing more
      // will come from it.
      client_broken_ = true;
      down_.length = 0;
      up_.eof = true;
      return true;
    }
    if (down_.eof && !down_.done) return CloseClient();
    return false;
  }

  // The program closed its stdout: close_notify, then a TCP half-close, so
  // the client may go on sending.
  bool CloseClient() {
    if (!client_broken_) {
      ERR_clear_error();
      int result = SSL_shutdown(ssl_);
      if (result < 0) {
        int error = SSL_get_error(ssl_, result);
        if (error == SSL_ERROR_WANT_WRITE || error == SSL_ERROR_WANT_READ) {
          down_wants_ = error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
          return false;
        }
      }
    }
    shutdown(tls_fd_, SHUT_WR);
    down_.done = true;
    return true;
  }

  void Wait() {
    pollfd fds[2] = {{tls_fd_, 0, 0}, {plain_fd_, 0, 0}};
    if (!up_.eof && up_.length == 0) fds[0].events |= up_wants_;
    if (up_.length > 0) fds[1].events |= POLLOUT;
    if (!down_.eof && down_.length == 0) fds[1].events |= POLLIN;
    if (down_.length > 0 || (down_.eof && !down_.done)) fds[0].events |= down_wants_;
    up_wants_ = POLLIN;
    down_wants_ = POLLOUT;
    // Errors and hang-ups are reported whatever the events: the next Step
    // finds them through its calls.
    while (poll(fds, 2, -1) < 0 && errno == EINTR) {
    }
    // Both directions of the program's socket are closed (it exited): an
    // idle client would otherwise hold us here, and the connection, forever.
    if ((fds[1].revents & POLLHUP) != 0 && !up_.eof) {
      up_.eof = true;
      up_.length = 0;
    }
  }

  SSL* ssl_;
  int tls_fd_;
  int plain_fd_;
  Direction up_;    // client → program
  Direction down_;  // program → client
  short up_wants_ = POLLIN;
  short down_wants_ = POLLOUT;
  bool client_broken_ = false;
};

[[noreturn]] void ExitLike(int wait_status) {
  if (WIFSIGNALED(wait_status)) {
    int signo = WTERMSIG(wait_status);
    signal(signo, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, signo);
    sigprocmask(SIG_UNBLOCK, &set, nullptr);
    raise(signo);
  }
  _exit(WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : kHandshakeFailedStatus);
}

// One string per NAME=value, and the NULL-terminated array execve takes.
struct Environment {
  std::vector<std::string> strings;
  std::vector<char*> pointers;
};

Environment BuildEnvironment(char* const* envp, const Identity& identity) {
  std::vector<std::string> base;
  for (char* const* entry = envp; *entry != nullptr; ++entry) base.emplace_back(*entry);
  Environment env{WithTlsEnv(base, identity), {}};
  for (std::string& entry : env.strings) env.pointers.push_back(entry.data());
  env.pointers.push_back(nullptr);
  return env;
}

}  // namespace

void RunFront(const FrontSpec& spec, int connection_fd, char* const* envp, const spawn::Credentials* credentials,
              const StartProgram& start) {
  // Writing to a client that is gone must fail, not kill us; the program's
  // own child undoes this (spawn's ResetSignalsForChild).
  signal(SIGPIPE, SIG_IGN);
  SetNonBlocking(connection_fd);
  SSL* ssl = SSL_new(spec.context->Get());
  if (ssl == nullptr || SSL_set_fd(ssl, connection_fd) != 1) FailHandshake(spec.outcome_fd, "protocol_error", "SSL_new");
  Handshake(ssl, connection_fd, spec);
  Identity identity = Identify(ssl);
  const config::TlsConfig& config = spec.context->Config();
  if (!AllowedClient(config.allow_client, identity)) {
    SSL_shutdown(ssl);
    FailHandshake(spec.outcome_fd, "client_not_allowed", identity.subject);
  }
  Outcome outcome;
  outcome.version = ShortVersion(identity.protocol);
  outcome.cipher = identity.cipher;
  outcome.client = identity.subject;
  outcome.ktls = KtlsText(ssl);
  WriteOutcome(spec.outcome_fd, outcome);  // closed now: the program never has it

  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) _exit(kHandshakeFailedStatus);
  Environment env = BuildEnvironment(envp, identity);
  pid_t program = start(pair[1], env.pointers.data());
  close(pair[1]);
  if (program < 0) _exit(kHandshakeFailedStatus);
  DropPrivileges(credentials);
  SetNonBlocking(pair[0]);
  Pump(ssl, connection_fd, pair[0]).Run();
  close(pair[0]);
  int status = 0;
  while (waitpid(program, &status, 0) < 0 && errno == EINTR) {
  }
  ExitLike(status);
}

}  // namespace yinetd::tls
