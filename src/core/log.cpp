#include "kbnet/core/log.hpp"

#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace kbnet {
namespace {

LogLevel initial_level() noexcept {
    LogLevel level = LogLevel::info;
    if (const char* env = std::getenv("KBNET_LOG")) {
        if (!parse_log_level(env, level)) level = LogLevel::info;
    }
    return level;
}

std::atomic<LogLevel>& level_ref() noexcept {
    static std::atomic<LogLevel> level{initial_level()};
    return level;
}

std::string_view level_name(LogLevel level) noexcept {
    switch (level) {
        case LogLevel::error: return "error";
        case LogLevel::warn: return "warn";
        case LogLevel::info: return "info";
        case LogLevel::debug: return "debug";
    }
    return "?";
}

}  // namespace

LogLevel log_level() noexcept { return level_ref().load(std::memory_order_relaxed); }
void set_log_level(LogLevel level) noexcept { level_ref().store(level, std::memory_order_relaxed); }

bool parse_log_level(std::string_view name, LogLevel& out) noexcept {
    for (auto l : {LogLevel::error, LogLevel::warn, LogLevel::info, LogLevel::debug}) {
        if (name == level_name(l)) {
            out = l;
            return true;
        }
    }
    return false;
}

void log_write(LogLevel level, std::string_view message) noexcept {
    try {
        std::string line = fmt::format("kbnet {}: {}\n", level_name(level), message);
        // One write() so lines from several threads do not interleave.
        const char* p = line.data();
        std::size_t left = line.size();
        while (left > 0) {
            ssize_t n = ::write(STDERR_FILENO, p, left);
            if (n <= 0) break;
            p += n;
            left -= static_cast<std::size_t>(n);
        }
    } catch (...) {
        // Out of memory while logging: nothing sensible left to do.
    }
}

std::uint64_t coarse_now_ns() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

bool RateLimit::allow(std::uint64_t interval_ns, std::uint64_t& suppressed) noexcept {
    const std::uint64_t now = coarse_now_ns();
    std::uint64_t next = next_ns_.load(std::memory_order_relaxed);
    // Relaxed is enough: the limiter only decides whether to print; the
    // compare-exchange makes one thread the winner of each interval.
    if (now >= next && next_ns_.compare_exchange_strong(next, now + interval_ns, std::memory_order_relaxed)) {
        suppressed = suppressed_.exchange(0, std::memory_order_relaxed);
        return true;
    }
    suppressed_.fetch_add(1, std::memory_order_relaxed);
    return false;
}

}  // namespace kbnet
