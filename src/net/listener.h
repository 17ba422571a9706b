// Opening listening sockets.
//
// Every socket is created non-blocking and close-on-exec. Binding is kept
// apart from serving (as s6-tcpserver-socketbinder is apart from
// s6-tcpserverd), so the supervisor only ever sees ready descriptors.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <optional>
#include <string>

#include "net/address.h"
#include "sys/unique_fd.h"

namespace yinetd::net {

struct ListenOptions {
  int backlog = 1024;
  int type = SOCK_STREAM;  // SOCK_DGRAM: bound, and not listening
  // False for wait mode: the program gets the socket itself and expects
  // blocking calls; yinetd then only polls it, never reads or accepts.
  bool nonblocking = true;
  bool ipv6_only = false;      // a bare port: one IPv6-only socket, no IPv4
  bool keepalive = false;      // SO_KEEPALIVE, inherited by accepted sockets
  bool nodelay = false;        // TCP_NODELAY, inherited by accepted sockets
  bool reuseport = false;      // SO_REUSEPORT
  bool freebind = false;       // IP_FREEBIND
  std::string bind_interface;  // SO_BINDTODEVICE; "": any
  // unix: sockets only. The file is created with unix_mode (never a wider
  // mode first); owner and group are set right after bind.
  std::optional<mode_t> unix_mode;
  std::optional<uid_t> unix_owner;
  std::optional<gid_t> unix_group;
};

// Binds and (for streams) listens on `address`. A bare port gets one IPv6 socket that also
// takes IPv4 (IPV6_V6ONLY off), or an IPv4 one where the kernel has no IPv6.
// A unix socket file left by a dead process is replaced; one that still
// answers is an error. Throws SysError naming the call and the address.
UniqueFd OpenListener(const Address& address, const ListenOptions& options);

// The file a unix socket's bind made at its path. Told apart by inode
// from whatever is there later: once ours was removed, another process may
// have bound its own socket at the path, and that one must stay.
struct SocketFile {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const SocketFile&) const = default;
};

// The file at `path` now (lstat: a link is not followed); nullopt if none.
std::optional<SocketFile> SocketFileAt(const std::string& path);

// Removes `path` if it is still the file `bound`; nothing when `bound` is
// unset.
void RemoveSocketFile(const std::string& path, const std::optional<SocketFile>& bound);

// Changes the options of an open listener that a bound socket can change:
// keepalive, nodelay, bind_interface, blocking mode, backlog, and a unix
// socket file's mode and owner. `had` is what it was opened with. The
// options that only a new socket can change (ipv6_only, reuseport,
// freebind) are left as they are. Throws SysError naming what failed; the
// socket keeps serving either way.
void UpdateListener(int fd, const Address& address, const ListenOptions& had, const ListenOptions& wants);

// net.core.somaxconn, the most the kernel queues whatever `backlog` says;
// nullopt if it cannot be read.
std::optional<int> SomaxConn();

// The peer of a unix stream connection; nullopt for other sockets.
std::optional<PeerCredentials> PeerCredentialsOf(int fd);

// The local end of an accepted connection (getsockname).
Endpoint LocalEndpoint(int fd);

}  // namespace yinetd::net
