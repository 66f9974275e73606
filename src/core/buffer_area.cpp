#include "kbnet/core/buffer_area.hpp"

#include <sys/mman.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>

#include "kbnet/core/log.hpp"

namespace kbnet {
namespace {

constexpr std::size_t kHugePage = 2u << 20;

std::size_t round_up(std::size_t v, std::size_t to) { return (v + to - 1) / to * to; }

}  // namespace

BufferArea::BufferArea(const BufferAreaConfig& config) {
    if (config.frame_size < 256 || config.frame_size > 65536 || !std::has_single_bit(config.frame_size)) {
        throw std::invalid_argument("buffer area: frame_size must be a power of two from 256 to 65536, got " +
                                    std::to_string(config.frame_size));
    }
    if (config.frame_count == 0 || config.frame_count > (1u << 24)) {
        throw std::invalid_argument("buffer area: frame_count must be 1 .. 16777216, got " +
                                    std::to_string(config.frame_count));
    }
    // A packet handle's offset and length are 16-bit: with a 64 KiB frame the
    // headroom must leave room for data, and it must leave at least a
    // minimum-size Ethernet frame in any frame.
    if (config.headroom > config.frame_size - 128) {
        throw std::invalid_argument("buffer area: headroom " + std::to_string(config.headroom) +
                                    " leaves under 128 bytes of a " + std::to_string(config.frame_size) +
                                    "-byte frame; lower the headroom or raise frame_size");
    }

    frame_count_ = config.frame_count;
    frame_shift_ = static_cast<std::uint32_t>(std::countr_zero(config.frame_size));
    headroom_ = config.headroom;
    const std::size_t wanted = static_cast<std::size_t>(config.frame_count) << frame_shift_;

    void* p = MAP_FAILED;
    if (config.hugepages) {
        size_ = round_up(wanted, kHugePage);
        p = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1,
                   0);
        if (p != MAP_FAILED) {
            page_kind_ = PageKind::huge_2m;
        } else {
            KBNET_LOG_INFO(
                "buffer area: no free 2 MiB hugepages for {} KiB ({}); using ordinary pages "
                "(echo N > /proc/sys/vm/nr_hugepages to enable)",
                size_ >> 10, std::strerror(errno));
        }
    }
    if (p == MAP_FAILED) {
        size_ = round_up(wanted, 4096);
        // MAP_POPULATE: fault every page in now, at setup, rather than on the
        // first packet that touches it.
        p = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (p == MAP_FAILED) {
            throw std::system_error(errno, std::generic_category(),
                                    "buffer area: cannot map " + std::to_string(size_) + " bytes");
        }
        page_kind_ = PageKind::normal;
    }
    base_ = static_cast<std::uint8_t*>(p);
    KBNET_LOG_INFO("buffer area: {} frames of {} bytes ({} KiB) on {} pages", frame_count_, frame_size(), size_ >> 10,
                   page_kind_ == PageKind::huge_2m ? "2 MiB huge" : "ordinary");
}

BufferArea::~BufferArea() {
    if (base_ != nullptr) ::munmap(base_, size_);
}

}  // namespace kbnet
