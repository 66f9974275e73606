#include "kbnet/wire/tcp.hpp"

namespace kbnet::wire {

namespace detail {

Status tcp_check(std::span<const std::uint8_t> segment) noexcept {
    if (segment.size() < kTcpMinHeaderLen) return Error{Errc::truncated, "TCP segment shorter than 20 bytes"};
    // RFC 9293 §3.1 "Data Offset": the header is an integral number of
    // 32-bit words, at least the five of the fixed part.
    const std::size_t header_len = static_cast<std::size_t>(segment[12] >> 4) * 4u;
    if (header_len < kTcpMinHeaderLen) return Error{Errc::malformed, "TCP data offset below 5"};
    if (header_len > segment.size()) return Error{Errc::truncated, "TCP data offset beyond the segment"};
    if (!tlv_options_valid(segment.subspan(kTcpMinHeaderLen, header_len - kTcpMinHeaderLen))) {
        return Error{Errc::malformed, "TCP option length below 2 or past the end of the header"};
    }
    return {};
}

}  // namespace detail

TcpOptions TcpOptions::decode(std::span<const std::uint8_t> area) noexcept {
    TcpOptions o;
    for (const TlvOption& opt : TlvOptionRange(area)) {
        const std::uint8_t* d = opt.data.data();
        const std::size_t n = opt.data.size();
        switch (opt.kind) {
            case kTcpOptionMss:  // RFC 9293 §3.2: length 4, 16-bit MSS
                if (n == 2) o.mss = load_be16(d);
                break;
            case kTcpOptionWindowScale:  // RFC 7323 §2.2: length 3, shift.cnt
                if (n == 1) o.window_scale = d[0];
                break;
            case kTcpOptionSackPermitted:  // RFC 2018 §2: length 2
                if (n == 0) o.sack_permitted = true;
                break;
            case kTcpOptionTimestamps:  // RFC 7323 §3.2: length 10, TSval, TSecr
                if (n == 8) o.timestamps = TcpTimestamps{load_be32(d), load_be32(d + 4)};
                break;
            case kTcpOptionSack:  // RFC 2018 §3: length 8n + 2, n >= 1
                if (n != 0 && n % 8 == 0 && n / 8 <= kTcpMaxSackBlocks) {
                    o.sack_count = static_cast<std::uint8_t>(n / 8);
                    o.sack_blocks = {};
                    for (std::size_t i = 0; i < o.sack_count; ++i) {
                        o.sack_blocks[i] = {load_be32(d + 8 * i), load_be32(d + 8 * i + 4)};
                    }
                }
                break;
            default:  // RFC 9293 §3.2 MUST-6: ignore options we do not implement
                break;
        }
    }
    return o;
}

std::size_t TcpOptions::encoded_len() const noexcept {
    std::size_t len = 0;
    if (mss) len += 4;
    if (timestamps)
        len += 12;  // SACK-permitted rides in the two bytes otherwise NOP padding
    else if (sack_permitted)
        len += 4;
    if (window_scale) len += 4;
    if (sack_count != 0) len += 4 + 8u * sack_count;
    return len;
}

Result<std::size_t> TcpOptions::encode(std::span<std::uint8_t> out) const noexcept {
    if (sack_count > kTcpMaxSackBlocks) return Error{Errc::invalid_argument, "TcpOptions: more than 4 SACK blocks"};
    const std::size_t len = encoded_len();
    if (len > kTcpMaxOptionsLen) return Error{Errc::invalid_argument, "TcpOptions: options longer than 40 bytes"};
    if (out.size() < len) return Error{Errc::invalid_argument, "TcpOptions: buffer shorter than encoded_len()"};
    std::uint8_t* p = out.data();
    if (mss) {
        p[0] = kTcpOptionMss;
        p[1] = 4;
        store_be16(p + 2, *mss);
        p += 4;
    }
    if (timestamps) {
        // Keeps TSval and TSecr 32-bit aligned, which RFC 7323 Appendix A
        // recommends for fast processing.
        p[0] = sack_permitted ? kTcpOptionSackPermitted : kTcpOptionNop;
        p[1] = sack_permitted ? 2 : kTcpOptionNop;
        p[2] = kTcpOptionTimestamps;
        p[3] = 10;
        store_be32(p + 4, timestamps->value);
        store_be32(p + 8, timestamps->echo_reply);
        p += 12;
    } else if (sack_permitted) {
        p[0] = kTcpOptionNop;
        p[1] = kTcpOptionNop;
        p[2] = kTcpOptionSackPermitted;
        p[3] = 2;
        p += 4;
    }
    if (window_scale) {
        p[0] = kTcpOptionNop;
        p[1] = kTcpOptionWindowScale;
        p[2] = 3;
        p[3] = *window_scale;
        p += 4;
    }
    if (sack_count != 0) {
        p[0] = kTcpOptionNop;
        p[1] = kTcpOptionNop;
        p[2] = kTcpOptionSack;
        p[3] = static_cast<std::uint8_t>(2 + 8 * sack_count);
        p += 4;
        for (std::size_t i = 0; i < sack_count; ++i) {
            store_be32(p, sack_blocks[i].left);
            store_be32(p + 4, sack_blocks[i].right);
            p += 8;
        }
    }
    return len;
}

bool operator==(const TcpOptions& a, const TcpOptions& b) noexcept {
    if (a.mss != b.mss || a.window_scale != b.window_scale || a.sack_permitted != b.sack_permitted ||
        a.timestamps != b.timestamps || a.sack_count != b.sack_count) {
        return false;
    }
    for (std::size_t i = 0; i < a.sack_count && i < kTcpMaxSackBlocks; ++i) {
        if (a.sack_blocks[i] != b.sack_blocks[i]) return false;
    }
    return true;
}

TcpHeader TcpHeader::from_view(const TcpView& view) noexcept {
    TcpHeader h;
    h.source_port = view.source_port();
    h.destination_port = view.destination_port();
    h.seq_number = view.seq_number();
    h.ack_number = view.ack_number();
    h.flags = view.flags();
    h.window = view.window();
    h.urgent_pointer = view.urgent_pointer();
    h.options = view.options();
    return h;
}

Status TcpHeader::emit(std::span<std::uint8_t> segment, Ipv4Address src, Ipv4Address dst) const noexcept {
    if (options.sack_count > kTcpMaxSackBlocks)
        return Error{Errc::invalid_argument, "TcpHeader: more than 4 SACK blocks"};
    const std::size_t hlen = header_len();
    if (hlen > kTcpMaxHeaderLen) return Error{Errc::invalid_argument, "TcpHeader: options longer than 40 bytes"};
    if (segment.size() < hlen) return Error{Errc::invalid_argument, "TcpHeader: segment shorter than header_len()"};
    if (segment.size() > 0xffff) return Error{Errc::invalid_argument, "TcpHeader: segment longer than 65535 bytes"};
    std::uint8_t* p = segment.data();
    if (!options.encode(segment.subspan(kTcpMinHeaderLen, hlen - kTcpMinHeaderLen))) {
        return Error{Errc::invalid_argument, "TcpHeader: options do not encode"};  // unreachable after the checks above
    }
    store_be16(p, source_port);
    store_be16(p + 2, destination_port);
    store_be32(p + 4, seq_number);
    store_be32(p + 8, ack_number);
    p[12] = static_cast<std::uint8_t>(hlen / 4 << 4);
    p[13] = flags;
    store_be16(p + 14, window);
    store_be16(p + 16, 0);
    store_be16(p + 18, urgent_pointer);
    const std::uint32_t pseudo =
        pseudo_header_sum(src.value, dst.value, kIpProtoTcp, static_cast<std::uint16_t>(segment.size()));
    store_be16(p + 16, sum_to_checksum(checksum_sum(segment, pseudo)));
    return {};
}

}  // namespace kbnet::wire
