// Single-producer / single-consumer ring of trivially copyable items
// (packet handles, frame indices). Exactly one thread may enqueue and one
// thread may dequeue at a time; they may be different threads.
//
// Two kinds of operation, as in DPDK's rte_ring:
//   *_burst moves as many items as fit (or are present) and returns the count;
//   *_bulk  moves all of them or none and returns whether it did.
//
// Layout: the producer's index and its cached copy of the consumer's index
// share one cache line that only the producer writes; the consumer's pair
// has its own line. Each side re-reads the other's index only when its
// cached copy says the ring looks full (or empty), so in steady state a
// burst costs one cache-line transfer each way, not one per item.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <memory>
#include <new>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "kbnet/core/cache.hpp"

namespace kbnet {

template <typename T>
class SpscRing {
    static_assert(std::is_trivially_copyable_v<T>, "ring items are copied as bytes");

  public:
    // capacity must be a power of two (masking instead of a division on
    // every index); a setup error otherwise.
    explicit SpscRing(std::size_t capacity) : mask_(capacity - 1) {
        if (capacity < 2 || (capacity & (capacity - 1)) != 0) {
            throw std::invalid_argument("ring capacity must be a power of two >= 2, got " + std::to_string(capacity));
        }
        slots_.reset(new (std::align_val_t{kCacheLine}) T[capacity]);
    }
    SpscRing(const SpscRing&) = delete;
    SpscRing& operator=(const SpscRing&) = delete;

    [[nodiscard]] std::size_t capacity() const noexcept { return mask_ + 1; }

    // Items present now. Exact only when called by one side with the other
    // idle; otherwise a snapshot that may already be stale.
    [[nodiscard]] std::size_t size() const noexcept {
        return prod_.write.load(std::memory_order_acquire) - cons_.read.load(std::memory_order_acquire);
    }
    [[nodiscard]] bool empty() const noexcept { return size() == 0; }

    // ---- producer side ----------------------------------------------------

    [[nodiscard]] std::size_t enqueue_burst(std::span<const T> items) noexcept {
        return enqueue(items, /*all_or_nothing=*/false);
    }
    [[nodiscard]] bool enqueue_bulk(std::span<const T> items) noexcept {
        return enqueue(items, /*all_or_nothing=*/true) == items.size();
    }
    [[nodiscard]] bool push(const T& item) noexcept { return enqueue(std::span<const T>(&item, 1), true) == 1; }

    // ---- consumer side ----------------------------------------------------

    [[nodiscard]] std::size_t dequeue_burst(std::span<T> out) noexcept { return dequeue(out, false); }
    [[nodiscard]] bool dequeue_bulk(std::span<T> out) noexcept { return dequeue(out, true) == out.size(); }
    [[nodiscard]] bool pop(T& item) noexcept { return dequeue(std::span<T>(&item, 1), true) == 1; }

  private:
    std::size_t enqueue(std::span<const T> items, bool all_or_nothing) noexcept {
        const std::size_t cap = mask_ + 1;
        // Relaxed: only this thread ever stores prod_.write.
        const std::size_t w = prod_.write.load(std::memory_order_relaxed);
        std::size_t room = cap - (w - prod_.cached_read);
        if (room < items.size()) {
            // Acquire pairs with the consumer's release store of cons_.read:
            // once we see a slot as free, the consumer's copy out of it has
            // completed, so overwriting it cannot race with that read.
            prod_.cached_read = cons_.read.load(std::memory_order_acquire);
            room = cap - (w - prod_.cached_read);
        }
        std::size_t n = std::min(room, items.size());
        if (n == 0 || (all_or_nothing && n != items.size())) return 0;
        copy_in(w, items.first(n));
        // Release: the slot contents written above become visible to the
        // consumer no later than the index that tells it they exist.
        prod_.write.store(w + n, std::memory_order_release);
        return n;
    }

    std::size_t dequeue(std::span<T> out, bool all_or_nothing) noexcept {
        // Relaxed: only this thread ever stores cons_.read.
        const std::size_t r = cons_.read.load(std::memory_order_relaxed);
        std::size_t avail = cons_.cached_write - r;
        if (avail < out.size()) {
            // Acquire pairs with the producer's release store of prod_.write:
            // every slot below the index we read is fully written.
            cons_.cached_write = prod_.write.load(std::memory_order_acquire);
            avail = cons_.cached_write - r;
        }
        std::size_t n = std::min(avail, out.size());
        if (n == 0 || (all_or_nothing && n != out.size())) return 0;
        copy_out(r, out.first(n));
        // Release: our reads of the slots happen before the producer can see
        // them as free and overwrite them.
        cons_.read.store(r + n, std::memory_order_release);
        return n;
    }

    void copy_in(std::size_t index, std::span<const T> items) noexcept {
        const std::size_t start = index & mask_;
        const std::size_t first = std::min(items.size(), mask_ + 1 - start);  // up to the wrap
        std::copy_n(items.data(), first, slots_.get() + start);
        std::copy_n(items.data() + first, items.size() - first, slots_.get());
    }
    void copy_out(std::size_t index, std::span<T> out) const noexcept {
        const std::size_t start = index & mask_;
        const std::size_t first = std::min(out.size(), mask_ + 1 - start);
        std::copy_n(slots_.get() + start, first, out.data());
        std::copy_n(slots_.get(), out.size() - first, out.data() + first);
    }

    struct AlignedDelete {
        void operator()(T* p) const noexcept { ::operator delete[](p, std::align_val_t{kCacheLine}); }
    };

    // Indices grow without bound (a 64-bit counter does not wrap in the life
    // of a process); the slot is index & mask_.
    struct alignas(kCacheLine) Producer {
        std::atomic<std::size_t> write{0};
        std::size_t cached_read = 0;  // producer's last view of cons_.read
    };
    struct alignas(kCacheLine) Consumer {
        std::atomic<std::size_t> read{0};
        std::size_t cached_write = 0;  // consumer's last view of prod_.write
    };

    Producer prod_;
    Consumer cons_;
    alignas(kCacheLine) const std::size_t mask_;
    std::unique_ptr<T[], AlignedDelete> slots_;
};

}  // namespace kbnet
