#include "kbnet/core/cpu.hpp"

#include <pthread.h>
#include <sched.h>

#include <cerrno>
#include <charconv>
#include <stdexcept>
#include <string>

namespace kbnet {
namespace {

constexpr unsigned kMaxCpus = CPU_SETSIZE;

[[noreturn]] void bad_list(std::string_view text, std::string_view part, std::string_view why) {
    throw std::invalid_argument("bad CPU list '" + std::string(text) + "': " + std::string(why) + " at '" +
                                std::string(part) + "' (expected e.g. 0-3,6,8-9)");
}

unsigned parse_cpu(std::string_view text, std::string_view part) {
    unsigned v = 0;
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (part.empty() || ec != std::errc{} || end != part.data() + part.size()) bad_list(text, part, "not a number");
    if (v >= kMaxCpus) bad_list(text, part, "CPU number too large");
    return v;
}

}  // namespace

Status pin_current_thread(unsigned cpu) noexcept {
    if (cpu >= kMaxCpus) return Error{Errc::invalid_argument, "CPU number is beyond CPU_SETSIZE"};
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    const int rc = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    if (rc == 0) return {};
    if (rc == EINVAL) {
        return Error{Errc::invalid_argument,
                     "CPU is offline or not in this process's allowed set (see taskset -p, cgroup cpuset)"};
    }
    if (rc == EPERM) return Error{Errc::io_error, "not permitted to change this thread's CPU affinity"};
    return Error{Errc::io_error, "pthread_setaffinity_np failed"};
}

std::vector<unsigned> allowed_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    std::vector<unsigned> cpus;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
    for (unsigned c = 0; c < kMaxCpus; ++c) {
        if (CPU_ISSET(c, &set)) cpus.push_back(c);
    }
    return cpus;
}

unsigned current_cpu() noexcept {
    const int c = sched_getcpu();
    return c < 0 ? 0u : static_cast<unsigned>(c);
}

std::vector<unsigned> parse_cpu_list(std::string_view text) {
    std::vector<unsigned> cpus;
    if (text.empty()) bad_list(text, text, "empty list");
    std::size_t pos = 0;
    while (pos <= text.size()) {
        std::size_t comma = text.find(',', pos);
        if (comma == std::string_view::npos) comma = text.size();
        const std::string_view part = text.substr(pos, comma - pos);
        const std::size_t dash = part.find('-');
        if (dash == std::string_view::npos) {
            cpus.push_back(parse_cpu(text, part));
        } else {
            const unsigned lo = parse_cpu(text, part.substr(0, dash));
            const unsigned hi = parse_cpu(text, part.substr(dash + 1));
            if (hi < lo) bad_list(text, part, "range goes backwards");
            for (unsigned c = lo; c <= hi; ++c) cpus.push_back(c);
        }
        pos = comma + 1;
    }
    // Duplicates would make two threads share a CPU unintentionally.
    for (std::size_t i = 0; i < cpus.size(); ++i) {
        for (std::size_t j = i + 1; j < cpus.size(); ++j) {
            if (cpus[i] == cpus[j]) bad_list(text, std::to_string(cpus[i]), "CPU listed twice");
        }
    }
    return cpus;
}

}  // namespace kbnet
