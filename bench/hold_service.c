/* The idle-connection benchmark's program: it says it is running (one
 * byte, so the client knows a program holds the connection, not just the
 * kernel's backlog), then reads until the client closes. It costs the
 * supervisor nothing while it waits: that is the point of the benchmark. */
#include <unistd.h>

int main(void) {
  if (write(1, "+", 1) != 1) return 1;
  char buffer[64];
  for (;;) {
    ssize_t n = read(0, buffer, sizeof buffer);
    if (n == 0) return 0;
    if (n < 0) return 1;
  }
}
