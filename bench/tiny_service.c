/* The benchmark's common workload: one fixed short reply, then exit.
 * No libc start-up work beyond the minimum, no reading: the cost measured
 * is the superserver's (accept, fork, exec, reap), not the program's. */
#include <unistd.h>

static const char kReply[] = "hello from tiny\n";

int main(void) {
  ssize_t n = write(1, kReply, sizeof kReply - 1);
  return n == (ssize_t)(sizeof kReply - 1) ? 0 : 1;
}
