#include "kbnet/stack/timer_wheel.hpp"

#include <cassert>
#include <stdexcept>

namespace kbnet::stack {

namespace {

// Bits [0, n) set; all bits when n >= 64 (the top level spans past bit 63).
constexpr std::uint64_t low_mask(unsigned n) noexcept { return n >= 64 ? ~0ull : (1ull << n) - 1; }

constexpr std::uint64_t saturating_mul(std::uint64_t a, std::uint64_t b) noexcept {
    std::uint64_t r = 0;
    return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

}  // namespace

Timer::~Timer() {
    if (wheel_ != nullptr) wheel_->cancel(*this);
}

TimerWheel::TimerWheel(std::uint64_t tick_ns, std::uint64_t start_ns)
    : now_ns_(start_ns), current_tick_(tick_ns == 0 ? 0 : start_ns / tick_ns), tick_ns_(tick_ns) {
    if (tick_ns == 0) {
        throw std::invalid_argument("timer wheel tick must be at least 1 ns (the default is 1'000'000 ns, 1 ms)");
    }
}

TimerWheel::~TimerWheel() {
    for (auto& head : lists_) {
        for (detail::TimerLink* n = head.next; n != &head;) {
            Timer& t = *static_cast<Timer*>(n);
            n = n->next;
            t.prev = t.next = &t;
            t.wheel_ = nullptr;
        }
        head.prev = head.next = &head;
    }
}

void TimerWheel::link(Timer& timer, std::uint16_t list) noexcept {
    detail::TimerLink& head = lists_[list];
    // At the tail: timers of one slot keep the order they were scheduled in.
    timer.prev = head.prev;
    timer.next = &head;
    head.prev->next = &timer;
    head.prev = &timer;
    timer.list_ = list;
    if (list < kWheelLists) occupied_[list / kSlots] |= 1ull << (list % kSlots);
}

void TimerWheel::unlink(Timer& timer) noexcept {
    timer.prev->next = timer.next;
    timer.next->prev = timer.prev;
    timer.prev = timer.next = &timer;
    const std::uint16_t list = timer.list_;
    if (list < kWheelLists && list_empty(list)) occupied_[list / kSlots] &= ~(1ull << (list % kSlots));
}

void TimerWheel::move_list(std::uint16_t from, std::uint16_t to) noexcept {
    detail::TimerLink& src = lists_[from];
    detail::TimerLink& dst = lists_[to];
    assert(list_empty(to));
    if (list_empty(from)) return;
    dst.next = src.next;
    dst.prev = src.prev;
    dst.next->prev = &dst;
    dst.prev->next = &dst;
    src.prev = src.next = &src;
    for (detail::TimerLink* n = dst.next; n != &dst; n = n->next) static_cast<Timer*>(n)->list_ = to;
    if (from < kWheelLists) occupied_[from / kSlots] &= ~(1ull << (from % kSlots));
}

// Precondition: deadline > now_ns_, so its tick is >= current_tick_.
void TimerWheel::place(Timer& timer) noexcept {
    const std::uint64_t tick = timer.deadline_ns_ / tick_ns_;
    assert(tick >= current_tick_);
    // The level is that of the highest bit where the expiry tick differs
    // from the current tick: above it both share their slots, so the timer
    // needs no attention until time reaches the start of its slot's span.
    const std::uint64_t diff = tick ^ current_tick_;
    const unsigned level = diff == 0 ? 0 : static_cast<unsigned>(63 - __builtin_clzll(diff)) / kSlotBits;
    const auto slot = static_cast<unsigned>((tick >> (level * kSlotBits)) & (kSlots - 1));
    link(timer, static_cast<std::uint16_t>(level * kSlots + slot));
}

void TimerWheel::schedule(Timer& timer, std::uint64_t deadline_ns) noexcept {
    if (timer.wheel_ != nullptr) timer.wheel_->cancel(timer);
    timer.deadline_ns_ = deadline_ns;
    timer.wheel_ = this;
    ++armed_;
    if (deadline_ns <= now_ns_) {
        link(timer, kExpiredList);
    } else {
        place(timer);
    }
    // A lower bound stays one when lowered; the precise value is computed
    // again at the end of the next slow advance.
    if (deadline_ns < next_event_ns_) next_event_ns_ = deadline_ns;
}

void TimerWheel::schedule_after(Timer& timer, std::uint64_t delay_ns) noexcept {
    const std::uint64_t deadline = delay_ns > UINT64_MAX - now_ns_ ? UINT64_MAX : now_ns_ + delay_ns;
    schedule(timer, deadline);
}

void TimerWheel::cancel(Timer& timer) noexcept {
    if (timer.wheel_ == nullptr) return;
    if (timer.wheel_ != this) {
        timer.wheel_->cancel(timer);
        return;
    }
    unlink(timer);
    timer.wheel_ = nullptr;
    --armed_;
    // next_event_ns_ is left alone: a stale lower bound costs one slow
    // advance, keeping cancel O(1).
}

// The next tick after current_tick_ (capped at limit) at which something
// happens: a level-0 slot holds timers, or a higher-level slot's span
// begins and its timers must cascade. The lowest level with a candidate
// wins: its candidate lies inside the current span of the level above,
// before any candidate of a higher level.
std::uint64_t TimerWheel::next_event_tick(std::uint64_t limit) const noexcept {
    for (unsigned level = 0; level < kLevels; ++level) {
        const unsigned shift = level * kSlotBits;
        const auto index = static_cast<unsigned>((current_tick_ >> shift) & (kSlots - 1));
        const std::uint64_t later = index == kSlots - 1 ? 0 : occupied_[level] & (~0ull << (index + 1));
        if (later == 0) continue;
        const auto slot = static_cast<std::uint64_t>(__builtin_ctzll(later));
        const std::uint64_t tick = (current_tick_ & ~low_mask(shift + kSlotBits)) | (slot << shift);
        return tick < limit ? tick : limit;
    }
    return limit;
}

// Called when current_tick_ has just moved: every higher-level slot whose
// span current_tick_ now lies in is re-placed, from the top down, so a
// timer can fall several levels in one step. Its new level is lower than
// the one it left (they now agree on that level's bits).
void TimerWheel::cascade() noexcept {
    for (unsigned level = kLevels - 1; level > 0; --level) {
        const auto index = static_cast<unsigned>((current_tick_ >> (level * kSlotBits)) & (kSlots - 1));
        if ((occupied_[level] & (1ull << index)) == 0) continue;
        const auto list = static_cast<std::uint16_t>(level * kSlots + index);
        detail::TimerLink& head = lists_[list];
        detail::TimerLink* n = head.next;
        head.prev->next = nullptr;  // the detached chain ends here
        head.prev = head.next = &head;
        occupied_[level] &= ~(1ull << index);
        while (n != nullptr) {
            Timer& t = *static_cast<Timer*>(n);
            n = n->next;
            place(t);
        }
    }
}

std::size_t TimerWheel::fire_pending(std::uint64_t now_ns) noexcept {
    std::size_t fired = 0;
    detail::TimerLink& pending = lists_[kPendingList];
    // One timer at a time off the pending list, so a callback that cancels
    // or reschedules another timer of the same slot simply unlinks it.
    while (pending.next != &pending) {
        Timer& t = *static_cast<Timer*>(pending.next);
        unlink(t);
        if (t.deadline_ns_ <= now_ns) {
            t.wheel_ = nullptr;
            --armed_;
            ++fired;
            if (t.callback_ != nullptr) t.callback_(t.context_, t, now_ns);
        } else {
            place(t);  // later in the current tick: stays for a later advance
        }
    }
    return fired;
}

void TimerWheel::update_next_event() noexcept {
    if (!list_empty(kExpiredList)) {
        next_event_ns_ = 0;
        return;
    }
    std::uint64_t next = UINT64_MAX;
    // Timers left in the current tick's slot (due later in this tick).
    const auto current = static_cast<std::uint16_t>(current_tick_ & (kSlots - 1));
    if ((occupied_[0] & (1ull << current)) != 0) {
        for (const detail::TimerLink* n = lists_[current].next; n != &lists_[current]; n = n->next) {
            const auto& t = *static_cast<const Timer*>(n);
            if (t.deadline_ns_ < next) next = t.deadline_ns_;
        }
    }
    const std::uint64_t tick = next_event_tick(UINT64_MAX);
    if (tick != UINT64_MAX) {
        const std::uint64_t at = saturating_mul(tick, tick_ns_);
        if (at < next) next = at;
    }
    next_event_ns_ = next;
}

std::size_t TimerWheel::advance_slow(std::uint64_t now_ns) noexcept {
    assert(!advancing_ && "advance() called from a timer callback");
    if (advancing_) return 0;
    advancing_ = true;
    if (now_ns < now_ns_) now_ns = now_ns_;
    now_ns_ = now_ns;
    const std::uint64_t target = now_ns / tick_ns_;
    std::size_t fired = 0;

    // Deadlines already past when scheduled are the earliest of all.
    move_list(kExpiredList, kPendingList);
    fired += fire_pending(now_ns);

    for (;;) {
        const auto slot = static_cast<std::uint16_t>(current_tick_ & (kSlots - 1));
        if ((occupied_[0] & (1ull << slot)) != 0) {
            move_list(slot, kPendingList);
            fired += fire_pending(now_ns);
        }
        if (current_tick_ >= target) break;
        current_tick_ = next_event_tick(target);
        cascade();
    }

    update_next_event();
    advancing_ = false;
    return fired;
}

}  // namespace kbnet::stack
