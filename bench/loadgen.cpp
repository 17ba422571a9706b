// loadgen: a connection-rate load generator for superservers.
//
// Keeps `concurrency` connections in flight on 127.0.0.1:PORT for a bounded
// time (or a bounded count). Each connection: non-blocking connect, send the
// payload if any (after a PROXY v2 header with --proxy-v2), read until EOF, compare the reply with --expect, close.
// One epoll loop, one thread. Prints connections/s, latency percentiles and
// errors by kind as a table on stderr and as one JSON line on stdout.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int port = 0;
  int concurrency = 1;
  double duration_s = 2.0;
  long max_connections = 0;  // 0: as many as fit in the duration
  std::string expect;        // empty: any reply is right
  std::string payload;
  int timeout_ms = 5000;     // per connection
  std::string label;
};

enum class ErrorKind { kRefused, kReset, kTimeout, kWrongReply, kOther, kCount };
constexpr const char* kErrorNames[] = {"refused", "reset", "timeout", "wrong_reply", "other"};

struct Slot {
  int fd = -1;
  bool connected = false;
  size_t sent = 0;
  std::string reply;
  Clock::time_point started;
};

struct Stats {
  long ok = 0;
  long errors[static_cast<int>(ErrorKind::kCount)] = {};
  std::vector<uint32_t> latency_us;
  long Errors() const {
    long total = 0;
    for (long e : errors) total += e;
    return total;
  }
};

class LoadGen {
 public:
  explicit LoadGen(const Options& options) : options_(options), slots_(options.concurrency) {}

  bool Run() {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0) return Fail("epoll_create1");
    begin_ = Clock::now();
    stop_starting_ = begin_ + std::chrono::duration_cast<Clock::duration>(
                                  std::chrono::duration<double>(options_.duration_s));
    for (size_t i = 0; i < slots_.size(); ++i) StartNext(i);
    std::vector<epoll_event> events(slots_.size() + 1);
    // Bounded: no connection starts after stop_starting_, and each one
    // ends by its timeout at the latest.
    while (in_flight_ > 0) {
      int n = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), 10);
      if (n < 0 && errno != EINTR) return Fail("epoll_wait");
      for (int i = 0; i < n; ++i) OnEvent(events[i].data.u32, events[i].events);
      ExpireTimeouts();
    }
    elapsed_s_ = std::chrono::duration<double>(Clock::now() - begin_).count();
    close(epoll_);
    return true;
  }

  const Stats& stats() const { return stats_; }
  double elapsed_s() const { return elapsed_s_; }

 private:
  bool Fail(const char* call) {
    std::fprintf(stderr, "loadgen: %s: %s\n", call, std::strerror(errno));
    return false;
  }

  bool MayStart() const {
    if (options_.max_connections > 0 && started_ >= options_.max_connections) return false;
    return Clock::now() < stop_starting_;
  }

  void StartNext(size_t index) {
    // A connection that fails at once is counted and the slot retried; the
    // count bound keeps a refusing server from spinning us forever.
    while (MayStart()) {
      if (Start(index)) return;
    }
  }

  // True when the connection is in flight.
  bool Start(size_t index) {
    Slot& slot = slots_[index];
    ++started_;
    slot = Slot{};
    slot.started = Clock::now();
    slot.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (slot.fd < 0) {
      Record(ErrorKind::kOther);
      return false;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(options_.port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(slot.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS) {
      Finish(index, errno == ECONNREFUSED ? ErrorKind::kRefused : ErrorKind::kOther, false);
      return false;
    }
    epoll_event ev{};
    ev.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP;
    ev.data.u32 = static_cast<uint32_t>(index);
    if (epoll_ctl(epoll_, EPOLL_CTL_ADD, slot.fd, &ev) != 0) {
      Finish(index, ErrorKind::kOther, false);
      return false;
    }
    ++in_flight_;
    return true;
  }

  void OnEvent(size_t index, uint32_t events) {
    Slot& slot = slots_[index];
    if (slot.fd < 0) return;
    if (!slot.connected) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(slot.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) return End(index, Classify(err));
      if ((events & (EPOLLOUT | EPOLLIN)) == 0) return;
      slot.connected = true;
      if (options_.payload.empty()) Watch(index, EPOLLIN | EPOLLRDHUP);
    }
    if (slot.sent < options_.payload.size() && (events & EPOLLOUT)) {
      ssize_t n = send(slot.fd, options_.payload.data() + slot.sent, options_.payload.size() - slot.sent,
                       MSG_NOSIGNAL);
      if (n < 0 && errno != EAGAIN) return End(index, Classify(errno));
      if (n > 0) slot.sent += static_cast<size_t>(n);
      if (slot.sent == options_.payload.size()) Watch(index, EPOLLIN | EPOLLRDHUP);
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) ReadReply(index);
  }

  void ReadReply(size_t index) {
    Slot& slot = slots_[index];
    char buf[4096];
    for (int round = 0; round < 64; ++round) {
      ssize_t n = recv(slot.fd, buf, sizeof buf, 0);
      if (n > 0) {
        slot.reply.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0) {
        bool right = options_.expect.empty() || slot.reply == options_.expect;
        return right ? End(index, std::nullopt) : End(index, ErrorKind::kWrongReply);
      }
      if (errno == EAGAIN || errno == EINTR) return;
      return End(index, Classify(errno));
    }
  }

  void Watch(size_t index, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u32 = static_cast<uint32_t>(index);
    epoll_ctl(epoll_, EPOLL_CTL_MOD, slots_[index].fd, &ev);
  }

  static ErrorKind Classify(int err) {
    if (err == ECONNREFUSED) return ErrorKind::kRefused;
    if (err == ECONNRESET || err == EPIPE) return ErrorKind::kReset;
    if (err == ETIMEDOUT) return ErrorKind::kTimeout;
    return ErrorKind::kOther;
  }

  void ExpireTimeouts() {
    Clock::time_point now = Clock::now();
    auto timeout = std::chrono::milliseconds(options_.timeout_ms);
    for (size_t i = 0; i < slots_.size(); ++i) {
      if (slots_[i].fd >= 0 && now - slots_[i].started > timeout) End(i, ErrorKind::kTimeout);
    }
  }

  // Ends an in-flight connection and starts the slot's next one.
  void End(size_t index, std::optional<ErrorKind> error) {
    --in_flight_;
    Finish(index, error, true);
    StartNext(index);
  }

  void Finish(size_t index, std::optional<ErrorKind> error, bool registered) {
    Slot& slot = slots_[index];
    if (registered) epoll_ctl(epoll_, EPOLL_CTL_DEL, slot.fd, nullptr);
    close(slot.fd);
    slot.fd = -1;
    if (error) {
      Record(*error);
      return;
    }
    ++stats_.ok;
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - slot.started).count();
    stats_.latency_us.push_back(static_cast<uint32_t>(std::min<int64_t>(us, UINT32_MAX)));
  }

  void Record(ErrorKind kind) { ++stats_.errors[static_cast<int>(kind)]; }

  const Options& options_;
  std::vector<Slot> slots_;
  Stats stats_;
  int epoll_ = -1;
  long started_ = 0;
  long in_flight_ = 0;
  Clock::time_point begin_;
  Clock::time_point stop_starting_;
  double elapsed_s_ = 0;
};

uint32_t Percentile(const std::vector<uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(rank, sorted.size() - 1)];
}

void Report(const Options& options, const LoadGen& gen) {
  Stats stats = gen.stats();
  std::sort(stats.latency_us.begin(), stats.latency_us.end());
  double rate = gen.elapsed_s() > 0 ? static_cast<double>(stats.ok) / gen.elapsed_s() : 0;
  uint32_t p50 = Percentile(stats.latency_us, 0.50);
  uint32_t p90 = Percentile(stats.latency_us, 0.90);
  uint32_t p99 = Percentile(stats.latency_us, 0.99);
  uint32_t max = stats.latency_us.empty() ? 0 : stats.latency_us.back();

  std::fprintf(stderr, "%-14s %s\n", "label", options.label.c_str());
  std::fprintf(stderr, "%-14s %d\n", "concurrency", options.concurrency);
  std::fprintf(stderr, "%-14s %ld in %.3f s\n", "connections", stats.ok, gen.elapsed_s());
  std::fprintf(stderr, "%-14s %.1f\n", "conn/s", rate);
  std::fprintf(stderr, "%-14s p50 %u  p90 %u  p99 %u  max %u\n", "latency (us)", p50, p90, p99, max);
  std::fprintf(stderr, "%-14s", "errors");
  for (int k = 0; k < static_cast<int>(ErrorKind::kCount); ++k) {
    std::fprintf(stderr, " %s %ld", kErrorNames[k], stats.errors[k]);
  }
  std::fprintf(stderr, "\n");

  std::printf("{\"label\":\"%s\",\"port\":%d,\"concurrency\":%d,\"connections\":%ld,\"elapsed_s\":%.4f,"
              "\"conn_per_s\":%.1f,\"p50_us\":%u,\"p90_us\":%u,\"p99_us\":%u,\"max_us\":%u,"
              "\"errors\":{",
              options.label.c_str(), options.port, options.concurrency, stats.ok, gen.elapsed_s(), rate, p50,
              p90, p99, max);
  for (int k = 0; k < static_cast<int>(ErrorKind::kCount); ++k) {
    std::printf("%s\"%s\":%ld", k ? "," : "", kErrorNames[k], stats.errors[k]);
  }
  std::printf("},\"errors_total\":%ld}\n", stats.Errors());
}

// Decodes \n, \r, \t and \\ so replies and payloads fit on a command line.
std::string Unescape(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\' || i + 1 == text.size()) {
      out += text[i];
      continue;
    }
    char c = text[++i];
    out += c == 'n' ? '\n' : c == 'r' ? '\r' : c == 't' ? '\t' : c;
  }
  return out;
}

// A PROXY protocol v2 header for TCP over IPv4 from 192.0.2.7:40000 to
// 127.0.0.1:PORT, as a load balancer would send before the client's bytes.
std::string ProxyV2Header(int port) {
  std::string header("\r\n\r\n\0\r\nQUIT\n", 12);
  header += {'\x21', '\x11', '\x00', '\x0c'};  // PROXY, TCP over IPv4, 12 bytes
  header += {'\xc0', '\x00', '\x02', '\x07', '\x7f', '\x00', '\x00', '\x01'};
  header += {'\x9c', '\x40', static_cast<char>(port >> 8), static_cast<char>(port & 0xff)};
  return header;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  bool fail_on_error = false;
  CLI::App app{"loadgen: connections per second against 127.0.0.1:PORT"};
  app.add_option("-p,--port", options.port, "TCP port on 127.0.0.1")->required()->check(CLI::Range(1, 65535));
  app.add_option("-c,--concurrency", options.concurrency, "connections in flight")
      ->capture_default_str()->check(CLI::Range(1, 4096));
  app.add_option("-d,--duration", options.duration_s, "seconds to start new connections")
      ->capture_default_str()->check(CLI::Range(0.01, 600.0));
  app.add_option("-n,--max-connections", options.max_connections, "stop after this many (0: no limit)")
      ->capture_default_str();
  app.add_option("-e,--expect", options.expect, "the exact reply (\\n escapes); empty: any");
  app.add_option("--payload", options.payload, "bytes to send first (\\n escapes)");
  app.add_option("--timeout-ms", options.timeout_ms, "per connection")->capture_default_str()
      ->check(CLI::Range(1, 600000));
  app.add_option("--label", options.label, "a name copied into the output");
  app.add_flag("--fail-on-error", fail_on_error, "exit 1 if any connection failed");
  bool proxy_v2 = false;
  app.add_flag("--proxy-v2", proxy_v2, "send a PROXY protocol v2 header before the payload");
  CLI11_PARSE(app, argc, argv);
  options.expect = Unescape(options.expect);
  options.payload = Unescape(options.payload);
  if (proxy_v2) options.payload = ProxyV2Header(options.port) + options.payload;

  LoadGen gen(options);
  if (!gen.Run()) return 2;
  Report(options, gen);
  bool failed = gen.stats().Errors() > 0 || gen.stats().ok == 0;
  return fail_on_error && failed ? 1 : 0;
}
