// TLS as the supervisor sees it (tls/ holds the TLS itself): each service's
// context, built at startup and rebuilt at every reload (SIGHUP, or a
// changed config, certificate, key or CA file with watch: true); the
// outcome pipe of each TLS child; and what its outcome makes us log.
//
// Building a context reads the service's PEM files: local files, read as
// the config itself is, at startup and reload only, never per connection.
#pragma once

#include <cstdint>
#include <string_view>

#include "supervisor/service.h"
#include "sys/unique_fd.h"
#include "tls/outcome.h"

namespace yinetd::supervisor {

// Builds `service`'s context when it has a tls: block, into its state. On
// failure the context it had (if any) serves on, and the failure is logged.
// Logs tls_reload and records the certificates' expiry for the metrics.
void RefreshTls(Service& service, std::string_view trigger);

// What the front wrote, if it has written yet: the pipe is non-blocking and
// the record comes in one atomic write, so a read finds all of it or none.
tls::Outcome ReadOutcome(int fd);

// Seconds since the epoch.
int64_t WallClockNow();

}  // namespace yinetd::supervisor
