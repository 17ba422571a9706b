// System call sets: named allow-lists for a service's `system_calls`.
//
// `service` plays the part of systemd's @system-service: what an ordinary
// network program needs (files, sockets, memory, processes, time, signals,
// polling), and none of what only administers the machine (mount, module
// loading, reboot, swap, setting clocks, kexec, raw I/O, keyrings, bpf,
// ptrace, namespaces). Pure data: the loader expands a set into its names.
#pragma once

#include <string_view>
#include <vector>

namespace yinetd::sandbox {

// The set called `name` ("service"), or nullptr if there is none.
const std::vector<std::string_view>* SystemCallSet(std::string_view name);

// The names of every set, for messages.
std::vector<std::string_view> SystemCallSetNames();

}  // namespace yinetd::sandbox
