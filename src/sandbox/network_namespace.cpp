#include "sandbox/network_namespace.h"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>

#include "sys/sys_error.h"

namespace yinetd::sandbox {
namespace {

struct Made {
  UniqueFd ns;
  const char* step = nullptr;
  int err = 0;
};

void BringLoopbackUp(Made& made) {
  UniqueFd sock(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock) {
    made = Made{UniqueFd(), "socket", errno};
    return;
  }
  ifreq request{};
  std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
  if (ioctl(sock.Get(), SIOCGIFFLAGS, &request) != 0) {
    made = Made{UniqueFd(), "SIOCGIFFLAGS lo", errno};
    return;
  }
  request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP);
  if (ioctl(sock.Get(), SIOCSIFFLAGS, &request) != 0) made = Made{UniqueFd(), "SIOCSIFFLAGS lo", errno};
}

// Runs on its own thread, which ends with the namespace it moved into.
void MakeOnThisThread(Made& made) {
  if (unshare(CLONE_NEWNET) != 0) {
    made = Made{UniqueFd(), "unshare CLONE_NEWNET", errno};
    return;
  }
  BringLoopbackUp(made);
  if (made.step != nullptr) return;
  made.ns.Reset(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!made.ns) made = Made{UniqueFd(), "open /proc/thread-self/ns/net", errno};
}

}  // namespace

UniqueFd MakeLoopbackNamespace() {
  Made made;
  std::thread maker(MakeOnThisThread, std::ref(made));
  maker.join();
  if (made.step != nullptr) throw SysError(made.step, made.err);
  return std::move(made.ns);
}

}  // namespace yinetd::sandbox
