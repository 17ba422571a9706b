#include "systemd/notify.h"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <cstdlib>

#include "log/events.h"

namespace yinetd::systemd {
namespace {

uint64_t MonotonicUsec() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1'000'000u + static_cast<uint64_t>(now.tv_nsec) / 1000u;
}

// sd_notify returns 0 without NOTIFY_SOCKET, > 0 when sent, < 0 (-errno)
// when the socket is set but unusable; only the last is worth a line.
void Send(const std::string& message) {
  int result = sd_notify(0, message.c_str());
  if (result < 0) log::SyscallFailed("", "sd_notify", message.substr(0, message.find('\n')), -result);
}

}  // namespace

std::string StatusText(size_t services, size_t running) {
  return "serving " + std::to_string(services) + (services == 1 ? " service, " : " services, ") +
         std::to_string(running) + " running";
}

std::string ReloadingMessage(uint64_t monotonic_usec) {
  return "RELOADING=1\nMONOTONIC_USEC=" + std::to_string(monotonic_usec) + "\nSTATUS=reloading";
}

void NotifyReady(std::string_view status) { Send("READY=1\nSTATUS=" + std::string(status)); }

void NotifyReloading() { Send(ReloadingMessage(MonotonicUsec())); }

void NotifyStopping(std::string_view status) { Send("STOPPING=1\nSTATUS=" + std::string(status)); }

void NotifyStatus(std::string_view status) { Send("STATUS=" + std::string(status)); }

bool NotifyEnabled() {
  static const bool enabled = getenv("NOTIFY_SOCKET") != nullptr;
  return enabled;
}

}  // namespace yinetd::systemd
