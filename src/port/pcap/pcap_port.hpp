// A port over pcap files: receive replays an input file, transmit appends to
// an output file. For tests, benchmarks and offline runs of the stack (a
// port with no kernel beside it; design.md, decision 4).
//
//   pcap:IN[,out=OUT][,format=us|ns][,repeat=N]
//
// IN "-" or "none": no input (receive is empty and finished at once, for
// transmit-only use). Without out, transmitted frames are counted and
// discarded. format is the output's timestamp resolution (default us).
// repeat replays the input N times (default 1, 0 = forever).
//
// How errors are reported:
// - Setup (construction): a missing file, an unreadable or non-pcap global
//   header, a link type other than Ethernet, an output that cannot be
//   created: PortError naming the file, the byte offset and the problem.
// - A damaged record found while streaming (truncated header or body,
//   impossible lengths, read error): logged once, counted in rx_errors, and
//   the stream ends (rx_finished() becomes true). Packets before it were
//   delivered; nothing after it is, not even with repeat, so a corrupt file
//   never passes silently as a shorter one.
// - A record longer than a frame's data room (frame_size - headroom): counted
//   in rx_errors and skipped, with a rate-limited log line; the file itself is
//   fine, the buffer area is too small for it (raise frame_size).
// - An empty frame pool on receive: the record is consumed and counted in
//   rx_dropped, as a NIC drops when its fill ring is empty. Normally the
//   caller frees or transmits its frames and this never happens.
// - A failed write of the output (disk full): the records lost are counted
//   in tx_dropped and logged (rate limited); the file is cut back to its last
//   complete record. tx_packets counts every frame tx_burst accepted.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "kbnet/core/buffer_area.hpp"
#include "kbnet/core/frame_pool.hpp"
#include "kbnet/port/port.hpp"
#include "kbnet/port/spec.hpp"
#include "port/pcap/pcap_file.hpp"

namespace kbnet::port {

struct PcapPortConfig {
    std::string input;   // input file; "", "-" or "none" for no input
    std::string output;  // output file; "" to count and discard transmitted frames
    PcapResolution output_resolution = PcapResolution::micro;
    std::uint64_t repeat = 1;  // passes over the input; 0 = forever
    std::size_t read_buffer = kPcapDefaultBuffer;
    std::size_t write_buffer = kPcapDefaultBuffer;
};

class PcapPort final : public Port {
  public:
    // Setup path: throws PortError (see the header comment).
    PcapPort(std::string spec, const PcapPortConfig& config, const PortOptions& options = {});
    ~PcapPort() override;

    [[nodiscard]] std::string_view kind() const noexcept override { return "pcap"; }
    [[nodiscard]] Capabilities capabilities() const noexcept override;
    [[nodiscard]] const BufferArea& area() const noexcept override { return area_; }

    [[nodiscard]] std::uint16_t rx_burst(std::uint16_t queue, std::span<PacketHandle> out) noexcept override;
    [[nodiscard]] std::uint16_t tx_burst(std::uint16_t queue, std::span<const PacketHandle> pkts) noexcept override;
    [[nodiscard]] std::uint16_t alloc(std::uint16_t queue, std::span<PacketHandle> out) noexcept override;
    void free(std::uint16_t queue, std::span<const PacketHandle> pkts) noexcept override;
    void flush(std::uint16_t queue) noexcept override;
    [[nodiscard]] bool rx_finished(std::uint16_t queue) const noexcept override;

    // Frames free in the port's pool (for leak checks in tests and tools).
    [[nodiscard]] std::uint32_t frames_available() const noexcept { return pool_.available(); }

  private:
    // Moves lost-record counts of the writer into tx_dropped, logging why.
    void account_write(Status status) noexcept;
    // End of one pass over the input: start the next one or finish.
    void end_of_pass() noexcept;

    BufferArea area_;
    FramePool pool_;
    std::uint16_t frame_room_;  // largest packet a frame holds after the headroom
    std::optional<PcapReader> reader_;
    std::optional<PcapWriter> writer_;
    std::uint64_t repeat_;
    std::uint64_t passes_done_ = 0;
    std::uint64_t records_this_pass_ = 0;
    std::uint64_t lost_seen_ = 0;  // writer's lost_records() already counted in tx_dropped
    bool finished_ = false;
};

// The backend's factory for the registry: spec.target is IN, spec.options
// out, format and repeat. Setup path: throws PortError.
[[nodiscard]] std::unique_ptr<Port> make_pcap_port(const PortSpec& spec, const PortOptions& options);

}  // namespace kbnet::port
