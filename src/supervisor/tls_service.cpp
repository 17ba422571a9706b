#include "supervisor/tls_service.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <map>

#include "log/events.h"
#include "sys/sys_error.h"
#include "tls/context.h"
#include "tls/warm_up.h"

namespace yinetd::supervisor {

int64_t WallClockNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void RefreshTls(Service& service, std::string_view trigger) {
  if (!service.config.tls) return;
  int64_t now = WallClockNow();
  tls::BuildResult built = tls::BuildContext(*service.config.tls, now);
  if (!built.context) {
    std::string error;
    for (const config::Problem& problem : built.problems) {
      error += (error.empty() ? "" : "; ") + problem.ToString();
    }
    log::TlsReloadFailed(service.Name(), trigger, error, service.state->tls != nullptr);
    return;
  }
  tls::WarmUp(built.context->Get());
  ServiceState& state = *service.state;
  state.tls = std::move(built.context);
  state.counts.cert_expiry.clear();
  for (const tls::CertExpiry& expiry : state.tls->Expiries()) state.counts.cert_expiry[expiry.file] = expiry.not_after;
  log::TlsReload(service.Name(), trigger, state.tls->NotAfter(), now);
}

tls::Outcome ReadOutcome(int fd) {
  // The front writes at most one record, below PIPE_BUF.
  char buffer[4096];
  ssize_t n = RetryOnEintr([&] { return read(fd, buffer, sizeof buffer); });
  if (n <= 0) return tls::Outcome{};
  return tls::ParseOutcome(std::string_view(buffer, static_cast<size_t>(n)));
}

}  // namespace yinetd::supervisor
