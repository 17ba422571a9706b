// Test helper for protocol tcp, mode wait: accepts three clients itself on
// the listening socket it was given as fd 0, tells each "pid=PID n=N", and
// exits.
#include <sys/socket.h>
#include <unistd.h>

#include <string>

int main() {
  for (int n = 1; n <= 3; ++n) {
    int client = accept(0, nullptr, nullptr);
    if (client < 0) return 1;
    std::string line = "pid=" + std::to_string(getpid()) + " n=" + std::to_string(n) + "\n";
    if (write(client, line.data(), line.size()) < 0) return 1;
    close(client);
  }
  return 0;
}
