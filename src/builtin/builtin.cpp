#include "builtin/builtin.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
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

void EchoStream(int fd) {
  char buf[16384];
  while (ssize_t n = ReadSome(fd, buf, sizeof buf)) {
    if (!SendAll(fd, buf, static_cast<size_t>(n))) return;
  }
}

void DiscardStream(int fd) {
  char buf[16384];
  while (ReadSome(fd, buf, sizeof buf) > 0) {
  }
}

void ChargenStream(int fd) {
  char line[kChargenLineLength];
  for (size_t i = 0;; ++i) {
    ChargenLine(i, line);
    if (!SendAll(fd, line, sizeof line)) return;
  }
}

void DaytimeStream(int fd) {
  char text[32];
  SendAll(fd, text, FormatDaytime(time(nullptr), text));
}

void TimeStream(int fd) {
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

constexpr Builtin kBuiltins[] = {
    {"echo", "RFC 862", EchoStream, EchoDatagram},
    {"discard", "RFC 863", DiscardStream, DiscardDatagram},
    {"chargen", "RFC 864", ChargenStream, ChargenDatagram},
    {"daytime", "RFC 867", DaytimeStream, DaytimeDatagram},
    {"time", "RFC 868", TimeStream, TimeDatagram},
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
  char digits[20];
  size_t d = 0;
  for (int64_t y = year < 0 ? 0 : year; d == 0 || y > 0; y /= 10) digits[d++] = static_cast<char>('0' + y % 10);
  while (d > 0) out[n++] = digits[--d];
  out[n++] = '\r';
  out[n++] = '\n';
  return n;
}

void ChargenLine(size_t index, char* out) {
  constexpr int kFirst = ' ', kCount = 95;  // the printable ASCII characters
  for (size_t i = 0; i < 72; ++i) out[i] = static_cast<char>(kFirst + (index + i) % kCount);
  out[72] = '\r';
  out[73] = '\n';
}

}  // namespace yinetd::builtin
