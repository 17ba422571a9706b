// tls_loadgen: TLS connections per second, or bulk throughput, against
// 127.0.0.1:PORT. Each of `concurrency` threads connects, does a full
// handshake (no session resumption: each connection pays for its own),
// reads the reply until the server closes, and starts over, for `duration`
// seconds. With --bulk-mib it instead sends that many MiB once through an
// echoing server (cat) while reading them back, and reports MiB/s.
// Prints one JSON line. Every socket has a timeout: nothing waits forever.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

int Connect(int port, int timeout_ms) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// One connection: handshake, read until the server closes; true if the
// reply was `expect` (any reply when empty).
bool OneConnection(SSL_CTX* ctx, int port, int timeout_ms, const std::string& expect) {
  int fd = Connect(port, timeout_ms);
  if (fd < 0) return false;
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  bool ok = SSL_connect(ssl) == 1;
  std::string reply;
  char buffer[4096];
  while (ok) {
    int n = SSL_read(ssl, buffer, sizeof buffer);
    if (n <= 0) break;
    reply.append(buffer, static_cast<size_t>(n));
  }
  if (ok) SSL_shutdown(ssl);
  SSL_free(ssl);
  close(fd);
  return ok && (expect.empty() || reply == expect);
}

std::string Unescape(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] == 'n') {
      out += '\n';
      ++i;
    } else {
      out += text[i];
    }
  }
  return out;
}

int Bulk(SSL_CTX* ctx, int port, int timeout_ms, int mib, const std::string& label) {
  int fd = Connect(port, timeout_ms);
  if (fd < 0) return 1;
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  if (SSL_connect(ssl) != 1) return 1;
  size_t total = static_cast<size_t>(mib) << 20;
  Clock::time_point start = Clock::now();
  // Another thread writes while this one reads: cat answers as we send.
  std::thread writer([&] {
    std::vector<char> chunk(65536, 'x');
    size_t sent = 0;
    while (sent < total) {
      int n = SSL_write(ssl, chunk.data(), static_cast<int>(std::min(chunk.size(), total - sent)));
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
  });
  size_t received = 0;
  char buffer[65536];
  while (received < total) {
    int n = SSL_read(ssl, buffer, sizeof buffer);
    if (n <= 0) break;
    received += static_cast<size_t>(n);
  }
  writer.join();
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("{\"label\":\"%s\",\"bulk_mib\":%d,\"received\":%zu,\"seconds\":%.3f,\"mib_per_s\":%.1f}\n",
              label.c_str(), mib, received, seconds, static_cast<double>(received) / (1 << 20) / seconds);
  SSL_free(ssl);
  close(fd);
  return received == total ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0, concurrency = 1, timeout_ms = 5000, bulk_mib = 0;
  double duration = 2;
  std::string expect, label;
  CLI::App app{"tls_loadgen: TLS connections per second against 127.0.0.1:PORT"};
  app.add_option("-p,--port", port, "TCP port on 127.0.0.1")->required()->check(CLI::Range(1, 65535));
  app.add_option("-c,--concurrency", concurrency, "connections in flight")->check(CLI::Range(1, 1024));
  app.add_option("-d,--duration", duration, "seconds to start new connections")->check(CLI::Range(0.01, 600.0));
  app.add_option("-e,--expect", expect, "the exact reply (\\n escapes); empty: any");
  app.add_option("--timeout-ms", timeout_ms, "per socket operation")->check(CLI::Range(1, 600000));
  app.add_option("--bulk-mib", bulk_mib, "send this many MiB through an echoing server instead");
  app.add_option("--label", label, "a name copied into the output");
  CLI11_PARSE(app, argc, argv);
  signal(SIGPIPE, SIG_IGN);
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  if (bulk_mib > 0) return Bulk(ctx, port, timeout_ms, bulk_mib, label);
  std::string reply = Unescape(expect);
  std::atomic<long> ok{0}, failed{0};
  Clock::time_point start = Clock::now();
  Clock::time_point stop = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(duration));
  std::vector<std::thread> threads;
  for (int i = 0; i < concurrency; ++i) {
    threads.emplace_back([&] {
      while (Clock::now() < stop) {
        (OneConnection(ctx, port, timeout_ms, reply) ? ok : failed)++;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("{\"label\":\"%s\",\"concurrency\":%d,\"ok\":%ld,\"failed\":%ld,\"seconds\":%.3f,\"conn_per_s\":%.1f}\n",
              label.c_str(), concurrency, ok.load(), failed.load(), seconds, static_cast<double>(ok.load()) / seconds);
  SSL_CTX_free(ctx);
  return 0;
}
