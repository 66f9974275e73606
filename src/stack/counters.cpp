#include "kbnet/stack/counters.hpp"

#include <atomic>

namespace kbnet::stack {
namespace {

// A row's word. The cast goes through void* because the byte pointer's
// alignment is 1 (clang's -Wcast-align); the offset is a multiple of 8 by
// construction (a std::uint64_t member of a struct of std::uint64_t).
std::uint64_t* word_at(StackCounters& c, std::size_t offset) noexcept {
    return static_cast<std::uint64_t*>(static_cast<void*>(reinterpret_cast<std::byte*>(&c) + offset));
}

// Readers copy through relaxed atomic loads; they must be single
// instructions, never a lock the writer (which never takes it) would ignore.
static_assert(std::atomic_ref<std::uint64_t>::is_always_lock_free);

}  // namespace

std::uint64_t& counter_ref(StackCounters& c, const CounterInfo& info) noexcept { return *word_at(c, info.offset); }

std::uint64_t counter_value(const StackCounters& c, const CounterInfo& info) noexcept {
    return *word_at(const_cast<StackCounters&>(c), info.offset);
}

std::optional<CounterInfo> find_counter(std::string_view layer, std::string_view name) noexcept {
    for (const CounterInfo& info : kCounterTable) {
        if (info.layer == layer && info.name == name) return info;
    }
    return std::nullopt;
}

StackCounters load_counters(const StackCounters& live) noexcept {
    StackCounters copy;
    // const_cast: std::atomic_ref<const T> arrives only in C++26. A load
    // writes nothing, so this is safe on a read-only mapping too.
    auto& src = const_cast<StackCounters&>(live);
    for (const CounterInfo& info : kCounterTable) {
        *word_at(copy, info.offset) =
            std::atomic_ref<std::uint64_t>(*word_at(src, info.offset)).load(std::memory_order_relaxed);
    }
    return copy;
}

}  // namespace kbnet::stack
