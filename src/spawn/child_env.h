// The environment and argv a service's program starts with. Pure: no
// syscalls, so it is tested exhaustively and built before fork.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/address.h"
#include "net/proxy_header.h"

namespace yinetd::spawn {

// PATH given to every program, as inetd does, rather than the supervisor's.
inline constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// Both ends of one accepted connection.
struct Connection {
  net::Endpoint peer;
  net::Endpoint local;
  std::optional<net::PeerCredentials> credentials = std::nullopt;  // unix peers only
  // Behind a load balancer (proxy_protocol) whose header named a client:
  // the balancer's end of the connection, while `peer` and `local` are the
  // addresses from the header.
  std::optional<net::Endpoint> proxy = std::nullopt;
  net::ProxyTlvs tlvs = {};  // from a v2 header
};

// What of a service its programs' environment comes from, copied from its
// config once per service (supervisor/service.h).
struct ServiceEnv {
  std::string name;       // YINETD_SERVICE
  bool datagram = false;  // UDP: PROTO=UDP for its wait-mode program
  std::vector<std::pair<std::string, std::string>> env;  // its `env:`, in order
  bool clear_env = false;  // only `env`
};

// A TLV value made safe for the environment: every byte but ASCII letters,
// digits and . _ : / @ + = , - becomes %XX (so '%' itself is %25), which a
// shell word takes as is and a program can decode.
std::string EscapeEnvValue(std::string_view bytes);

// argv: `argv0` (default: the program path), then `args`.
std::vector<std::string> BuildArgv(const std::string& program, const std::optional<std::string>& argv0,
                                   const std::vector<std::string>& args);

// PROTO; for unix peers the UCSPI-UNIX names (UNIXREMOTEUID, UNIXREMOTEGID,
// UNIXREMOTEPID) when the kernel gave them; for TCP the UCSPI-TCP names (TCPREMOTEIP, TCPREMOTEPORT, TCPLOCALIP,
// TCPLOCALPORT), systemd's REMOTE_ADDR and REMOTE_PORT; behind a balancer
// also TCPPROXYIP, TCPPROXYPORT and the PROXY_* TLVs; YINETD_SERVICE,
// PATH, then the service's `env:`. A later entry replaces an earlier one of
// the same name, so `env:` can override PATH. With `clear_env`, only the
// service's `env:`.
std::vector<std::string> BuildEnv(const ServiceEnv& service, const Connection& connection);

// Mode wait: the program gets the listening socket (`listening`) and no
// peer: PROTO (TCP, UDP or UNIX), YINETD_SERVICE, PATH, then `env:`; only
// `env:` with clear_env.
std::vector<std::string> BuildWaitEnv(const ServiceEnv& service, const net::Address& listening);

// A NULL-terminated array of pointers into `strings`, for execve. Valid
// while `strings` is unchanged.
std::vector<char*> ToExecArray(std::vector<std::string>& strings);

}  // namespace yinetd::spawn
