// Opening listening sockets.
//
// Every socket is created non-blocking and close-on-exec. Binding is kept
// apart from serving (as s6-tcpserver-socketbinder is apart from
// s6-tcpserverd), so the supervisor only ever sees ready descriptors.
#pragma once

#include <sys/socket.h>

#include "net/address.h"
#include "sys/unique_fd.h"

namespace yinetd::net {

struct ListenOptions {
  int backlog = 1024;
  int type = SOCK_STREAM;  // SOCK_DGRAM: bound, and not listening
  // False for wait mode: the program gets the socket itself and expects
  // blocking calls; yinetd then only polls it, never reads or accepts.
  bool nonblocking = true;
};

// Binds and (for streams) listens on `address`. A bare port gets one IPv6 socket that also
// takes IPv4 (IPV6_V6ONLY off), or an IPv4 one where the kernel has no IPv6.
// A unix socket file left by a dead process is replaced; one that still
// answers is an error. Throws SysError naming the call and the address.
UniqueFd OpenListener(const Address& address, const ListenOptions& options);

// The local end of an accepted connection (getsockname).
Endpoint LocalEndpoint(int fd);

}  // namespace yinetd::net
