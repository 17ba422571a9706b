#include "net/listener.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

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

// True if a process listens on the unix socket at `sa`. Runs on the loop
// thread during a reload, so the probe is non-blocking: a unix connect
// completes at once or fails at once, and a listener whose backlog is full
// (one that never accepts) answers EAGAIN, which still means "in use",
// where a blocking connect would wait for it forever.
bool UnixSocketAnswers(const SockAddr& sa) {
  UniqueFd probe(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!probe) return false;
  if (RetryOnEintr([&] { return connect(probe.Get(), sa.Get(), sa.length); }) == 0) return true;
  return errno == EAGAIN || errno == EINPROGRESS;
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

void SetFlag(int fd, int level, int name, bool on, const Address& address, const char* what) {
  if (on) SetOption(fd, level, name, kOn, address, what);
}

// The options set before bind: they decide what bind may do.
void SetInetOptions(int fd, const Address& address, const ListenOptions& options) {
  SetFlag(fd, SOL_SOCKET, SO_REUSEPORT, options.reuseport, address, "SO_REUSEPORT");
  SetFlag(fd, SOL_IP, IP_FREEBIND, options.freebind, address, "IP_FREEBIND");
  SetFlag(fd, SOL_SOCKET, SO_KEEPALIVE, options.keepalive, address, "SO_KEEPALIVE");
  if (options.type == SOCK_STREAM) {
    SetFlag(fd, IPPROTO_TCP, TCP_NODELAY, options.nodelay, address, "TCP_NODELAY");
  }
  const std::string& device = options.bind_interface;
  if (!device.empty() &&
      setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, device.c_str(), static_cast<socklen_t>(device.size())) != 0) {
    throw SysError("setsockopt SO_BINDTODEVICE " + device + " on " + address.ToString(), errno);
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
    bool dual_stack = address.family == Address::Family::kAny && !options.ipv6_only;
    SetOption(fd.Get(), IPPROTO_IPV6, IPV6_V6ONLY, dual_stack ? kOff : kOn, address, "IPV6_V6ONLY");
  }
  SetInetOptions(fd.Get(), address, options);
  if (bind(fd.Get(), sa.Get(), sa.length) != 0) throw SysError("bind " + address.ToString(), errno);
  return fd;
}

// Gives the socket file at `path` its mode and owner. Neither call follows
// a symlink: in a directory others may write to, the file could have been
// swapped for a link to something else since bind.
void SetUnixFileAccess(const Address& address, const ListenOptions& options) {
  const char* path = address.path.c_str();
  if (options.unix_mode && fchmodat(AT_FDCWD, path, *options.unix_mode, AT_SYMLINK_NOFOLLOW) != 0) {
    throw SysError("chmod " + address.ToString(), errno);
  }
  if ((options.unix_owner || options.unix_group) &&
      lchown(path, options.unix_owner.value_or(static_cast<uid_t>(-1)),
             options.unix_group.value_or(static_cast<gid_t>(-1))) != 0) {
    throw SysError("chown " + address.ToString(), errno);
  }
}

UniqueFd BindUnix(const Address& address, const ListenOptions& options) {
  SockAddr sa = ToSockAddr(address);
  RemoveStaleUnixSocket(address, sa);
  UniqueFd fd = NewSocket(AF_UNIX, address, options);
  // Linux's bind creates the file with the socket inode's mode less the
  // umask (unix_bind, net/unix/af_unix.c): set that mode first, so the
  // file is never reachable by more than `unix_mode` allows, not even
  // between bind and a chmod. The umask is left alone: it is the whole
  // process's, shared by every thread and inherited by every child.
  if (options.unix_mode && fchmod(fd.Get(), *options.unix_mode) != 0) {
    throw SysError("fchmod socket for " + address.ToString(), errno);
  }
  if (bind(fd.Get(), sa.Get(), sa.length) != 0) throw SysError("bind " + address.ToString(), errno);
  struct stat st;
  bool born_right = options.unix_mode && lstat(address.path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) &&
                    (st.st_mode & 07777) == *options.unix_mode;
  // Only a umask that took bits away, or an owner to set, needs a change
  // by path; it never widens the mode beyond `unix_mode`.
  ListenOptions rest = options;
  if (born_right) rest.unix_mode.reset();
  SetUnixFileAccess(address, rest);
  return fd;
}

}  // namespace

UniqueFd OpenListener(const Address& address, const ListenOptions& options) {
  UniqueFd fd = address.IsInet() ? BindInet(address, options) : BindUnix(address, options);
  if (options.type != SOCK_STREAM) return fd;
  if (listen(fd.Get(), options.backlog) != 0) throw SysError("listen " + address.ToString(), errno);
  return fd;
}

std::optional<SocketFile> SocketFileAt(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return std::nullopt;
  return SocketFile{st.st_dev, st.st_ino};
}

void RemoveSocketFile(const std::string& path, const std::optional<SocketFile>& bound) {
  if (bound && SocketFileAt(path) == bound) unlink(path.c_str());
}

void UpdateListener(int fd, const Address& address, const ListenOptions& had, const ListenOptions& wants) {
  if (address.IsInet()) {
    if (wants.bind_interface != had.bind_interface) {
      // An empty name unbinds (socket(7)).
      const std::string& device = wants.bind_interface;
      if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, device.c_str(), static_cast<socklen_t>(device.size())) != 0) {
        throw SysError("setsockopt SO_BINDTODEVICE " + (device.empty() ? "(none)" : device) + " on " +
                       address.ToString(), errno);
      }
    }
    if (wants.keepalive != had.keepalive) {
      SetOption(fd, SOL_SOCKET, SO_KEEPALIVE, wants.keepalive ? kOn : kOff, address, "SO_KEEPALIVE");
    }
    if (wants.type == SOCK_STREAM && wants.nodelay != had.nodelay) {
      SetOption(fd, IPPROTO_TCP, TCP_NODELAY, wants.nodelay ? kOn : kOff, address, "TCP_NODELAY");
    }
  } else if (wants.unix_mode != had.unix_mode || wants.unix_owner != had.unix_owner ||
             wants.unix_group != had.unix_group) {
    SetUnixFileAccess(address, wants);
  }
  if (wants.nonblocking != had.nonblocking) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, wants.nonblocking ? flags | O_NONBLOCK : flags & ~O_NONBLOCK) != 0) {
      throw SysError("fcntl O_NONBLOCK on " + address.ToString(), errno);
    }
  }
  // listen() again on a listening socket changes only its backlog.
  if (wants.type == SOCK_STREAM && wants.backlog != had.backlog && listen(fd, wants.backlog) != 0) {
    throw SysError("listen " + address.ToString(), errno);
  }
}

std::optional<int> SomaxConn() {
  FILE* file = fopen("/proc/sys/net/core/somaxconn", "re");
  if (file == nullptr) return std::nullopt;
  int value = 0;
  bool read = fscanf(file, "%d", &value) == 1;
  fclose(file);
  if (!read) return std::nullopt;
  return value;
}

std::optional<PeerCredentials> PeerCredentialsOf(int fd) {
  ucred credentials{};
  socklen_t length = sizeof credentials;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) return std::nullopt;
  return PeerCredentials{credentials.pid, credentials.uid, credentials.gid};
}

Endpoint LocalEndpoint(int fd) {
  SockAddr sa;
  sa.length = sizeof sa.storage;
  if (getsockname(fd, sa.Get(), &sa.length) != 0) return Endpoint{};
  return ToEndpoint(sa.Get(), sa.length);
}

}  // namespace yinetd::net
