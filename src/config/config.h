// The configuration as yinetd uses it: every value checked, every name
// resolved. Produced by the loader (loader.h); the rest of yinetd never sees
// YAML. Later keys are a field here plus a row in the loader's key table.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "log/events.h"
#include "net/access_list.h"
#include "net/address.h"

namespace yinetd::config {

// Where a value was written, for error messages. Lines and columns count
// from 1; 0 means "the file as a whole".
struct Location {
  std::string file;
  int line = 0;
  int column = 0;

  std::string ToString() const;  // "file:line:column", or "file" for line 0
  bool operator==(const Location&) const = default;
};

struct Problem {
  Location where;
  std::string message;

  std::string ToString() const;  // "file:line:column: message"
};

enum class StderrMode { kLog, kSocket, kNull };

enum class Protocol { kTcp, kUdp };

// inetd's modes. nowait: one program per connection, yinetd accepts.
// wait: one program at a time gets the listening socket itself (accepting,
// or reading datagrams, on its own); yinetd polls the socket again once it
// has exited.
enum class Mode { kNowait, kWait };

// Whom the program runs as: resolved once at load, because getpwnam and
// initgroups are not async-signal-safe and must not run in the child.
struct Credentials {
  std::string user;  // as written, for logs
  uid_t uid = 0;
  gid_t gid = 0;
  bool set_uid = false;          // false: keep the supervisor's uid
  std::vector<gid_t> groups;     // supplementary groups for setgroups
  std::string group;             // as written; "" when not given
  bool operator==(const Credentials&) const = default;
};

// One resource limit, set as both soft and hard limit in the child.
struct ResourceLimit {
  std::string name;  // as written: nofile, nproc, as, cpu, core, fsize
  int resource = 0;  // RLIMIT_*
  uint64_t value = 0;  // RLIM_INFINITY for `unlimited`
  bool operator==(const ResourceLimit&) const = default;
};

// How the program's process is set up between fork and exec
// (spawn/process_controls.h applies it). Every value is checked at load.
struct ProcessControls {
  std::string chroot;                 // "": none
  std::string chdir = "/";            // inside the chroot, if any
  std::optional<mode_t> umask;        // unset: inherit yinetd's
  std::optional<int> nice;            // unset: inherit yinetd's
  std::vector<ResourceLimit> rlimits;
  bool no_new_privs = false;
  std::optional<std::string> argv0;   // unset: the program path
  bool clear_env = false;             // true: only the service's env
  bool operator==(const ProcessControls&) const = default;
};

// Options of the service's listening sockets.
struct SocketOptions {
  int backlog = 1024;             // clamped to net.core.somaxconn at bind
  bool ipv6_only = false;         // a bare port: IPv6 only, not dual stack
  bool keepalive = false;         // SO_KEEPALIVE
  bool nodelay = false;           // TCP_NODELAY
  bool reuseport = false;         // SO_REUSEPORT
  bool freebind = false;          // IP_FREEBIND: bind an address not (yet) configured
  std::string bind_interface;     // SO_BINDTODEVICE; "": any
  std::optional<mode_t> unix_mode;  // socket_mode, for unix: sockets
  std::optional<uid_t> unix_owner;  // socket_owner
  std::optional<gid_t> unix_group;  // socket_group
  std::string unix_owner_name;      // socket_owner as written, for ctl dump
  std::string unix_group_name;      // socket_group as written, for ctl dump
  bool operator==(const SocketOptions&) const = default;
};

// What happens to a connection that arrives while its service (or yinetd as
// a whole) is at its limit: accepted and closed at once, or left waiting in
// the kernel's backlog until a child exits.
enum class Overflow { kRefuse, kQueue };

struct Limits {
  std::optional<int> max_connections;        // running children
  std::optional<int> max_per_source;         // running children per source
  std::optional<double> max_rate;            // connections a second
  std::optional<double> max_rate_per_source;
  int source_prefix_v4 = 32;                 // how sources are grouped
  int source_prefix_v6 = 64;
  Overflow overflow = Overflow::kRefuse;
  bool operator==(const Limits&) const = default;
};

// How a service's program is confined (sandbox/ prepares and applies it).
// Every key is off by default; `Any()` says whether there is a sandbox.
struct SandboxConfig {
  bool private_network = false;      // an empty network namespace (lo only), one per service
  bool private_tmp = false;          // a fresh tmpfs on /tmp and /var/tmp per connection
  bool read_only = false;            // the file system read-only, but `writable`
  std::vector<std::string> writable;  // absolute, normalised
  std::vector<std::string> hidden;    // absolute, normalised; directories or files
  // Unset: every system call. Set: only these names (the `service` preset
  // already expanded by the loader); the others fail with EPERM.
  std::optional<std::vector<std::string>> system_calls;
  std::optional<std::vector<int>> address_families;  // AF_*; unset: all
  bool pid_namespace = false;
  bool ipc_namespace = false;
  bool uts_namespace = false;
  std::optional<uint64_t> memory_max;   // bytes (cgroup v2 memory.max)
  std::optional<int> tasks_max;         // pids.max
  std::optional<int> cpu_max_percent;   // cpu.max, in % of one CPU
  bool operator==(const SandboxConfig&) const = default;

  bool Any() const { return *this != SandboxConfig{}; }
  bool NeedsCgroup() const { return memory_max || tasks_max || cpu_max_percent; }
  bool NeedsMountNamespace() const { return private_tmp || !hidden.empty(); }
  bool NeedsLandlock() const { return read_only || !writable.empty(); }
  bool NeedsSeccomp() const { return system_calls.has_value() || address_families.has_value(); }
};

// A range of uids (and the same gids) for `user: dynamic`.
struct DynamicUserRange {
  uid_t first = 0;
  uid_t last = 0;
  bool operator==(const DynamicUserRange&) const = default;
};

// The PROXY protocol (HAProxy's proxy-protocol.txt): a load balancer in
// front sends a header naming the real client before the client's bytes.
enum class ProxyProtocol { kOff, kV1, kV2, kAny };
// What a header without a client (v2 LOCAL, v1 UNKNOWN: the balancer's own
// health check) gets: the program, with the balancer as its peer, or closed.
enum class ProxyLocal { kServe, kClose };

struct ProxySettings {
  ProxyProtocol protocol = ProxyProtocol::kOff;
  std::vector<net::Cidr> from;                 // peers that may send a header
  std::chrono::milliseconds timeout{3'000};    // to receive the whole header
  ProxyLocal local = ProxyLocal::kServe;
  bool Enabled() const { return protocol != ProxyProtocol::kOff; }
  bool operator==(const ProxySettings&) const = default;
};

// tls: the service speaks TLS to its clients; the program sees plaintext
// (src/tls/). Paths are absolute; the files themselves are read and checked
// by tls::BuildContext, which names each key by its `*_where`.
enum class ClientCert { kNone, kOptional, kRequire };

struct TlsSni {
  std::vector<std::string> names;  // "host.example" or "*.example"
  std::string cert;
  std::string key;
  Location where, cert_where, key_where;
  bool operator==(const TlsSni&) const = default;
};

struct TlsConfig {
  std::string cert;       // PEM chain, leaf first
  std::string key;        // PEM private key
  std::string client_ca;  // "": client certificates are not verified
  ClientCert client_cert = ClientCert::kNone;
  std::vector<std::string> allow_client;  // "CN=..", "DNS:..", "URI:.."; '*' matches any run
  std::string min_version = "1.2";        // "1.2" or "1.3"
  std::vector<std::string> alpn;
  std::chrono::milliseconds handshake_timeout{10'000};
  std::vector<TlsSni> sni;
  Location where, cert_where, key_where, client_ca_where;
  bool operator==(const TlsConfig&) const = default;
  // Every file the context is built from, for watch: true.
  std::vector<std::string> Files() const;
};

struct ServiceConfig {
  std::string name;
  std::vector<net::Address> listen;
  std::string program;  // absolute; "" for a builtin
  std::string builtin;  // "": runs `program`
  Protocol protocol = Protocol::kTcp;
  Mode mode = Mode::kNowait;  // kWait for UDP
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  std::optional<Credentials> credentials;
  // `user: dynamic`: each connection runs as its own uid/gid from
  // Config::dynamic_users (`credentials` is then unset).
  bool dynamic_user = false;
  SandboxConfig sandbox;
  StderrMode stderr_mode = StderrMode::kLog;
  ProcessControls process;
  SocketOptions socket;
  Limits limits;
  net::AccessList access;
  ProxySettings proxy;
  std::string refuse_message;  // written to a refused client; "" for none
  std::optional<std::chrono::milliseconds> timeout;  // wall clock per child
  std::chrono::milliseconds kill_grace{2'000};       // SIGTERM → SIGKILL
  std::optional<TlsConfig> tls;
  Location where;  // the service's entry, for messages

  bool SameSettings(const ServiceConfig& other) const;
};

// Where yinetd serves `yinetd ctl`, and where ctl looks for it by default.
inline constexpr const char* kDefaultControlSocket = "/run/yinetd/control";

struct Config {
  std::string file;
  std::vector<std::string> files;  // the main file, then every included one
  // The directories include patterns look in, matched or not: with watch,
  // a first file dropped into an empty conf.d/ is noticed too.
  std::vector<std::string> include_dirs;
  bool watch = false;              // reload when one of `files` changes
  std::optional<log::Level> log_level;
  // kStderr (the journal when stderr is one) or kSyslog; never kJournal.
  log::Output log_output = log::Output::kStderr;
  std::chrono::milliseconds shutdown_grace{10'000};
  std::optional<int> max_children;  // all services together; unset: derived from rlimits
  std::optional<DynamicUserRange> dynamic_users;  // required by `user: dynamic`
  // The control socket's path (mode 0600); "" with `control: false`.
  std::string control_socket = kDefaultControlSocket;
  std::vector<ServiceConfig> services;
};

}  // namespace yinetd::config
