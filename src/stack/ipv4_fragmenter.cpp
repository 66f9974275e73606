#include "kbnet/stack/ipv4_fragmenter.hpp"

#include <algorithm>
#include <cstring>

namespace kbnet::stack {

namespace {

// RFC 791 §3.1 "Options": the high bit of the option type is the copied
// flag, "the option is copied into all fragments on fragmentation".
constexpr std::uint8_t kOptionCopiedFlag = 0x80;
// The fragment offset field holds 13 bits of 8-byte units.
constexpr std::size_t kMaxFragmentOffset = 0x1fff * 8;

struct Plan {
    wire::Ipv4Header first;      // header of fragment zero: every option
    wire::Ipv4Header rest;       // header of later fragments: copied options only
    std::size_t first_data = 0;  // payload bytes in fragment zero
    std::size_t rest_data = 0;   // payload bytes in each later fragment but the last
    std::size_t count = 0;
};

// The options area with only the copied options kept, in their order: the
// header of a later fragment is "selectively copied" (RFC 791 §3.2, the
// fragmentation procedure; "some options are copied, but others remain with
// the first fragment only"). No Operation and End of Option List have the
// flag clear, so they go; emit() pads what is left to a 32-bit boundary.
Status copy_copied_options(const wire::Ipv4Header& from, wire::Ipv4Header& to) noexcept {
    to.options_len = 0;
    const std::span<const std::uint8_t> area(from.options.data(), from.options_len);
    std::size_t i = 0;
    while (i < area.size()) {
        const std::uint8_t type = area[i];
        if (type == wire::kIpv4OptionEnd) break;
        if (type == wire::kIpv4OptionNop) {
            ++i;
            continue;
        }
        // Type-length-value: the length counts the type and length octets.
        if (area.size() - i < 2 || area[i + 1] < 2 || area[i + 1] > area.size() - i) {
            return Error{Errc::invalid_argument, "IPv4 fragmenter: an option's length runs past the options area"};
        }
        const std::size_t len = area[i + 1];
        if ((type & kOptionCopiedFlag) != 0) {
            Status s = to.add_option(area.subspan(i, len));
            if (!s) return s;
        }
        i += len;
    }
    return {};
}

Result<Plan> make_plan(const wire::Ipv4Header& header, std::size_t payload_len, std::uint32_t mtu) noexcept {
    if (mtu < kIpv4MinMtu) {
        return Error{Errc::invalid_argument, "IPv4 fragmenter: MTU below 68, the IPv4 minimum (RFC 791 §3.2)"};
    }
    if (header.options_len > wire::kIpv4MaxOptionsLen) {
        return Error{Errc::invalid_argument, "IPv4 fragmenter: options longer than 40 bytes"};
    }
    if (header.fragment_offset % 8 != 0) {
        return Error{Errc::invalid_argument, "IPv4 fragmenter: fragment offset not a multiple of 8 bytes"};
    }
    Plan plan;
    plan.first = header;
    plan.rest = header;
    Status opts = copy_copied_options(header, plan.rest);
    if (!opts) return opts.error();

    const std::size_t first_header = plan.first.header_len();
    if (first_header + payload_len > wire::kIpv4MaxTotalLen) {
        return Error{Errc::invalid_argument, "IPv4 fragmenter: header and payload longer than 65535 bytes (EMSGSIZE)"};
    }
    if (first_header + payload_len <= mtu) {
        plan.first_data = payload_len;
        plan.count = 1;
        return plan;
    }
    // RFC 791 §3.1 "Flags": DF set means "Don't Fragment"; such a datagram
    // larger than the MTU cannot be sent (an ICMP "fragmentation needed"
    // on a router, EMSGSIZE on a host).
    if (header.dont_fragment) {
        return Error{Errc::invalid_argument, "IPv4 fragmenter: datagram larger than the MTU with DF set (EMSGSIZE)"};
    }
    // RFC 791 §3.2: each fragment but the last carries a multiple of 8
    // bytes, as many as fit the MTU after its header. MTU >= 68 and a header
    // of at most 60 bytes leave at least 8.
    plan.first_data = (mtu - first_header) / 8 * 8;
    plan.rest_data = (mtu - plan.rest.header_len()) / 8 * 8;
    const std::size_t left = payload_len - plan.first_data;  // > 0: the datagram did not fit
    plan.count = 1 + (left + plan.rest_data - 1) / plan.rest_data;
    const std::size_t last_offset = plan.first_data + (plan.count - 2) * plan.rest_data;
    if (header.fragment_offset + last_offset > kMaxFragmentOffset) {
        return Error{Errc::invalid_argument, "IPv4 fragmenter: a fragment offset would pass 65528 bytes"};
    }
    return plan;
}

}  // namespace

Result<std::size_t> ipv4_fragment_count(const wire::Ipv4Header& header, std::size_t payload_len,
                                        std::uint32_t mtu) noexcept {
    auto plan = make_plan(header, payload_len, mtu);
    if (!plan) return plan.error();
    return plan->count;
}

namespace {

// Copies bytes [offset, offset + n) of the concatenation head + body to out.
void gather(std::span<const std::uint8_t> head, std::span<const std::uint8_t> body, std::size_t offset, std::size_t n,
            std::uint8_t* out) noexcept {
    if (offset < head.size()) {
        const std::size_t k = std::min(n, head.size() - offset);
        std::memcpy(out, head.data() + offset, k);
        out += k;
        n -= k;
        offset = 0;
    } else {
        offset -= head.size();
    }
    if (n > 0) std::memcpy(out, body.data() + offset, n);
}

Status check_room(const BufferArea& area, std::uint32_t mtu, std::size_t datagram_len) noexcept {
    const std::size_t largest = std::min<std::size_t>(mtu, datagram_len);
    if (largest > std::size_t{area.frame_size()} - area.headroom()) {
        return Error{Errc::invalid_argument, "IPv4 fragmenter: MTU larger than a frame's room after the headroom"};
    }
    return {};
}

// Writes the planned fragments into handles (plan.count of them).
Status write_fragments(Plan& plan, const wire::Ipv4Header& header, std::span<const std::uint8_t> head,
                       std::span<const std::uint8_t> body, const BufferArea& area,
                       std::span<PacketHandle> handles) noexcept {
    const std::size_t total = head.size() + body.size();
    std::size_t offset = 0;
    for (std::size_t i = 0; i < plan.count; ++i) {
        wire::Ipv4Header& h = i == 0 ? plan.first : plan.rest;
        const std::size_t len = std::min(i == 0 ? plan.first_data : plan.rest_data, total - offset);
        const bool last = i + 1 == plan.count;
        h.payload_len = static_cast<std::uint16_t>(len);
        // RFC 791 §3.2: offsets count from the original datagram's start,
        // MF is set on all but the last, which keeps the original's MF (a
        // fragment being fragmented again may have it set).
        h.fragment_offset = static_cast<std::uint16_t>(header.fragment_offset + offset);
        h.more_fragments = last ? header.more_fragments : true;
        const std::size_t header_len = h.header_len();
        PacketHandle& packet = handles[i];
        packet.length = static_cast<std::uint16_t>(header_len + len);
        const std::span<std::uint8_t> bytes = area.bytes(packet);
        // A field out of range (dscp, ecn): emit() checks what the plan
        // does not. Nothing has been sent.
        if (Status written = h.emit(bytes); !written) return written;
        if (len != 0) gather(head, body, offset, len, bytes.data() + header_len);
        offset += len;
    }
    return {};
}

}  // namespace

Result<std::size_t> ipv4_fragment(const wire::Ipv4Header& header, std::span<const std::uint8_t> payload,
                                  std::uint32_t mtu, FramePool& pool, std::span<PacketHandle> out) noexcept {
    auto planned = make_plan(header, payload.size(), mtu);
    if (!planned) return planned.error();
    Plan& plan = *planned;
    if (out.size() < plan.count) {
        return Error{Errc::invalid_argument, "IPv4 fragmenter: handle span shorter than the fragment count"};
    }
    if (Status room = check_room(pool.area(), mtu, plan.first.header_len() + payload.size()); !room) {
        return room.error();
    }
    const std::span<PacketHandle> handles = out.first(plan.count);
    if (!pool.alloc_bulk(handles)) {
        return Error{Errc::no_buffers, "IPv4 fragmenter: not enough free frames for every fragment"};
    }
    if (Status written = write_fragments(plan, header, payload, {}, pool.area(), handles); !written) {
        pool.free(handles);  // give every frame back
        return written.error();
    }
    return plan.count;
}

Result<std::size_t> ipv4_fragment(const wire::Ipv4Header& header, std::span<const std::uint8_t> head,
                                  std::span<const std::uint8_t> body, std::uint32_t mtu, const BufferArea& area,
                                  std::span<PacketHandle> frames) noexcept {
    auto planned = make_plan(header, head.size() + body.size(), mtu);
    if (!planned) return planned.error();
    Plan& plan = *planned;
    if (frames.size() != plan.count) {
        return Error{Errc::invalid_argument, "IPv4 fragmenter: frame span not the size of the fragment count"};
    }
    if (Status room = check_room(area, mtu, plan.first.header_len() + head.size() + body.size()); !room) {
        return room.error();
    }
    const std::size_t largest = std::min<std::size_t>(mtu, plan.first.header_len() + head.size() + body.size());
    for (const PacketHandle& f : frames) {
        if (!area.contains(f) || std::size_t{f.offset} + largest > area.frame_size()) {
            return Error{Errc::invalid_argument, "IPv4 fragmenter: a frame not of the area, or without room for MTU"};
        }
    }
    if (Status written = write_fragments(plan, header, head, body, area, frames); !written) return written.error();
    return plan.count;
}

}  // namespace kbnet::stack
