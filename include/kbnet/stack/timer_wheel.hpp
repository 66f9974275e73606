// Timers for the stack: a hierarchical timing wheel driven by explicit time.
//
// Nothing here reads a clock. The owner (the stack's poll loop, or a test)
// calls advance(now) and every timer whose deadline is <= now fires, in
// deadline order at tick granularity, never early (design.md, decision 5).
//
// Timers are intrusive: a Timer is a member of whatever owns it (a TCP
// connection, a neighbour entry), so scheduling, moving, cancelling and
// firing never allocate. The wheel itself is a fixed array of list heads.
//
// Shape: 11 levels of 64 slots (6 bits of the tick number per level) cover
// the whole 64-bit tick range, so no deadline needs clamping or "rounds".
// A timer sits at the level of the highest bit in which its expiry tick
// differs from the wheel's current tick; when time enters its slot's span
// it cascades to a lower level, and at level 0 it fires. A 64-bit occupancy
// bitmap per level lets advance() jump straight to the next non-empty slot,
// so a jump of hours costs the number of timers and cascades on the way,
// not the number of ticks.
//
// Cost for an idle poll loop: advance() is one comparison against a lower
// bound of the next deadline (next_event_ns()) until that time comes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "kbnet/core/cache.hpp"

namespace kbnet::stack {

class TimerWheel;

namespace detail {
// Node of a circular doubly linked list; the wheel's list heads are bare
// nodes, timers derive from it. Self-linked when alone.
struct TimerLink {
    TimerLink* prev = this;
    TimerLink* next = this;
};
}  // namespace detail

class Timer : private detail::TimerLink {
  public:
    // Called with the context given at construction, the timer that fired
    // (already disarmed, so the callback may schedule it again) and the
    // `now` passed to advance().
    using Callback = void (*)(void* context, Timer& timer, std::uint64_t now_ns);

    Timer() noexcept = default;
    Timer(Callback callback, void* context) noexcept : callback_(callback), context_(context) {}
    // An armed timer is cancelled first, so an owner may be destroyed
    // without cancelling its timers (the wheel must still exist).
    ~Timer();
    Timer(const Timer&) = delete;
    Timer& operator=(const Timer&) = delete;

    // For timers in arrays, which are default-constructed. May be called
    // while armed; the next firing uses the new callback.
    void set_callback(Callback callback, void* context) noexcept {
        callback_ = callback;
        context_ = context;
    }

    [[nodiscard]] bool armed() const noexcept { return wheel_ != nullptr; }
    // The deadline of the last schedule() (meaningful while armed).
    [[nodiscard]] std::uint64_t deadline_ns() const noexcept { return deadline_ns_; }

  private:
    friend class TimerWheel;

    Callback callback_ = nullptr;
    void* context_ = nullptr;
    TimerWheel* wheel_ = nullptr;  // non-null while armed
    std::uint64_t deadline_ns_ = 0;
    std::uint16_t list_ = 0;  // which list of the wheel holds it
};

class TimerWheel {
  public:
    static constexpr std::uint64_t kDefaultTickNs = 1'000'000;  // 1 ms

    // tick_ns: the granularity of ordering (timers due in the same tick fire
    // in an unspecified order). start_ns: the time the wheel starts at.
    // Setup path: throws std::invalid_argument if tick_ns is zero.
    explicit TimerWheel(std::uint64_t tick_ns = kDefaultTickNs, std::uint64_t start_ns = 0);
    // Disarms the timers still armed, so they may outlive the wheel.
    ~TimerWheel();
    TimerWheel(const TimerWheel&) = delete;
    TimerWheel& operator=(const TimerWheel&) = delete;

    // Arms the timer to fire at the first advance() whose now is >= the
    // deadline. An armed timer is moved (on whichever wheel held it). A
    // deadline <= now_ns() fires on the next advance(); so does one set from
    // a callback, which keeps a callback that re-arms itself "now" from
    // looping forever inside one advance(). O(1).
    void schedule(Timer& timer, std::uint64_t deadline_ns) noexcept;
    // schedule(timer, now_ns() + delay_ns), saturating.
    void schedule_after(Timer& timer, std::uint64_t delay_ns) noexcept;
    // Disarms the timer; no-op if it is not armed. O(1). Safe from a
    // callback, on any timer, including one due in the same advance().
    void cancel(Timer& timer) noexcept;

    // Fires every armed timer whose deadline is <= now_ns and returns how
    // many fired. Time never goes backwards: an earlier now is taken as
    // now_ns(). Must not be called from a callback.
    std::size_t advance(std::uint64_t now_ns) noexcept {
        if (KBNET_LIKELY(now_ns < next_event_ns_)) {
            if (now_ns > now_ns_) now_ns_ = now_ns;
            return 0;
        }
        return advance_slow(now_ns);
    }

    // A time before which advance() fires nothing: the earliest deadline
    // rounded down to its tick when that tick is within the current 64-tick
    // span, otherwise the start of the next slot that must cascade (a lower
    // bound; cancelled timers may also leave it early). UINT64_MAX when no
    // timer is armed. A poll loop may sleep until then.
    [[nodiscard]] std::uint64_t next_event_ns() const noexcept { return next_event_ns_; }
    // The cheap "anything due?" check: false means advance(now_ns) would fire
    // nothing; true means it may.
    [[nodiscard]] bool may_fire(std::uint64_t now_ns) const noexcept { return now_ns >= next_event_ns_; }

    [[nodiscard]] std::uint64_t now_ns() const noexcept { return now_ns_; }
    [[nodiscard]] std::uint64_t tick_ns() const noexcept { return tick_ns_; }
    [[nodiscard]] std::size_t armed_count() const noexcept { return armed_; }

  private:
    static constexpr unsigned kSlotBits = 6;
    static constexpr unsigned kSlots = 1u << kSlotBits;                    // per level: one 64-bit bitmap
    static constexpr unsigned kLevels = (64 + kSlotBits - 1) / kSlotBits;  // 11: every 64-bit tick fits
    static constexpr std::uint16_t kWheelLists = kLevels * kSlots;
    static constexpr std::uint16_t kExpiredList = kWheelLists;      // scheduled with a past deadline
    static constexpr std::uint16_t kPendingList = kWheelLists + 1;  // the slot being fired
    static constexpr std::uint16_t kListCount = kWheelLists + 2;

    std::size_t advance_slow(std::uint64_t now_ns) noexcept;
    std::size_t fire_pending(std::uint64_t now_ns) noexcept;
    void place(Timer& timer) noexcept;
    void link(Timer& timer, std::uint16_t list) noexcept;
    void unlink(Timer& timer) noexcept;
    void move_list(std::uint16_t from, std::uint16_t to) noexcept;
    void cascade() noexcept;
    [[nodiscard]] std::uint64_t next_event_tick(std::uint64_t limit) const noexcept;
    void update_next_event() noexcept;
    [[nodiscard]] bool list_empty(std::uint16_t list) const noexcept { return lists_[list].next == &lists_[list]; }

    std::uint64_t next_event_ns_ = UINT64_MAX;  // first: the only field the fast path reads
    std::uint64_t now_ns_;
    std::uint64_t current_tick_;  // every tick before it is fully processed
    std::uint64_t tick_ns_;
    std::size_t armed_ = 0;
    bool advancing_ = false;
    std::array<std::uint64_t, kLevels> occupied_{};  // bit s of level l: list l*64+s is non-empty
    std::array<detail::TimerLink, kListCount> lists_{};
};

}  // namespace kbnet::stack
