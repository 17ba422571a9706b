#include "builtin/builtin.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

namespace yinetd::builtin {
namespace {

// Everything below runs in a forked child: async-signal-safe calls only,
// no allocation.

constexpr size_t kChargenLineLength = 74;  // 72 characters + CRLF
constexpr size_t kChargenDatagramLines = 6;  // 444 bytes: RFC 864 allows up to 512
constexpr int64_t kSecondsFrom1900To1970 = 2208988800;

// False once the peer is gone. MSG_NOSIGNAL: a closed peer ends the
// service quietly instead of killing it with SIGPIPE.
bool SendAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// Bytes read, 0 at end of stream or on error.
ssize_t ReadSome(int fd, char* buf, size_t size) {
  for (;;) {
    ssize_t n = read(fd, buf, size);
    if (n < 0 && errno == EINTR) continue;
    return n < 0 ? 0 : n;
  }
}

void EchoStream(int fd, std::string_view) {
  char buf[16384];
  while (ssize_t n = ReadSome(fd, buf, sizeof buf)) {
    if (!SendAll(fd, buf, static_cast<size_t>(n))) return;
  }
}

void DiscardStream(int fd, std::string_view) {
  char buf[16384];
  while (ReadSome(fd, buf, sizeof buf) > 0) {
  }
}

void ChargenStream(int fd, std::string_view) {
  char line[kChargenLineLength];
  for (size_t i = 0;; ++i) {
    ChargenLine(i, line);
    if (!SendAll(fd, line, sizeof line)) return;
  }
}

void DaytimeStream(int fd, std::string_view) {
  char text[32];
  SendAll(fd, text, FormatDaytime(time(nullptr), text));
}

void TimeStream(int fd, std::string_view) {
  uint32_t value = htonl(Rfc868Time(time(nullptr)));
  SendAll(fd, reinterpret_cast<const char*>(&value), sizeof value);
}

// Answers each datagram waiting on `fd`: `answer` gets the datagram and a
// scratch buffer and returns the reply to send its sender; a reply with no
// data pointer (a default string_view) sends nothing.
template <typename Answer>
void ForEachDatagram(int fd, Answer answer) {
  char buf[65536];
  char scratch[1024];
  for (;;) {
    sockaddr_storage peer;
    socklen_t peer_length = sizeof peer;
    ssize_t n = recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&peer),
                         &peer_length);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return;  // EAGAIN: nothing left
    if (IsStormSource(reinterpret_cast<sockaddr*>(&peer), peer_length)) continue;
    std::string_view reply = answer(std::string_view(buf, static_cast<size_t>(n)), scratch);
    if (reply.data() == nullptr) continue;
    sendto(fd, reply.data(), reply.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&peer), peer_length);
  }
}

void EchoDatagram(int fd) {
  ForEachDatagram(fd, [](std::string_view datagram, char*) { return datagram; });
}

void DiscardDatagram(int fd) {
  ForEachDatagram(fd, [](std::string_view, char*) { return std::string_view(); });
}

void ChargenDatagram(int fd) {
  ForEachDatagram(fd, [](std::string_view, char* scratch) {
    for (size_t i = 0; i < kChargenDatagramLines; ++i) ChargenLine(i, scratch + i * kChargenLineLength);
    return std::string_view(scratch, kChargenDatagramLines * kChargenLineLength);
  });
}

void DaytimeDatagram(int fd) {
  ForEachDatagram(fd, [](std::string_view, char* scratch) {
    return std::string_view(scratch, FormatDaytime(time(nullptr), scratch));
  });
}

void TimeDatagram(int fd) {
  ForEachDatagram(fd, [](std::string_view, char* scratch) {
    uint32_t value = htonl(Rfc868Time(time(nullptr)));
    for (size_t i = 0; i < sizeof value; ++i) scratch[i] = reinterpret_cast<const char*>(&value)[i];
    return std::string_view(scratch, sizeof value);
  });
}

// How much of a request head the metrics builtin reads: a scraper sends a
// few hundred bytes.
constexpr size_t kRequestHeadMax = 8192;

int64_t MonotonicMs() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1'000'000;
}

// Waits for `events` on `fd` until `deadline` (MonotonicMs); false if the
// time ran out first.
bool WaitUntil(int fd, short events, int64_t deadline) {
  for (;;) {
    int64_t left = deadline - MonotonicMs();
    if (left <= 0) return false;
    pollfd ready{fd, events, 0};
    int polled = poll(&ready, 1, static_cast<int>(left));
    if (polled < 0 && errno == EINTR) continue;
    return polled == 1;
  }
}

bool EndsHead(std::string_view received) {
  return received.find("\r\n\r\n") != std::string_view::npos ||
         received.find("\n\n") != std::string_view::npos;
}

// Reads up to the blank line that ends a request head: its length, 0 if
// the client left or the deadline passed, -1 if it sent more than fits.
ssize_t ReadRequestHead(int fd, char* buf, size_t size, int64_t deadline) {
  size_t n = 0;
  while (n < size) {
    if (!WaitUntil(fd, POLLIN, deadline)) return 0;
    ssize_t got = ReadSome(fd, buf + n, size - n);
    if (got == 0) return 0;
    n += static_cast<size_t>(got);
    if (EndsHead(std::string_view(buf, n))) return static_cast<ssize_t>(n);
  }
  return -1;
}

// SendAll with a deadline: a client that does not read is not waited for
// past it.
bool SendBefore(int fd, const char* data, size_t size, int64_t deadline) {
  while (size > 0) {
    ssize_t n = send(fd, data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!WaitUntil(fd, POLLOUT, deadline)) return false;
      continue;
    }
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    default: return "Bad Request";
  }
}

size_t Append(char* out, size_t n, std::string_view text) {
  for (char c : text) out[n++] = c;
  return n;
}

// `value` in decimal at out + n; returns the new length. Safe after fork.
size_t AppendDecimal(char* out, size_t n, uint64_t value) {
  char digits[20];
  size_t d = 0;
  do {
    digits[d++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value > 0);
  while (d > 0) out[n++] = digits[--d];
  return n;
}

void MetricsStream(int fd, std::string_view prepared) { ServeMetrics(fd, prepared, kMetricsExchangeMs); }

constexpr Builtin kBuiltins[] = {
    {"echo", "RFC 862", EchoStream, EchoDatagram},
    {"discard", "RFC 863", DiscardStream, DiscardDatagram},
    {"chargen", "RFC 864", ChargenStream, ChargenDatagram},
    {"daytime", "RFC 867", DaytimeStream, DaytimeDatagram},
    {"time", "RFC 868", TimeStream, TimeDatagram},
    {"metrics", "Prometheus text format 0.0.4 over HTTP/1.0", MetricsStream, nullptr, true},
};

void PutTwoDigits(char* out, int value, char pad_tens) {
  out[0] = value >= 10 ? static_cast<char>('0' + value / 10) : pad_tens;
  out[1] = static_cast<char>('0' + value % 10);
}

}  // namespace

const Builtin* Find(std::string_view name) {
  for (const Builtin& builtin : kBuiltins) {
    if (builtin.name == name) return &builtin;
  }
  return nullptr;
}

std::vector<std::string_view> Names() {
  std::vector<std::string_view> names;
  for (const Builtin& builtin : kBuiltins) names.push_back(builtin.name);
  return names;
}

uint32_t Rfc868Time(int64_t unix_time) {
  return static_cast<uint32_t>(static_cast<uint64_t>(unix_time + kSecondsFrom1900To1970));
}

size_t FormatDaytime(int64_t unix_time, char* out) {
  static constexpr char kDays[] = "SunMonTueWedThuFriSat";
  static constexpr char kMonths[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  int64_t days = unix_time / 86400;
  int64_t seconds = unix_time % 86400;
  if (seconds < 0) {
    seconds += 86400;
    --days;
  }
  int weekday = static_cast<int>(((days + 4) % 7 + 7) % 7);  // 1970-01-01 was a Thursday
  // Days → civil date, counting eras of 400 years from 0000-03-01, so
  // that the leap day is the last day of each counted year.
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t day_of_era = z - era * 146097;
  int64_t year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  int64_t shifted_month = (5 * day_of_year + 2) / 153;  // 0 = March
  int day = static_cast<int>(day_of_year - (153 * shifted_month + 2) / 5 + 1);
  int month = static_cast<int>(shifted_month < 10 ? shifted_month + 3 : shifted_month - 9);
  int64_t year = year_of_era + era * 400 + (month <= 2 ? 1 : 0);

  size_t n = 0;
  for (int i = 0; i < 3; ++i) out[n++] = kDays[weekday * 3 + i];
  out[n++] = ' ';
  for (int i = 0; i < 3; ++i) out[n++] = kMonths[(month - 1) * 3 + i];
  out[n++] = ' ';
  PutTwoDigits(out + n, day, ' ');
  n += 2;
  out[n++] = ' ';
  int clock[3] = {static_cast<int>(seconds / 3600), static_cast<int>(seconds / 60 % 60),
                  static_cast<int>(seconds % 60)};
  for (int i = 0; i < 3; ++i) {
    PutTwoDigits(out + n, clock[i], '0');
    n += 2;
    out[n++] = i < 2 ? ':' : ' ';
  }
  n = AppendDecimal(out, n, static_cast<uint64_t>(year < 0 ? 0 : year));
  out[n++] = '\r';
  out[n++] = '\n';
  return n;
}

void ServeMetrics(int fd, std::string_view prepared, int exchange_ms) {
  int64_t deadline = MonotonicMs() + exchange_ms;
  char request[kRequestHeadMax];
  ssize_t received = ReadRequestHead(fd, request, sizeof request, deadline);
  if (received == 0) return;
  HttpAnswer answer = received < 0 ? HttpAnswer{} : AnswerHttp(std::string_view(request, static_cast<size_t>(received)));
  // An error's body is its reason phrase and a newline, sent in two parts.
  std::string_view body = answer.status == 200 ? prepared : ReasonPhrase(answer.status);
  size_t body_size = answer.status == 200 ? body.size() : body.size() + 1;
  char head[kHttpHeadMax];
  if (!SendBefore(fd, head, FormatHttpHead(answer.status, body_size, head), deadline)) return;
  if (answer.with_body) {
    if (!SendBefore(fd, body.data(), body.size(), deadline)) return;
    if (answer.status != 200 && !SendBefore(fd, "\n", 1, deadline)) return;
  }
  // Close our side, then give the client a moment to close first: closing
  // with its bytes unread would reset the connection and could lose the
  // reply. A moment, and a few KiB: no more.
  shutdown(fd, SHUT_WR);
  int64_t linger_until = std::min(deadline, MonotonicMs() + 1000);
  char drain[512];
  for (int i = 0; i < 16 && WaitUntil(fd, POLLIN, linger_until); ++i) {
    if (ReadSome(fd, drain, sizeof drain) == 0) return;
  }
}

HttpAnswer AnswerHttp(std::string_view request_head) {
  std::string_view line = request_head.substr(0, request_head.find('\n'));
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  size_t first_space = line.find(' ');
  size_t last_space = line.rfind(' ');
  if (first_space == std::string_view::npos || last_space == first_space) return HttpAnswer{};
  std::string_view method = line.substr(0, first_space);
  std::string_view target = line.substr(first_space + 1, last_space - first_space - 1);
  std::string_view version = line.substr(last_space + 1);
  if (method.empty() || target.empty() || version.substr(0, 5) != "HTTP/") return HttpAnswer{};
  if (method != "GET" && method != "HEAD") return HttpAnswer{405, true};
  std::string_view path = target.substr(0, target.find('?'));
  if (path != "/" && path != "/metrics") return HttpAnswer{404, method == "GET"};
  return HttpAnswer{200, method == "GET"};
}

size_t FormatHttpHead(int status, size_t body_size, char* out) {
  size_t n = AppendDecimal(out, Append(out, 0, "HTTP/1.0 "), static_cast<uint64_t>(status));
  out[n++] = ' ';
  n = Append(out, n, ReasonPhrase(status));
  n = Append(out, n, status == 200 ? "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8"
                                    : "\r\nContent-Type: text/plain; charset=utf-8");
  if (status == 405) n = Append(out, n, "\r\nAllow: GET, HEAD");
  n = AppendDecimal(out, Append(out, n, "\r\nContent-Length: "), body_size);
  return Append(out, n, "\r\nConnection: close\r\n\r\n");
}

namespace {

bool IsBadIpv4Source(uint32_t host_order) {
  uint32_t first_octet = host_order >> 24;
  return first_octet == 0 || host_order == INADDR_BROADCAST || IN_MULTICAST(host_order);
}

}  // namespace

bool IsStormSource(const sockaddr* peer, socklen_t length) {
  uint16_t port = 0;
  if (peer->sa_family == AF_INET && length >= sizeof(sockaddr_in)) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(peer);
    if (IsBadIpv4Source(ntohl(v4->sin_addr.s_addr))) return true;
    port = ntohs(v4->sin_port);
  } else if (peer->sa_family == AF_INET6 && length >= sizeof(sockaddr_in6)) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(peer);
    const in6_addr& address = v6->sin6_addr;
    if (IN6_IS_ADDR_MULTICAST(&address) || IN6_IS_ADDR_UNSPECIFIED(&address)) return true;
    if (IN6_IS_ADDR_V4MAPPED(&address)) {
      uint32_t v4;
      std::memcpy(&v4, &address.s6_addr[12], sizeof v4);
      if (IsBadIpv4Source(ntohl(v4))) return true;
    }
    port = ntohs(v6->sin6_port);
  } else {
    return true;  // not an IP sender: nothing to answer
  }
  return port < kLowestAnsweredPort || port == kNfsPort;
}

void ChargenLine(size_t index, char* out) {
  constexpr int kFirst = ' ', kCount = 95;  // the printable ASCII characters
  for (size_t i = 0; i < 72; ++i) out[i] = static_cast<char>(kFirst + (index + i) % kCount);
  out[72] = '\r';
  out[73] = '\n';
}

}  // namespace yinetd::builtin
