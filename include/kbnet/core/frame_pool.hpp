// Allocator of frames from a range of a buffer area, for one thread.
//
// A LIFO stack of free frame indices: the frame freed last is handed out
// first, while its cache lines are still warm. Not thread-safe by design;
// frames cross threads only inside handles on a ring, and the thread that
// owns a pool is the only one that touches it (see PairPort for how frames
// go back to their owner).
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "kbnet/core/buffer_area.hpp"
#include "kbnet/core/packet.hpp"

namespace kbnet {

class FramePool {
  public:
    // Owns frames [first, first + count) of the area, all free at the start.
    // Setup path: throws std::invalid_argument if the range is not inside it.
    FramePool(const BufferArea& area, std::uint32_t first, std::uint32_t count);

    [[nodiscard]] std::uint32_t capacity() const noexcept { return capacity_; }
    [[nodiscard]] std::uint32_t available() const noexcept { return top_; }
    [[nodiscard]] bool owns(std::uint32_t frame) const noexcept { return frame - first_ < capacity_; }
    [[nodiscard]] const BufferArea& area() const noexcept { return *area_; }

    // Fills out with fresh handles (offset = headroom, length 0).
    // burst: as many as are free, returns the count.
    [[nodiscard]] std::uint32_t alloc_burst(std::span<PacketHandle> out) noexcept;
    // bulk: all of out or nothing.
    [[nodiscard]] bool alloc_bulk(std::span<PacketHandle> out) noexcept;
    [[nodiscard]] bool alloc(PacketHandle& out) noexcept { return alloc_bulk(std::span<PacketHandle>(&out, 1)); }

    // Returns frames to the pool. A frame this pool does not own, or more
    // frees than allocations, is a caller bug: in debug builds it asserts;
    // in release builds the extra frames are ignored and counted in
    // bad_frees() so a leak or double free shows up in the counters.
    void free(std::span<const PacketHandle> handles) noexcept;
    void free(PacketHandle h) noexcept { free(std::span<const PacketHandle>(&h, 1)); }

    // Frees the handles whose frames this pool owns and leaves the others
    // alone, returning how many those were: for a port that must count a
    // caller's foreign handle (another queue's, another port's) rather than
    // assert on it. All owned is the common case and costs one pass more.
    [[nodiscard]] std::size_t free_owned(std::span<const PacketHandle> handles) noexcept;

    [[nodiscard]] std::uint64_t bad_frees() const noexcept { return bad_frees_; }

  private:
    const BufferArea* area_;
    std::uint32_t first_;
    std::uint32_t capacity_;
    std::uint32_t top_;  // number of free frames; free_[0 .. top_) are free
    std::uint64_t bad_frees_ = 0;
    std::unique_ptr<std::uint32_t[]> free_;
};

}  // namespace kbnet
