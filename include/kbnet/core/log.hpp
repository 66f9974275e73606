// Logging to stderr, with levels and a rate limit for messages that a
// packet could trigger (a malformed frame must not turn into a log storm).
//
//   KBNET_LOG_INFO("port {}: {} frames of {} bytes", name, n, size);
//   KBNET_LOG_RATELIMITED(kbnet::LogLevel::warn, 1'000'000'000, "bad frame on {}", q);
//
// The level comes from KBNET_LOG (error, warn, info, debug; default info)
// and can be changed at run time with set_log_level().
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>

#include <fmt/format.h>

namespace kbnet {

enum class LogLevel : std::uint8_t { error = 0, warn = 1, info = 2, debug = 3 };

LogLevel log_level() noexcept;
void set_log_level(LogLevel level) noexcept;
// Parses "error", "warn", "info", "debug"; false if the name is unknown.
bool parse_log_level(std::string_view name, LogLevel& out) noexcept;

// Writes one line "kbnet <level>: <message>" to stderr in a single write.
void log_write(LogLevel level, std::string_view message) noexcept;

// Monotonic nanoseconds from the vDSO's coarse clock: no syscall, a few ms
// of resolution, which is all a rate limit needs.
std::uint64_t coarse_now_ns() noexcept;

// Per-call-site rate limiter: at most one message per interval; the next
// one that gets through says how many were suppressed in between.
class RateLimit {
  public:
    // Returns true if a message may be written now; suppressed receives the
    // number of messages dropped since the last one written.
    bool allow(std::uint64_t interval_ns, std::uint64_t& suppressed) noexcept;

  private:
    std::atomic<std::uint64_t> next_ns_{0};
    std::atomic<std::uint64_t> suppressed_{0};
};

template <typename... Args>
void log_fmt(LogLevel level, fmt::format_string<Args...> f, Args&&... args) {
    if (level > log_level()) return;
    log_write(level, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace kbnet

#define KBNET_LOG(level, ...) ::kbnet::log_fmt(level, __VA_ARGS__)
#define KBNET_LOG_ERROR(...) KBNET_LOG(::kbnet::LogLevel::error, __VA_ARGS__)
#define KBNET_LOG_WARN(...) KBNET_LOG(::kbnet::LogLevel::warn, __VA_ARGS__)
#define KBNET_LOG_INFO(...) KBNET_LOG(::kbnet::LogLevel::info, __VA_ARGS__)
#define KBNET_LOG_DEBUG(...) KBNET_LOG(::kbnet::LogLevel::debug, __VA_ARGS__)

#define KBNET_LOG_RATELIMITED(level, interval_ns, ...)                                                 \
    do {                                                                                               \
        if ((level) <= ::kbnet::log_level()) {                                                         \
            static ::kbnet::RateLimit kbnet_rl_;                                                       \
            std::uint64_t kbnet_sup_ = 0;                                                              \
            if (kbnet_rl_.allow((interval_ns), kbnet_sup_)) {                                          \
                std::string kbnet_msg_ = fmt::format(__VA_ARGS__);                                     \
                if (kbnet_sup_ > 0) kbnet_msg_ += fmt::format(" ({} similar suppressed)", kbnet_sup_); \
                ::kbnet::log_write((level), kbnet_msg_);                                               \
            }                                                                                          \
        }                                                                                              \
    } while (0)
