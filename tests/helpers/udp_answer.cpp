// Test helper for protocol udp (mode wait): reads one datagram from the
// socket on fd 0 and answers its sender with "pid=PID proto=PROTO got=DATA",
// then exits, so the next datagram needs a new process.
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

int main() {
  char buf[2048];
  sockaddr_storage peer;
  socklen_t peer_length = sizeof peer;
  ssize_t n = recvfrom(0, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&peer), &peer_length);
  if (n < 0) return 1;
  const char* proto = std::getenv("PROTO");
  std::string reply = "pid=" + std::to_string(getpid()) + " proto=" + (proto ? proto : "") +
                      " got=" + std::string(buf, static_cast<size_t>(n));
  sendto(1, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&peer), peer_length);
  return 0;
}
