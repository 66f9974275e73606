#include "kbnet/core/frame_pool.hpp"

#include <cassert>
#include <stdexcept>
#include <string>

#include "kbnet/core/cache.hpp"

namespace kbnet {

namespace {

std::uint32_t checked_count(const BufferArea& area, std::uint32_t first, std::uint32_t count) {
    if (count == 0 || first > area.frame_count() || count > area.frame_count() - first) {
        throw std::invalid_argument(
            "frame pool: frames [" + std::to_string(first) + ", " + std::to_string(std::uint64_t{first} + count) +
            ") are not a non-empty range inside an area of " + std::to_string(area.frame_count()) + " frames");
    }
    return count;
}

}  // namespace

FramePool::FramePool(const BufferArea& area, std::uint32_t first, std::uint32_t count)
    : area_(&area),
      first_(first),
      capacity_(checked_count(area, first, count)),
      top_(count),
      free_(new std::uint32_t[count]) {
    // Lowest index on top, so a fresh pool hands frames out in address order.
    for (std::uint32_t i = 0; i < count; ++i) free_[i] = first + count - 1 - i;
}

std::uint32_t FramePool::alloc_burst(std::span<PacketHandle> out) noexcept {
    const std::uint32_t n = out.size() < top_ ? static_cast<std::uint32_t>(out.size()) : top_;
    const std::uint16_t headroom = area_->headroom();
    for (std::uint32_t i = 0; i < n; ++i) out[i] = PacketHandle{free_[--top_], headroom, 0};
    return n;
}

bool FramePool::alloc_bulk(std::span<PacketHandle> out) noexcept {
    if (out.size() > top_) return false;
    return alloc_burst(out) == out.size();
}

void FramePool::free(std::span<const PacketHandle> handles) noexcept {
    for (const PacketHandle& h : handles) {
        if (KBNET_UNLIKELY(!owns(h.frame) || top_ == capacity_)) {
            assert(false && "frame pool: freeing a frame it does not own, or a double free");
            ++bad_frees_;
            continue;
        }
        free_[top_++] = h.frame;
    }
}

std::size_t FramePool::free_owned(std::span<const PacketHandle> handles) noexcept {
    bool all_owned = true;
    for (const PacketHandle& h : handles) all_owned = all_owned && owns(h.frame);
    if (KBNET_LIKELY(all_owned)) {
        free(handles);
        return 0;
    }
    std::size_t foreign = 0;
    for (const PacketHandle& h : handles) {
        if (owns(h.frame)) {
            free(h);
        } else {
            ++foreign;
        }
    }
    return foreign;
}

}  // namespace kbnet
