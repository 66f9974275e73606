// One contiguous area of fixed-size frames: the memory every packet of a
// port lives in (design.md, decision 2). For AF_XDP it becomes the UMEM and
// for memif the shared region, so a frame is addressed both by index and by
// its byte offset from the start of the area.
//
// The area is backed by 2 MiB hugepages when the system has free ones (fewer
// TLB misses on a large area), and by ordinary pages otherwise; the log says
// which. Frames are a power of two in size, so index <-> offset is a shift.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "kbnet/core/packet.hpp"

namespace kbnet {

struct BufferAreaConfig {
    std::uint32_t frame_count = 4096;
    std::uint32_t frame_size = 2048;  // power of two, 256 .. 65536
    std::uint16_t headroom = 256;     // bytes kept free in front of a new packet
    bool hugepages = true;            // try hugepages first
    // Back the area with a memfd mapped MAP_SHARED, so its file descriptor
    // can be handed to another process (memif passes it with SCM_RIGHTS and
    // the peer maps the same frames: zero copy across processes).
    bool shared = false;
};

enum class PageKind : std::uint8_t { normal, huge_2m };

class BufferArea {
  public:
    // Setup path: throws std::invalid_argument for a bad config (the message
    // says which field and the allowed range) and std::system_error when
    // memory cannot be mapped.
    explicit BufferArea(const BufferAreaConfig& config);
    ~BufferArea();
    BufferArea(const BufferArea&) = delete;
    BufferArea& operator=(const BufferArea&) = delete;

    [[nodiscard]] std::uint8_t* base() const noexcept { return base_; }
    [[nodiscard]] std::size_t size_bytes() const noexcept { return size_; }
    [[nodiscard]] std::uint32_t frame_count() const noexcept { return frame_count_; }
    [[nodiscard]] std::uint32_t frame_size() const noexcept { return 1u << frame_shift_; }
    [[nodiscard]] std::uint16_t headroom() const noexcept { return headroom_; }
    [[nodiscard]] PageKind page_kind() const noexcept { return page_kind_; }
    // The memfd behind a shared area (config.shared), -1 otherwise. The area
    // keeps it open for its lifetime; a receiver of a dup maps size_bytes().
    [[nodiscard]] int fd() const noexcept { return fd_; }

    // A handle for an empty packet at the start of a frame's data room.
    [[nodiscard]] PacketHandle fresh(std::uint32_t frame) const noexcept { return {frame, headroom_, 0}; }

    [[nodiscard]] std::uint8_t* frame_start(std::uint32_t frame) const noexcept {
        return base_ + (static_cast<std::size_t>(frame) << frame_shift_);
    }
    [[nodiscard]] std::uint8_t* data(PacketHandle h) const noexcept { return frame_start(h.frame) + h.offset; }
    [[nodiscard]] std::span<std::uint8_t> bytes(PacketHandle h) const noexcept { return {data(h), h.length}; }

    // Byte offset of the packet's first byte from the area's base (the UMEM
    // "address" of AF_XDP descriptors), and back.
    [[nodiscard]] std::uint64_t address(PacketHandle h) const noexcept {
        return (static_cast<std::uint64_t>(h.frame) << frame_shift_) + h.offset;
    }
    [[nodiscard]] PacketHandle from_address(std::uint64_t addr, std::uint16_t length) const noexcept {
        const std::uint64_t mask = (1ull << frame_shift_) - 1;
        return {static_cast<std::uint32_t>(addr >> frame_shift_), static_cast<std::uint16_t>(addr & mask), length};
    }

    // Bytes free after the packet's end in its frame.
    [[nodiscard]] std::uint32_t tailroom(PacketHandle h) const noexcept { return frame_size() - h.offset - h.length; }
    // Grows the packet by n bytes at the end. False, and no change, if the
    // frame has less than n bytes of tailroom or the length would pass 65535.
    [[nodiscard]] bool append(PacketHandle& h, std::uint32_t n) const noexcept {
        if (n > tailroom(h) || n > 0xffffu - h.length) return false;
        h.length = static_cast<std::uint16_t>(h.length + n);
        return true;
    }
    // True if the handle names a frame of this area and lies inside it: the
    // check to make on any handle that came from outside (a peer's ring).
    [[nodiscard]] bool contains(PacketHandle h) const noexcept {
        // offset < frame_size: an empty handle just past a frame's end would
        // alias the next frame's first byte in address().
        return h.frame < frame_count_ && h.offset < frame_size() &&
               static_cast<std::uint32_t>(h.offset) + h.length <= frame_size();
    }

  private:
    void map_shared(const BufferAreaConfig& config, std::size_t wanted);

    std::uint8_t* base_ = nullptr;
    std::size_t size_ = 0;
    std::uint32_t frame_count_ = 0;
    std::uint32_t frame_shift_ = 0;
    std::uint16_t headroom_ = 0;
    PageKind page_kind_ = PageKind::normal;
    int fd_ = -1;
};

}  // namespace kbnet
