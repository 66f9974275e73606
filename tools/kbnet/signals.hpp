#pragma once

namespace kbnet::tools {

// SIGINT and SIGTERM set a flag that polling loops read; the loops then
// finish their burst, flush, print their summary and exit 0.
void install_stop_signals();
[[nodiscard]] bool stop_requested() noexcept;
void request_stop() noexcept;

}  // namespace kbnet::tools
