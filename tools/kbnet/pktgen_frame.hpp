// The frames `kbnet pktgen` sends and recognises: Ethernet II, IPv4 without
// options, UDP, the pktgen payload (pktgen_payload.hpp), zero padding up
// to the frame size.
//
// The headers are built once, with kbnet's wire builders, into a template;
// each packet is the template copied into a transmit buffer plus four
// fields written in place (source port, sequence number, timestamp, UDP
// checksum). The UDP checksum is the template's, updated by adding the
// words that differ from it (RFC 1624 eqn. 3), so a packet costs a copy
// and a few adds whatever its size; the IPv4 header is the same in every
// packet, checksum included.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "kbnet/core/result.hpp"
#include "kbnet/wire/address.hpp"
#include "kbnet/wire/ethernet.hpp"
#include "kbnet/wire/ipv4.hpp"
#include "kbnet/wire/udp.hpp"
#include "pktgen_payload.hpp"

namespace kbnet::tools {

// Byte offsets in the frame (untagged Ethernet, 20-byte IPv4 header).
inline constexpr std::size_t kIpOffset = wire::kEthernetHeaderLen;               // 14
inline constexpr std::size_t kUdpOffset = kIpOffset + wire::kIpv4MinHeaderLen;   // 34
inline constexpr std::size_t kPayloadOffset = kUdpOffset + wire::kUdpHeaderLen;  // 42
inline constexpr std::size_t kMinFrameSize = kPayloadOffset + kPayloadLen;       // 60
static_assert(kMinFrameSize == wire::kEthernetMinFrameLen, "the payload fills a minimum frame exactly");

struct TrafficConfig {
    wire::MacAddress src_mac;
    wire::MacAddress dst_mac;
    wire::Ipv4Address src_ip;
    wire::Ipv4Address dst_ip;
    std::uint16_t src_port = 1024;  // flow f sends from src_port + f
    std::uint16_t dst_port = 9;
    std::uint32_t flows = 1;
    std::uint32_t frame_size = 64;  // Ethernet frame without FCS
    std::uint16_t run_tag = 0;      // IPv4 identification of every frame
};

// What a recognised echo carried.
struct Echo {
    std::uint64_t seq = 0;
    std::uint64_t tsc = 0;
    std::uint32_t flow = 0;
};

class FrameTemplate {
  public:
    // Setup path. Errors (invalid_argument): frame_size below 60 or above
    // 65535 (a packet handle's length), flows 0, source port 0, or source
    // ports that would pass 65535.
    [[nodiscard]] static Result<FrameTemplate> build(const TrafficConfig& config);

    [[nodiscard]] const TrafficConfig& config() const noexcept { return config_; }
    [[nodiscard]] std::size_t size() const noexcept { return bytes_.size(); }
    // The template: flow 0's source port is not filled in (it is zero), nor
    // are the sequence, timestamp and UDP checksum.
    [[nodiscard]] std::span<const std::uint8_t> bytes() const noexcept { return bytes_; }

    // Writes packet seq of flow (< flows) at frame, which must hold size()
    // bytes: the template, then the fields.
    void stamp(std::uint8_t* frame, std::uint32_t flow, std::uint64_t seq, std::uint64_t tsc) const noexcept {
        std::memcpy(frame, bytes_.data(), bytes_.size());
        stamp_fields(frame, flow, seq, tsc);
    }
    // Writes only the fields that differ between packets, over a frame that
    // already holds the template (stamped before and not sent: renumbered
    // and retimed without copying it again).
    void stamp_fields(std::uint8_t* frame, std::uint32_t flow, std::uint64_t seq, std::uint64_t tsc) const noexcept {
        const auto sport = static_cast<std::uint16_t>(config_.src_port + flow);
        store_be16(frame + kUdpOffset, sport);
        write_payload(frame + kPayloadOffset, {seq, tsc});
        // The template's sum had zeros in these words; ~C is the sum of the
        // rest (RFC 1624 eqn. 3 with m = 0, whose complement 0xffff is the
        // one's-complement zero). The magic is in the template already.
        std::uint64_t s = base_sum_ + sport + sum_be64_words(seq) + sum_be64_words(tsc);
        s = (s & 0xffffu) + (s >> 16);
        s = (s & 0xffffu) + (s >> 16);
        const auto c = static_cast<std::uint16_t>(~s);
        // RFC 768: a computed zero is sent as all ones (zero means "none").
        store_be16(frame + kUdpOffset + 6, c == 0 ? std::uint16_t{0xffff} : c);
    }

    // True if frame is one of ours (this run's tag, our destination port, a
    // source port of our flows, the magic), with what it carried. Checks
    // only the fields that tell ours from others: the echo is trusted to
    // have left the rest alone, and checksums are not verified.
    [[nodiscard]] bool match(std::span<const std::uint8_t> frame, Echo& out) const noexcept {
        if (frame.size() < kMinFrameSize) return false;
        const std::uint8_t* f = frame.data();
        if (load_be16(f + 12) != wire::kEtherTypeIpv4 || f[kIpOffset] != 0x45 ||
            f[kIpOffset + 9] != wire::kIpProtoUdp || load_be16(f + kIpOffset + 4) != config_.run_tag ||
            load_be16(f + kUdpOffset + 2) != config_.dst_port) {
            return false;
        }
        const std::uint32_t flow = static_cast<std::uint16_t>(load_be16(f + kUdpOffset) - config_.src_port);
        Payload p;
        if (flow >= config_.flows || !read_payload(frame.subspan(kPayloadOffset), p)) return false;
        out = {p.seq, p.tsc, flow};
        return true;
    }

  private:
    explicit FrameTemplate(const TrafficConfig& config) : config_(config), bytes_(config.frame_size, 0) {}

    TrafficConfig config_;
    std::vector<std::uint8_t> bytes_;
    std::uint32_t base_sum_ = 0;  // ~(template's UDP checksum): the sum of every word but the variable ones
};

}  // namespace kbnet::tools
