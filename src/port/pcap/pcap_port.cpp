#include "port/pcap/pcap_port.hpp"

#include <time.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <limits>
#include <system_error>

#include <fmt/format.h>

#include "kbnet/core/log.hpp"

namespace kbnet::port {
namespace {

constexpr std::uint64_t kLogInterval = 1'000'000'000;  // one line a second at most for per-packet problems

bool is_no_input(std::string_view in) noexcept { return in.empty() || in == "-" || in == "none"; }

BufferArea make_area(const std::string& spec, const BufferAreaConfig& config) {
    // BufferArea reports a bad config or a failed mapping with standard
    // exceptions; a port's setup errors are PortErrors naming the port.
    try {
        return BufferArea(config);
    } catch (const std::exception& e) {
        throw PortError(fmt::format("{}: {}", spec, e.what()));
    }
}

// CLOCK_REALTIME through the vDSO (no syscall): pcap timestamps are wall
// clock time, so a capture lines up with other captures of the same traffic.
std::uint64_t realtime_ns() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

}  // namespace

PcapPort::PcapPort(std::string spec, const PcapPortConfig& config, const PortOptions& options)
    : Port(std::move(spec), 1),
      area_(make_area(this->spec(), options.area)),
      pool_(area_, 0, area_.frame_count()),
      // A handle's length is 16 bits, so a 64 KiB frame without headroom
      // still carries at most 65535 bytes.
      frame_room_(static_cast<std::uint16_t>(
          std::min<std::uint32_t>(area_.frame_size() - area_.headroom(), std::numeric_limits<std::uint16_t>::max()))),
      repeat_(config.repeat) {
    if (is_no_input(config.input)) {
        finished_ = true;
    } else {
        reader_.emplace(config.input, config.read_buffer);
        const PcapFileHeader& h = reader_->header();
        if (h.linktype != kLinktypeEthernet) {
            const std::string_view name = pcap_linktype_name(h.linktype);
            std::string what;
            if ((h.linktype & 0xffffu) == kLinktypeEthernet) {
                what = fmt::format("link type field {:#x} (Ethernet with FCS or reserved bits set)", h.linktype);
            } else if (!name.empty()) {
                what = fmt::format("link type {} ({})", h.linktype, name);
            } else {
                what = fmt::format("link type {}", h.linktype);
            }
            throw PortError(
                fmt::format("pcap file '{}': offset 20: {} is not supported; kbnet ports carry Ethernet "
                            "frames (LINKTYPE_ETHERNET = 1){}",
                            config.input, what,
                            (h.linktype & 0xffffu) == 113 || (h.linktype & 0xffffu) == 276
                                ? "; capture on one interface (tcpdump -i IFACE), not -i any"
                                : ""));
        }
        if (repeat_ != 1 && !reader_->seekable()) {
            throw PortError(
                fmt::format("{}: repeat={} needs an input that can be read again; '{}' cannot seek (a "
                            "pipe?): copy it to a file first",
                            this->spec(), repeat_, config.input));
        }
    }
    if (!config.output.empty()) {
        writer_.emplace(config.output, config.output_resolution, 65535, config.write_buffer);
    }
}

PcapPort::~PcapPort() {
    if (writer_) account_write(writer_->flush());
}

Capabilities PcapPort::capabilities() const noexcept {
    Capabilities caps;
    caps.rx_queues = 1;
    caps.tx_queues = 1;
    caps.zero_copy = false;  // every record is copied out of the read buffer
    caps.max_frame = frame_room_;
    return caps;
}

void PcapPort::end_of_pass() noexcept {
    ++passes_done_;
    // A pass without a single record would make repeat=0 spin forever on an
    // empty file; an empty file has nothing to repeat.
    if (records_this_pass_ == 0 || (repeat_ != 0 && passes_done_ >= repeat_)) {
        finished_ = true;
        return;
    }
    if (!reader_->rewind()) {
        // Checked at setup (seekable); only a failing lseek gets here.
        ++counters_of(0).rx_errors;
        KBNET_LOG_ERROR("{}: cannot rewind '{}' for the next pass; the input ends here", spec(), reader_->path());
        finished_ = true;
        return;
    }
    records_this_pass_ = 0;
}

std::uint16_t PcapPort::rx_burst(std::uint16_t queue, std::span<PacketHandle> out) noexcept {
    if (queue != 0 || finished_) return 0;
    QueueCounters& c = counters_of(0);
    const std::size_t want = std::min<std::size_t>(out.size(), std::numeric_limits<std::uint16_t>::max());
    std::size_t n = 0;
    // Bounded by records consumed, not packets delivered, so a file of
    // records that are all skipped cannot keep one call busy forever.
    std::size_t consumed = 0;
    while (n < want && consumed < want) {
        PcapRecord rec;
        const PcapNext r = reader_->next(rec);
        if (r == PcapNext::end) {
            end_of_pass();
            if (finished_) break;
            continue;
        }
        if (r == PcapNext::error) {
            // The stream ends here, so this logs once per port.
            ++c.rx_errors;
            finished_ = true;
            KBNET_LOG_ERROR("{}: {}; the input ends here after {} packets", spec(), reader_->error_message(),
                            c.rx_packets);
            break;
        }
        ++consumed;
        ++records_this_pass_;
        if (KBNET_UNLIKELY(rec.data.size() > frame_room_)) {
            ++c.rx_errors;
            KBNET_LOG_RATELIMITED(LogLevel::warn, kLogInterval,
                                  "{}: record at offset {} has {} bytes, over the {}-byte frame room; skipped (raise "
                                  "the buffer area's frame_size)",
                                  spec(), rec.offset, rec.data.size(), frame_room_);
            continue;
        }
        PacketHandle h;
        if (KBNET_UNLIKELY(!pool_.alloc(h))) {
            ++c.rx_dropped;
            continue;
        }
        const auto len = static_cast<std::uint16_t>(rec.data.size());
        if (len > 0) std::memcpy(area_.data(h), rec.data.data(), len);
        h.length = len;
        out[n++] = h;
        ++c.rx_packets;
        c.rx_bytes += len;
    }
    return static_cast<std::uint16_t>(n);
}

std::uint16_t PcapPort::tx_burst(std::uint16_t queue, std::span<const PacketHandle> pkts) noexcept {
    if (queue != 0) return 0;
    QueueCounters& c = counters_of(0);
    const std::size_t n = std::min<std::size_t>(pkts.size(), std::numeric_limits<std::uint16_t>::max());
    pkts = pkts.first(n);
    // One timestamp per burst: the packets of a burst leave together.
    const std::uint64_t now = writer_ ? realtime_ns() : 0;
    Status worst{};
    for (const PacketHandle& h : pkts) {
        if (KBNET_UNLIKELY(!area_.contains(h))) {
            // Not a frame of this port: writing it would read outside the area.
            ++c.tx_dropped;
            continue;
        }
        if (writer_) {
            Status s = writer_->write(now, area_.bytes(h));
            if (!s) worst = s;
        }
        ++c.tx_packets;
        c.tx_bytes += h.length;
    }
    if (writer_) account_write(worst);
    for (const PacketHandle& h : pkts) {
        if (area_.contains(h)) pool_.free(h);
    }
    return static_cast<std::uint16_t>(n);
}

void PcapPort::account_write(Status status) noexcept {
    const std::uint64_t lost = writer_->lost_records();
    if (lost == lost_seen_ && status.ok()) return;
    counters_of(0).tx_dropped += lost - lost_seen_;
    KBNET_LOG_RATELIMITED(LogLevel::error, kLogInterval, "{}: writing '{}' failed: {}; {} frames lost so far", spec(),
                          writer_->path(), std::strerror(writer_->last_errno()), lost);
    lost_seen_ = lost;
}

std::uint16_t PcapPort::alloc(std::uint16_t queue, std::span<PacketHandle> out) noexcept {
    if (queue != 0) return 0;
    const std::size_t n = std::min<std::size_t>(out.size(), std::numeric_limits<std::uint16_t>::max());
    return static_cast<std::uint16_t>(pool_.alloc_burst(out.first(n)));
}

void PcapPort::free(std::uint16_t queue, std::span<const PacketHandle> pkts) noexcept {
    if (queue != 0) return;
    pool_.free(pkts);
}

void PcapPort::flush(std::uint16_t queue) noexcept {
    if (queue != 0 || !writer_) return;
    account_write(writer_->flush());
}

bool PcapPort::rx_finished(std::uint16_t queue) const noexcept { return queue != 0 || finished_; }

std::unique_ptr<Port> make_pcap_port(const PortSpec& spec, const PortOptions& options) {
    PcapPortConfig config;
    config.input = spec.target;
    config.output = spec.string_or("out", "");
    config.output_resolution =
        spec.choice_or("format", "us", {"us", "ns"}) == "ns" ? PcapResolution::nano : PcapResolution::micro;
    config.repeat = spec.uint_or("repeat", 1, 0, std::numeric_limits<std::uint64_t>::max());
    return std::make_unique<PcapPort>(spec.text, config, options);
}

}  // namespace kbnet::port
