// TimerWheel: exact firing (never early, never skipped), ordering, cancel,
// reschedule, callbacks that change timers mid-advance, deadlines across
// every level, big time jumps, and a random run checked against a model.
#include "kbnet/stack/timer_wheel.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace kbnet::stack {
namespace {

constexpr std::uint64_t kMs = 1'000'000;
constexpr std::uint64_t kSec = 1'000 * kMs;
constexpr std::uint64_t kHour = 3'600 * kSec;

// A timer that records when it fired, and runs an optional action.
struct Probe {
    Timer timer{&Probe::fire, this};
    int id = 0;
    std::vector<std::uint64_t> fired_at;
    std::vector<int>* order = nullptr;
    void (*action)(Probe&, std::uint64_t now) = nullptr;
    TimerWheel* wheel = nullptr;
    Probe* other = nullptr;

    static void fire(void* context, Timer& timer, std::uint64_t now) {
        auto& p = *static_cast<Probe*>(context);
        EXPECT_EQ(&timer, &p.timer);
        EXPECT_FALSE(timer.armed()) << "a firing timer is disarmed before its callback";
        p.fired_at.push_back(now);
        if (p.order != nullptr) p.order->push_back(p.id);
        if (p.action != nullptr) p.action(p, now);
    }
};

TEST(TimerWheel, fires_when_now_reaches_the_deadline_and_never_before) {
    TimerWheel wheel;
    Probe p;
    wheel.schedule(p.timer, 5 * kMs);
    EXPECT_TRUE(p.timer.armed());
    EXPECT_EQ(wheel.advance(5 * kMs - 1), 0u);
    EXPECT_TRUE(p.fired_at.empty());
    EXPECT_EQ(wheel.advance(5 * kMs), 1u);
    ASSERT_EQ(p.fired_at.size(), 1u);
    EXPECT_EQ(p.fired_at[0], 5 * kMs);
    EXPECT_FALSE(p.timer.armed());
    EXPECT_EQ(wheel.armed_count(), 0u);
    EXPECT_EQ(wheel.advance(100 * kMs), 0u) << "fires once";
}

TEST(TimerWheel, deadline_inside_a_tick_fires_at_the_deadline_not_the_tick_boundary) {
    TimerWheel wheel;  // 1 ms ticks
    Probe p;
    wheel.schedule(p.timer, 5 * kMs + 500'000);
    EXPECT_EQ(wheel.advance(5 * kMs + 100'000), 0u) << "same tick, deadline not reached";
    EXPECT_EQ(wheel.advance(5 * kMs + 499'999), 0u);
    EXPECT_EQ(wheel.advance(5 * kMs + 500'000), 1u);
}

TEST(TimerWheel, fires_in_deadline_order_within_one_advance) {
    TimerWheel wheel;
    std::vector<int> order;
    const std::uint64_t deadlines[] = {70 * kMs, 3 * kMs, 4 * kSec, 64 * kMs, 65 * kMs, 1 * kMs, 63 * kMs, 20 * kSec};
    std::vector<std::unique_ptr<Probe>> probes;
    for (std::uint64_t d : deadlines) {
        probes.push_back(std::make_unique<Probe>());
        probes.back()->id = static_cast<int>(d / kMs);
        probes.back()->order = &order;
        wheel.schedule(probes.back()->timer, d);
    }
    EXPECT_EQ(wheel.advance(30 * kSec), 8u);
    EXPECT_EQ(order, (std::vector<int>{1, 3, 63, 64, 65, 70, 4000, 20000}));
}

TEST(TimerWheel, timers_of_one_tick_fire_in_the_order_they_were_scheduled) {
    TimerWheel wheel;
    std::vector<int> order;
    Probe a, b, c;
    a.id = 1, b.id = 2, c.id = 3;
    a.order = b.order = c.order = &order;
    wheel.schedule(b.timer, 7 * kMs);
    wheel.schedule(a.timer, 7 * kMs);
    wheel.schedule(c.timer, 7 * kMs);
    wheel.advance(7 * kMs);
    EXPECT_EQ(order, (std::vector<int>{2, 1, 3}));
}

TEST(TimerWheel, cancelled_timer_never_fires) {
    TimerWheel wheel;
    Probe p, q;
    wheel.schedule(p.timer, 10 * kMs);
    wheel.schedule(q.timer, 10 * kMs);
    wheel.cancel(p.timer);
    EXPECT_FALSE(p.timer.armed());
    EXPECT_EQ(wheel.armed_count(), 1u);
    wheel.cancel(p.timer);  // idempotent
    EXPECT_EQ(wheel.advance(1 * kSec), 1u);
    EXPECT_TRUE(p.fired_at.empty());
    EXPECT_EQ(q.fired_at.size(), 1u);
}

TEST(TimerWheel, rescheduling_an_armed_timer_moves_it) {
    TimerWheel wheel;
    Probe p;
    wheel.schedule(p.timer, 10 * kMs);
    wheel.schedule(p.timer, 2 * kHour);  // later, other level
    EXPECT_EQ(wheel.armed_count(), 1u);
    EXPECT_EQ(wheel.advance(1 * kHour), 0u);
    wheel.schedule(p.timer, 1 * kHour + 5 * kMs);  // earlier again
    EXPECT_EQ(wheel.advance(1 * kHour + 4 * kMs), 0u);
    EXPECT_EQ(wheel.advance(1 * kHour + 5 * kMs), 1u);
    EXPECT_EQ(wheel.advance(3 * kHour), 0u) << "the old deadlines are gone";
    EXPECT_EQ(p.fired_at, (std::vector<std::uint64_t>{1 * kHour + 5 * kMs}));
}

TEST(TimerWheel, deadline_in_the_past_fires_on_the_next_advance) {
    TimerWheel wheel(kMs, 10 * kSec);
    Probe p;
    wheel.schedule(p.timer, 1 * kSec);
    EXPECT_TRUE(wheel.may_fire(10 * kSec));
    EXPECT_EQ(wheel.advance(10 * kSec), 1u);
    EXPECT_EQ(p.fired_at, (std::vector<std::uint64_t>{10 * kSec}));
}

TEST(TimerWheel, callback_rearms_its_own_timer_periodically) {
    TimerWheel wheel;
    Probe p;
    p.wheel = &wheel;
    p.action = [](Probe& self, std::uint64_t) {
        self.wheel->schedule(self.timer, self.timer.deadline_ns() + 10 * kMs);
    };
    wheel.schedule(p.timer, 10 * kMs);
    for (std::uint64_t t = 0; t <= 100 * kMs; t += kMs / 4) wheel.advance(t);
    ASSERT_EQ(p.fired_at.size(), 10u);
    for (std::size_t i = 0; i < 10; ++i) EXPECT_EQ(p.fired_at[i], (i + 1) * 10 * kMs);
    EXPECT_TRUE(p.timer.armed());
}

TEST(TimerWheel, callback_rearming_in_the_past_fires_once_per_advance_not_in_a_loop) {
    TimerWheel wheel;
    Probe p;
    p.wheel = &wheel;
    p.action = [](Probe& self, std::uint64_t now) { self.wheel->schedule(self.timer, now); };
    wheel.schedule(p.timer, 1 * kMs);
    EXPECT_EQ(wheel.advance(5 * kMs), 1u);
    EXPECT_TRUE(wheel.may_fire(5 * kMs));
    EXPECT_EQ(wheel.advance(5 * kMs), 1u);
    EXPECT_EQ(wheel.advance(6 * kMs), 1u);
    EXPECT_EQ(p.fired_at, (std::vector<std::uint64_t>{5 * kMs, 5 * kMs, 6 * kMs}));
}

TEST(TimerWheel, callback_cancels_another_timer_due_in_the_same_advance) {
    TimerWheel wheel;
    Probe a, same_tick, later_tick;
    a.wheel = &wheel;
    a.action = [](Probe& self, std::uint64_t) {
        self.wheel->cancel(self.other->timer);
        self.wheel->cancel(self.other->other->timer);
    };
    a.other = &same_tick;
    same_tick.other = &later_tick;
    wheel.schedule(a.timer, 3 * kMs);
    wheel.schedule(same_tick.timer, 3 * kMs);  // same slot, behind a
    wheel.schedule(later_tick.timer, 9 * kMs);
    EXPECT_EQ(wheel.advance(20 * kMs), 1u);
    EXPECT_EQ(a.fired_at.size(), 1u);
    EXPECT_TRUE(same_tick.fired_at.empty());
    EXPECT_TRUE(later_tick.fired_at.empty());
    EXPECT_EQ(wheel.armed_count(), 0u);
}

TEST(TimerWheel, callback_moves_another_timer_due_in_the_same_advance_to_later) {
    TimerWheel wheel;
    Probe a, b;
    a.wheel = &wheel;
    a.other = &b;
    a.action = [](Probe& self, std::uint64_t) { self.wheel->schedule(self.other->timer, 50 * kMs); };
    wheel.schedule(a.timer, 3 * kMs);
    wheel.schedule(b.timer, 3 * kMs);
    EXPECT_EQ(wheel.advance(10 * kMs), 1u);
    EXPECT_TRUE(b.fired_at.empty());
    EXPECT_EQ(wheel.advance(49 * kMs), 0u);
    EXPECT_EQ(wheel.advance(50 * kMs), 1u);
    EXPECT_EQ(b.fired_at, (std::vector<std::uint64_t>{50 * kMs}));
}

TEST(TimerWheel, callback_schedules_a_new_timer_that_fires_at_its_own_deadline) {
    TimerWheel wheel;
    Probe a, b;
    a.wheel = &wheel;
    a.other = &b;
    a.action = [](Probe& self, std::uint64_t now) { self.wheel->schedule(self.other->timer, now + 2 * kHour); };
    wheel.schedule(a.timer, 1 * kSec);
    wheel.advance(1 * kSec);
    EXPECT_EQ(wheel.advance(2 * kHour + 1 * kSec - 1), 0u);
    EXPECT_EQ(wheel.advance(2 * kHour + 1 * kSec), 1u);
}

// Deadlines whose ticks differ from the start in bits of levels 1..5: each
// must cascade down through the levels and still fire exactly on time,
// whether time moves in small steps or jumps.
TEST(TimerWheel, long_deadlines_cross_wheel_levels_and_fire_exactly) {
    const std::uint64_t deadlines[] = {1 * kHour, 30 * kHour, 17 * 24 * kHour + 3 * kMs,
                                       64 * kMs,  4096 * kMs, 262'144 * kMs};
    for (std::uint64_t d : deadlines) {
        TimerWheel stepped;
        Probe p;
        stepped.schedule(p.timer, d);
        // 997 ms steps hit no power-of-two boundary in step with the wheel.
        std::uint64_t t = 0;
        while (t + 997 * kMs < d) {
            t += 997 * kMs;
            ASSERT_EQ(stepped.advance(t), 0u) << "early at " << t << " for deadline " << d;
        }
        ASSERT_EQ(stepped.advance(d - 1), 0u) << d;
        ASSERT_EQ(stepped.advance(d), 1u) << d;

        TimerWheel jumped;
        Probe q;
        jumped.schedule(q.timer, d);
        EXPECT_EQ(jumped.advance(d - 1), 0u) << d;
        EXPECT_EQ(jumped.advance(d), 1u) << d;
    }
}

TEST(TimerWheel, deadline_at_the_end_of_time_fires_only_there) {
    TimerWheel wheel;
    Probe p;
    wheel.schedule(p.timer, UINT64_MAX);
    EXPECT_EQ(wheel.advance(UINT64_MAX - 1), 0u);
    EXPECT_EQ(wheel.advance(UINT64_MAX), 1u);
}

TEST(TimerWheel, big_time_jump_fires_what_is_due_in_order_and_keeps_the_rest) {
    TimerWheel wheel;
    std::vector<int> order;
    Probe a, b, c;
    a.id = 1, b.id = 2, c.id = 3;
    a.order = b.order = c.order = &order;
    wheel.schedule(c.timer, 50 * kHour);
    wheel.schedule(b.timer, 1 * kHour);
    wheel.schedule(a.timer, 1 * kSec);
    EXPECT_EQ(wheel.advance(2 * kHour), 2u);
    EXPECT_EQ(order, (std::vector<int>{1, 2}));
    EXPECT_EQ(wheel.armed_count(), 1u);
    EXPECT_EQ(wheel.advance(50 * kHour - 1), 0u);
    EXPECT_EQ(wheel.advance(100 * kHour), 1u);
    EXPECT_EQ(c.fired_at, (std::vector<std::uint64_t>{100 * kHour}));
}

TEST(TimerWheel, ten_thousand_timers_each_fire_exactly_once_at_the_first_advance_past_their_deadline) {
    TimerWheel wheel;
    std::mt19937_64 rng(42);
    std::vector<std::unique_ptr<Probe>> probes(10'000);
    std::vector<std::uint64_t> deadline(probes.size());
    for (std::size_t i = 0; i < probes.size(); ++i) {
        probes[i] = std::make_unique<Probe>();
        deadline[i] = rng() % (3 * kHour);
        wheel.schedule(probes[i]->timer, deadline[i]);
    }
    std::vector<std::uint64_t> advances;  // every now passed to advance, ascending
    std::uint64_t now = 0;
    std::size_t fired = 0;
    while (wheel.armed_count() > 0) {
        now += rng() % (2 * kSec);  // steps of 0..2 s, some inside one tick
        advances.push_back(now);
        fired += wheel.advance(now);
        ASSERT_LT(advances.size(), 100'000u);
    }
    for (std::size_t i = 0; i < probes.size(); ++i) {
        ASSERT_EQ(probes[i]->fired_at.size(), 1u) << "timer " << i;
        const auto first_due = *std::lower_bound(advances.begin(), advances.end(), deadline[i]);
        ASSERT_EQ(probes[i]->fired_at[0], first_due) << "timer " << i << " deadline " << deadline[i];
    }
    EXPECT_EQ(fired, probes.size());
}

TEST(TimerWheel, idle_advance_before_the_next_event_fires_nothing_and_may_fire_says_so) {
    TimerWheel wheel;
    EXPECT_EQ(wheel.next_event_ns(), UINT64_MAX);
    EXPECT_FALSE(wheel.may_fire(10 * kHour));
    Probe p;
    wheel.schedule(p.timer, 30 * kSec);
    EXPECT_LE(wheel.next_event_ns(), 30 * kSec);
    for (std::uint64_t t = 0; t < 30 * kSec; t += 7 * kMs) {
        wheel.advance(t);
        ASSERT_LE(wheel.next_event_ns(), 30 * kSec) << "a lower bound of the deadline";
        ASSERT_EQ(wheel.now_ns(), t);
    }
    EXPECT_FALSE(wheel.may_fire(30 * kSec - 1));
    EXPECT_TRUE(wheel.may_fire(30 * kSec));
    EXPECT_EQ(wheel.advance(30 * kSec), 1u);
    EXPECT_EQ(wheel.next_event_ns(), UINT64_MAX);
}

TEST(TimerWheel, next_event_is_exact_to_the_tick_for_a_near_timer) {
    TimerWheel wheel;
    Probe p, q;
    wheel.schedule(p.timer, 20 * kMs + 300);
    EXPECT_EQ(wheel.next_event_ns(), 20 * kMs + 300) << "schedule lowers the bound to the deadline";
    wheel.schedule(q.timer, 1 * kMs);
    EXPECT_EQ(wheel.advance(1 * kMs), 1u);  // a slow advance recomputes the bound from the bitmaps
    EXPECT_EQ(wheel.next_event_ns(), 20 * kMs);
    EXPECT_EQ(wheel.advance(19 * kMs), 0u);
    EXPECT_EQ(wheel.advance(20 * kMs + 300), 1u);
}

TEST(TimerWheel, time_does_not_go_backwards) {
    TimerWheel wheel;
    Probe p;
    wheel.advance(10 * kSec);
    wheel.advance(5 * kSec);
    EXPECT_EQ(wheel.now_ns(), 10 * kSec);
    wheel.schedule_after(p.timer, 1 * kSec);
    EXPECT_EQ(p.timer.deadline_ns(), 11 * kSec);
}

TEST(TimerWheel, destroying_an_armed_timer_disarms_it) {
    TimerWheel wheel;
    Probe kept;
    {
        Probe gone;
        wheel.schedule(gone.timer, 5 * kMs);
        wheel.schedule(kept.timer, 5 * kMs);
        EXPECT_EQ(wheel.armed_count(), 2u);
    }
    EXPECT_EQ(wheel.armed_count(), 1u);
    EXPECT_EQ(wheel.advance(10 * kMs), 1u);
    EXPECT_EQ(kept.fired_at.size(), 1u);
}

TEST(TimerWheel, timers_may_outlive_their_wheel) {
    Probe p;
    {
        TimerWheel wheel;
        wheel.schedule(p.timer, 5 * kMs);
    }
    EXPECT_FALSE(p.timer.armed());
}

TEST(TimerWheel, other_tick_sizes_keep_the_same_exactness) {
    TimerWheel wheel(10'000, 123);  // 10 us ticks, odd start
    Probe p;
    wheel.schedule(p.timer, 123 + 5 * kSec + 1);
    EXPECT_EQ(wheel.advance(123 + 5 * kSec), 0u);
    EXPECT_EQ(wheel.advance(123 + 5 * kSec + 1), 1u);
}

TEST(TimerWheel, zero_tick_is_rejected_with_a_message_naming_the_fix) {
    try {
        TimerWheel wheel(0);
        FAIL() << "expected std::invalid_argument";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("tick"), std::string::npos);
    }
}

// Random schedule / reschedule / cancel / advance against a plain map of
// deadlines: the wheel must fire exactly the timers the model says are due,
// each once, at every step.
TEST(TimerWheel, matches_a_reference_model_under_random_operations) {
    for (std::uint64_t tick : {std::uint64_t{1}, std::uint64_t{1'000}, kMs}) {
        TimerWheel wheel(tick);
        std::mt19937_64 rng(tick * 7 + 1);
        constexpr std::size_t kTimers = 200;
        std::vector<std::unique_ptr<Probe>> probes(kTimers);
        for (std::size_t i = 0; i < kTimers; ++i) {
            probes[i] = std::make_unique<Probe>();
            probes[i]->id = static_cast<int>(i);
        }
        std::map<std::size_t, std::uint64_t> model;  // armed timer -> deadline
        std::uint64_t now = 0;
        for (int step = 0; step < 20'000; ++step) {
            const std::size_t i = rng() % kTimers;
            switch (rng() % 4) {
                case 0:
                case 1: {
                    // Mostly near, sometimes far; some already past.
                    const std::uint64_t span = (rng() % 8 == 0) ? 10 * kHour : 100 * kMs;
                    const std::uint64_t d = now + rng() % span - (rng() % 16 == 0 ? std::min(now, kMs) : 0);
                    wheel.schedule(probes[i]->timer, d);
                    model[i] = d;
                    break;
                }
                case 2:
                    wheel.cancel(probes[i]->timer);
                    model.erase(i);
                    break;
                default: {
                    now += (rng() % 32 == 0) ? rng() % (5 * kHour) : rng() % (3 * kMs);
                    for (auto& p : probes) p->fired_at.clear();
                    wheel.advance(now);
                    std::size_t due_count = 0;
                    for (auto it = model.begin(); it != model.end();) {
                        const bool due = it->second <= now;
                        ASSERT_EQ(probes[it->first]->fired_at.size(), due ? 1u : 0u)
                            << "tick " << tick << " step " << step << " deadline " << it->second << " now " << now;
                        due_count += due ? 1 : 0;
                        it = due ? model.erase(it) : std::next(it);
                    }
                    std::size_t fired = 0;
                    for (auto& p : probes) fired += p->fired_at.size();
                    ASSERT_EQ(fired, due_count) << "only armed, due timers fire";
                }
            }
            ASSERT_EQ(wheel.armed_count(), model.size());
        }
    }
}

}  // namespace
}  // namespace kbnet::stack
