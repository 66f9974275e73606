#include "kbnet/core/buffer_area.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

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

    if (config.shared) {
        map_shared(config, wanted);
        return;
    }
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

void BufferArea::map_shared(const BufferAreaConfig& config, std::size_t wanted) {
    // A memfd with MFD_ALLOW_SEALING: the size is sealed once set, so a peer
    // that maps size_bytes() can trust the object never shrinks under it
    // (a shrink would turn its loads into SIGBUS).
    const auto create = [&](unsigned flags, std::size_t size) -> bool {
        const int fd = ::memfd_create("kbnet-buffers", MFD_CLOEXEC | MFD_ALLOW_SEALING | flags);
        if (fd < 0) return false;
        void* p = MAP_FAILED;
        if (::ftruncate(fd, static_cast<off_t>(size)) == 0) {
            p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
        }
        if (p == MAP_FAILED) {
            ::close(fd);
            return false;
        }
        (void)::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
        fd_ = fd;
        base_ = static_cast<std::uint8_t*>(p);
        size_ = size;
        return true;
    };
    if (config.hugepages && create(MFD_HUGETLB, round_up(wanted, kHugePage))) {
        page_kind_ = PageKind::huge_2m;
    } else {
        if (config.hugepages) {
            KBNET_LOG_INFO("buffer area: no free 2 MiB hugepages for a shared {} KiB area; using ordinary pages",
                           round_up(wanted, kHugePage) >> 10);
        }
        if (!create(0, round_up(wanted, 4096))) {
            throw std::system_error(errno, std::generic_category(),
                                    "buffer area: cannot create a shared memory file (memfd) of " +
                                        std::to_string(round_up(wanted, 4096)) + " bytes");
        }
        page_kind_ = PageKind::normal;
    }
    KBNET_LOG_INFO("buffer area: {} frames of {} bytes ({} KiB) in shared memory on {} pages", frame_count_,
                   frame_size(), size_ >> 10, page_kind_ == PageKind::huge_2m ? "2 MiB huge" : "ordinary");
}

BufferArea::~BufferArea() {
    if (base_ != nullptr) ::munmap(base_, size_);
    if (fd_ >= 0) ::close(fd_);
}

}  // namespace kbnet
