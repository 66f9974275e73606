// Packet handles crossing cores: SpscRing against the plain alternative, a
// std::mutex around a std::deque, moving the same bursts of 32 handles from
// a producer thread (core 1) to the benchmark thread (core 0).
//
// Each benchmark iteration receives exactly one full burst, so
// items_per_second is handles delivered per second of wall-clock time.
#include <benchmark/benchmark.h>
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <span>
#include <thread>

#include "kbnet/core/packet.hpp"
#include "kbnet/core/spsc_ring.hpp"

namespace {

using kbnet::PacketHandle;

constexpr std::size_t kBurst = kbnet::kDefaultBurst;
constexpr std::size_t kCapacity = 1024;

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

// Pins the calling thread to one CPU if this process may use it; a
// benchmark on a machine without that CPU just runs unpinned.
class ScopedPin {
  public:
    explicit ScopedPin(std::size_t cpu) {
        saved_ok_ = pthread_getaffinity_np(pthread_self(), sizeof saved_, &saved_) == 0;
        if (!saved_ok_ || !CPU_ISSET(cpu, &saved_)) return;
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        pinned_ = pthread_setaffinity_np(pthread_self(), sizeof one, &one) == 0;
    }
    ~ScopedPin() {
        if (pinned_) (void)pthread_setaffinity_np(pthread_self(), sizeof saved_, &saved_);
    }
    ScopedPin(const ScopedPin&) = delete;
    ScopedPin& operator=(const ScopedPin&) = delete;

  private:
    cpu_set_t saved_{};
    bool saved_ok_ = false;
    bool pinned_ = false;
};

// The reference: what one writes without a ring. Bounded like the ring, so
// a fast producer cannot grow it without limit.
class MutexDeque {
  public:
    std::size_t enqueue_burst(std::span<const PacketHandle> items) {
        std::lock_guard<std::mutex> lock(mutex_);
        const std::size_t n = std::min(items.size(), kCapacity - queue_.size());
        queue_.insert(queue_.end(), items.begin(), items.begin() + static_cast<std::ptrdiff_t>(n));
        return n;
    }
    std::size_t dequeue_burst(std::span<PacketHandle> out) {
        std::lock_guard<std::mutex> lock(mutex_);
        const std::size_t n = std::min(out.size(), queue_.size());
        const auto end = queue_.begin() + static_cast<std::ptrdiff_t>(n);
        std::copy(queue_.begin(), end, out.begin());
        queue_.erase(queue_.begin(), end);
        return n;
    }

  private:
    std::mutex mutex_;
    std::deque<PacketHandle> queue_;
};

template <typename Queue>
void run_two_cores(benchmark::State& state, Queue& queue) {
    std::atomic<bool> stop{false};
    std::thread producer([&queue, &stop] {
        ScopedPin pin(1);
        std::array<PacketHandle, kBurst> burst{};
        for (std::size_t i = 0; i < kBurst; ++i) burst[i] = PacketHandle{static_cast<std::uint32_t>(i), 256, 64};
        std::size_t start = 0;  // resume a burst the queue only took part of
        while (!stop.load(std::memory_order_relaxed)) {
            const std::size_t n = queue.enqueue_burst(std::span<const PacketHandle>(burst).subspan(start));
            if (n == 0) cpu_relax();
            start = (start + n) % kBurst;
        }
    });

    std::uint64_t received = 0;
    {
        ScopedPin pin(0);
        std::array<PacketHandle, kBurst> out{};
        for (auto _ : state) {
            std::size_t got = 0;
            while (got < kBurst) {
                const std::size_t n = queue.dequeue_burst(std::span<PacketHandle>(out).subspan(got));
                if (n == 0) cpu_relax();
                got += n;
            }
            benchmark::DoNotOptimize(out.data());
            received += got;
        }
    }
    stop.store(true, std::memory_order_relaxed);
    producer.join();
    state.SetItemsProcessed(static_cast<std::int64_t>(received));
}

void BM_ring_kbnet_spsc(benchmark::State& state) {
    kbnet::SpscRing<PacketHandle> ring(kCapacity);
    run_two_cores(state, ring);
}

void BM_ring_reference_mutex_deque(benchmark::State& state) {
    MutexDeque queue;
    run_two_cores(state, queue);
}

}  // namespace

BENCHMARK(BM_ring_kbnet_spsc)->UseRealTime();
BENCHMARK(BM_ring_reference_mutex_deque)->UseRealTime();
