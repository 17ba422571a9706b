#include "net/listener.h"

#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>

#include "sys/sys_error.h"

namespace yinetd::net {
namespace {

constexpr int kOn = 1;
constexpr int kOff = 0;

int SocketType(const ListenOptions& options) {
  return options.type | SOCK_CLOEXEC | (options.nonblocking ? SOCK_NONBLOCK : 0);
}

UniqueFd NewSocket(int family, const Address& address, const ListenOptions& options) {
  UniqueFd fd(socket(family, SocketType(options), 0));
  if (!fd) throw SysError("socket for " + address.ToString(), errno);
  return fd;
}

void SetOption(int fd, int level, int name, const int& value, const Address& address,
               const char* what) {
  if (setsockopt(fd, level, name, &value, sizeof value) != 0) {
    throw SysError(std::string("setsockopt ") + what + " on " + address.ToString(), errno);
  }
}

// True if something accepts connections on the unix socket at `sa`.
bool UnixSocketAnswers(const SockAddr& sa) {
  UniqueFd probe(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!probe) return false;
  return RetryOnEintr([&] { return connect(probe.Get(), sa.Get(), sa.length); }) == 0;
}

void RemoveStaleUnixSocket(const Address& address, const SockAddr& sa) {
  struct stat st;
  if (lstat(address.path.c_str(), &st) != 0) return;  // nothing there
  if (!S_ISSOCK(st.st_mode)) {
    throw SysError("bind " + address.ToString() + " (exists and is not a socket)", EEXIST);
  }
  if (UnixSocketAnswers(sa)) {
    throw SysError("bind " + address.ToString() + " (another process serves it)", EADDRINUSE);
  }
  if (unlink(address.path.c_str()) != 0 && errno != ENOENT) {
    throw SysError("unlink stale socket " + address.path, errno);
  }
}

UniqueFd BindInet(const Address& address, const ListenOptions& options) {
  bool want_v6 = address.family != Address::Family::kIPv4;
  SockAddr sa = ToSockAddr(address, true);
  UniqueFd fd(socket(want_v6 ? AF_INET6 : AF_INET, SocketType(options), 0));
  if (!fd && address.family == Address::Family::kAny && errno == EAFNOSUPPORT) {
    sa = ToSockAddr(address, false);  // a kernel without IPv6
    fd = NewSocket(AF_INET, address, options);
  } else if (!fd) {
    throw SysError("socket for " + address.ToString(), errno);
  }
  SetOption(fd.Get(), SOL_SOCKET, SO_REUSEADDR, kOn, address, "SO_REUSEADDR");
  if (sa.Family() == AF_INET6) {
    const int& v6only = address.family == Address::Family::kAny ? kOff : kOn;
    SetOption(fd.Get(), IPPROTO_IPV6, IPV6_V6ONLY, v6only, address, "IPV6_V6ONLY");
  }
  if (bind(fd.Get(), sa.Get(), sa.length) != 0) throw SysError("bind " + address.ToString(), errno);
  return fd;
}

UniqueFd BindUnix(const Address& address, const ListenOptions& options) {
  SockAddr sa = ToSockAddr(address);
  RemoveStaleUnixSocket(address, sa);
  UniqueFd fd = NewSocket(AF_UNIX, address, options);
  if (bind(fd.Get(), sa.Get(), sa.length) != 0) throw SysError("bind " + address.ToString(), errno);
  return fd;
}

}  // namespace

UniqueFd OpenListener(const Address& address, const ListenOptions& options) {
  UniqueFd fd = address.IsInet() ? BindInet(address, options) : BindUnix(address, options);
  if (options.type != SOCK_STREAM) return fd;
  if (listen(fd.Get(), options.backlog) != 0) throw SysError("listen " + address.ToString(), errno);
  return fd;
}

Endpoint LocalEndpoint(int fd) {
  SockAddr sa;
  sa.length = sizeof sa.storage;
  if (getsockname(fd, sa.Get(), &sa.length) != 0) return Endpoint{};
  return ToEndpoint(sa.Get(), sa.length);
}

}  // namespace yinetd::net
