// One memif connection's shared state: the regions both sides map, the rings
// in them and their eventfds. The control thread builds a Session during the
// handshake and publishes it to the data path; it never changes afterwards,
// except for the fault word the data path raises when the peer breaks the
// protocol in shared memory.
#pragma once

#include <sys/mman.h>

#include <atomic>
#include <cstdint>
#include <vector>

#include "port/memif/memif_abi.hpp"
#include "port/memif/memif_socket.hpp"

namespace kbnet::port::memif {

struct Region {
    std::uint8_t* base = nullptr;
    std::uint64_t size = 0;
    bool owned = false;  // unmapped with the session (the client's buffer area is not: it outlives connections)
};

// A ring in shared memory. head and tail are read and written through
// std::atomic_ref: the peer is another process on another core.
struct RingRef {
    std::uint8_t* header = nullptr;
    std::uint32_t log2 = 0;
    int eventfd = -1;  // the peer's wakeup for this ring (owned by the Session)

    [[nodiscard]] std::uint32_t size() const noexcept { return 1u << log2; }
    [[nodiscard]] std::uint16_t mask() const noexcept { return static_cast<std::uint16_t>(size() - 1); }
    [[nodiscard]] std::atomic_ref<std::uint16_t> head() const noexcept {
        return std::atomic_ref<std::uint16_t>(*reinterpret_cast<std::uint16_t*>(header + ring::kHead));
    }
    [[nodiscard]] std::atomic_ref<std::uint16_t> tail() const noexcept {
        return std::atomic_ref<std::uint16_t>(*reinterpret_cast<std::uint16_t*>(header + ring::kTail));
    }
    [[nodiscard]] std::atomic_ref<std::uint16_t> flags() const noexcept {
        return std::atomic_ref<std::uint16_t>(*reinterpret_cast<std::uint16_t*>(header + ring::kFlags));
    }
    [[nodiscard]] std::uint32_t cookie() const noexcept { return get<std::uint32_t>({header, 4}, ring::kCookie); }
    [[nodiscard]] Descriptor* desc(std::uint32_t slot) const noexcept {
        return reinterpret_cast<Descriptor*>(header + ring::kDescs) + (slot & mask());
    }
    // A descriptor the peer may be rewriting right now, read exactly once
    // (field by field, relaxed): the copy is what gets validated and used,
    // so the peer cannot change a value between its check and its use.
    [[nodiscard]] Descriptor read(std::uint32_t slot) const noexcept {
        Descriptor* d = desc(slot);
        Descriptor out;
        out.flags = std::atomic_ref<std::uint16_t>(d->flags).load(std::memory_order_relaxed);
        out.region = std::atomic_ref<std::uint16_t>(d->region).load(std::memory_order_relaxed);
        out.length = std::atomic_ref<std::uint32_t>(d->length).load(std::memory_order_relaxed);
        out.offset = std::atomic_ref<std::uint32_t>(d->offset).load(std::memory_order_relaxed);
        out.metadata = 0;
        return out;
    }
};

// Why the data path gave up on a connection (stored in Session::fault).
enum class Fault : std::uint32_t {
    none = 0,
    bad_descriptor,  // a descriptor names a region or a range outside it
    bad_index,       // the peer moved head or tail by more than the ring holds
    too_long,        // a chained packet longer than the receiver's buffers can hold
};
const char* fault_reason(Fault f) noexcept;

class Session {
  public:
    Session() = default;
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;
    ~Session() {
        for (Region& r : regions) {
            if (r.owned && r.base != nullptr) ::munmap(r.base, r.size);
        }
    }

    std::uint64_t generation = 0;
    std::vector<Region> regions;
    std::vector<RingRef> c2s;  // client -> server rings, by index
    std::vector<RingRef> s2c;  // server -> client rings, by index
    std::vector<Fd> fds;       // region memfds and ring eventfds this side holds
    std::atomic<Fault> fault{Fault::none};

    // True if [offset, offset + length) lies inside region `region`.
    [[nodiscard]] bool contains(std::uint16_t region, std::uint32_t offset, std::uint32_t length) const noexcept {
        return region < regions.size() &&
               std::uint64_t{offset} + length <= regions[region].size;
    }
    [[nodiscard]] std::uint8_t* at(std::uint16_t region, std::uint32_t offset) const noexcept {
        return regions[region].base + offset;
    }
};

}  // namespace kbnet::port::memif
