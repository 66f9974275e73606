// CPU pinning and CPU lists, for polling threads that own one core each.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "kbnet/core/result.hpp"

namespace kbnet {

// Pins the calling thread to one CPU. The error says why (no such CPU, not
// in this process's allowed set, permission).
[[nodiscard]] Status pin_current_thread(unsigned cpu) noexcept;

// The CPUs this process may run on (sched_getaffinity), ascending.
[[nodiscard]] std::vector<unsigned> allowed_cpus();

// The CPU the calling thread is running on now.
[[nodiscard]] unsigned current_cpu() noexcept;

// Parses a list such as "0-3,6,8-9" (the format of taskset -c and
// /sys/devices/system/cpu/online). Setup path: throws std::invalid_argument
// with a message that quotes the bad part and shows the format.
[[nodiscard]] std::vector<unsigned> parse_cpu_list(std::string_view text);

}  // namespace kbnet
