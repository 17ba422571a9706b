// Readiness notification for Type=notify units (sd_notify(3)).
//
// Every function is a no-op when NOTIFY_SOCKET is unset, so yinetd run by
// hand or by another supervisor behaves the same. Only the main process
// may notify (NotifyAccess=main), so these must not be called in a child.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace yinetd::systemd {

// The one-line STATUS= summary: "serving 3 services, 2 running".
std::string StatusText(size_t services, size_t running);

// "RELOADING=1\nMONOTONIC_USEC=N\nSTATUS=reloading" for a reload that began
// at CLOCK_MONOTONIC time `monotonic_usec`.
std::string ReloadingMessage(uint64_t monotonic_usec);

// READY=1 with a STATUS=; call once every listener is bound.
void NotifyReady(std::string_view status);

// Around a reload (SIGHUP): call NotifyReloading() before reading the new
// config and NotifyReady() once the new listeners are bound, whether the
// reload succeeded or kept the old config. systemd waits for READY=1 to
// finish `systemctl reload`.
void NotifyReloading();

// STOPPING=1: shutdown began; programs are being stopped.
void NotifyStopping(std::string_view status);

// STATUS= only.
void NotifyStatus(std::string_view status);

// NOTIFY_SOCKET is set: someone listens.
bool NotifyEnabled();

}  // namespace yinetd::systemd
