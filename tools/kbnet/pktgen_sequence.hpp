// Loss, reordering and duplicates of the numbered stream pktgen sends,
// counted as the echoes come back.
//
//   reordered:      a sequence number below the highest seen so far (and
//                   not a duplicate). With several receive queues the
//                   queues are polled one after another, so frames of
//                   different flows interleave differently than they were
//                   sent: flow_reordered counts the same within each flow,
//                   the order that RSS and fanout preserve.
//   duplicates:     a number seen before, found in a bitmap of the last
//                   kWindow numbers below the highest seen (8 KiB; one bit
//                   set and, as the highest advances, one cleared per
//                   number: no allocation, no search).
//   late:           older than the window, where a duplicate cannot be
//                   told apart; counted as received and reordered.
//   lost:           sent minus received (duplicates excluded), once the
//                   stragglers have had time to arrive.
#pragma once

#include <cstdint>
#include <vector>

namespace kbnet::tools {

class SequenceTracker {
  public:
    static constexpr std::uint64_t kWindow = std::uint64_t{1} << 16;  // numbers; 64K in flight at most between reorders

    enum class Verdict : std::uint8_t { in_order, reordered, duplicate, late };

    // Setup path: allocates the window and one slot per flow.
    explicit SequenceTracker(std::uint32_t flows) : bits_(kWindow / 64, 0), flow_next_(flows, 0) {}

    // flow < flows (the caller checked it: FrameTemplate::match does).
    Verdict record(std::uint64_t seq, std::uint32_t flow) noexcept {
        if (!any_ || seq > highest_) {
            if (any_) clear_between(highest_, seq);
            any_ = true;
            highest_ = seq;
            set(seq);
            ++received_;
            note_flow(seq, flow);
            return Verdict::in_order;
        }
        if (highest_ - seq >= kWindow) {
            ++received_;
            ++reordered_;
            ++late_;
            note_flow(seq, flow);
            return Verdict::late;
        }
        if (test(seq)) {
            ++duplicates_;
            return Verdict::duplicate;
        }
        set(seq);
        ++received_;
        ++reordered_;
        note_flow(seq, flow);
        return Verdict::reordered;
    }

    [[nodiscard]] std::uint64_t received() const noexcept { return received_; }
    [[nodiscard]] std::uint64_t reordered() const noexcept { return reordered_; }
    [[nodiscard]] std::uint64_t flow_reordered() const noexcept { return flow_reordered_; }
    [[nodiscard]] std::uint64_t duplicates() const noexcept { return duplicates_; }
    [[nodiscard]] std::uint64_t late() const noexcept { return late_; }
    // Of sent frames, those not (yet) received; 0 if more came back than
    // were sent (late duplicates that the window could not catch).
    [[nodiscard]] std::uint64_t lost(std::uint64_t sent) const noexcept {
        return sent > received_ ? sent - received_ : 0;
    }

  private:
    void set(std::uint64_t seq) noexcept { bits_[(seq % kWindow) / 64] |= std::uint64_t{1} << (seq % 64); }
    [[nodiscard]] bool test(std::uint64_t seq) const noexcept {
        return (bits_[(seq % kWindow) / 64] >> (seq % 64) & 1) != 0;
    }
    // The slots of from+1 .. to held numbers a whole window older; they
    // now stand for these, which have not been seen.
    void clear_between(std::uint64_t from, std::uint64_t to) noexcept {
        if (to - from >= kWindow) {
            for (std::uint64_t& w : bits_) w = 0;
            return;
        }
        for (std::uint64_t s = from + 1; s <= to; ++s) bits_[(s % kWindow) / 64] &= ~(std::uint64_t{1} << (s % 64));
    }
    void note_flow(std::uint64_t seq, std::uint32_t flow) noexcept {
        std::uint64_t& next = flow_next_[flow];  // highest seen in the flow + 1; 0 = none yet
        if (seq < next) {
            ++flow_reordered_;
        } else {
            next = seq + 1;
        }
    }

    std::vector<std::uint64_t> bits_;
    std::vector<std::uint64_t> flow_next_;
    std::uint64_t highest_ = 0;
    bool any_ = false;
    std::uint64_t received_ = 0;
    std::uint64_t reordered_ = 0;
    std::uint64_t flow_reordered_ = 0;
    std::uint64_t duplicates_ = 0;
    std::uint64_t late_ = 0;
};

}  // namespace kbnet::tools
