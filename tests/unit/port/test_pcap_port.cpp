#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <fcntl.h>
#include <array>
#include <csignal>
#include <string>
#include <thread>
#include <vector>

#include "kbnet/port/port.hpp"
#include "kbnet/port/spec.hpp"
#include "pcap_test_support.hpp"
#include "port/pcap/pcap_file.hpp"
#include "port/pcap/pcap_port.hpp"

using namespace kbnet;
using namespace kbnet::port;
using namespace kbnet::test;
using ::testing::HasSubstr;

namespace {

PortOptions small_options(std::uint32_t frames = 256) {
    PortOptions o;
    o.area.frame_count = frames;
    o.area.frame_size = 2048;
    o.area.headroom = 256;
    o.area.hugepages = false;
    return o;
}

std::unique_ptr<Port> open_spec(const std::string& spec, std::uint32_t frames = 256) {
    return make_pcap_port(parse_port_spec(spec), small_options(frames));
}

// A little-endian microsecond file of the given frames.
std::string write_frames(const TempDir& dir, const std::string& name, const std::vector<Bytes>& frames) {
    PcapBuild b;
    Bytes file = pcap_header(b);
    for (std::size_t i = 0; i < frames.size(); ++i)
        pcap_record(file, b, 1000, static_cast<std::uint32_t>(i), frames[i]);
    const std::string path = dir.file(name);
    write_file(path, file);
    return path;
}

std::vector<Bytes> some_frames(std::size_t n) {
    std::vector<Bytes> v;
    for (std::size_t i = 0; i < n; ++i) v.push_back(pattern(60 + (i * 37) % 1400, static_cast<std::uint32_t>(i)));
    return v;
}

// Receives until the port finishes (or max_calls bursts), copying and
// freeing every frame.
std::vector<Bytes> receive_all(Port& p, std::size_t burst = 32, std::size_t max_calls = 100000) {
    std::vector<Bytes> got;
    std::vector<PacketHandle> rx(burst);
    for (std::size_t call = 0; call < max_calls && !p.rx_finished(0); ++call) {
        const std::uint16_t n = p.rx_burst(0, rx);
        for (std::uint16_t i = 0; i < n; ++i) {
            const auto bytes = p.bytes(rx[i]);
            got.emplace_back(bytes.begin(), bytes.end());
        }
        p.free(0, std::span<const PacketHandle>(rx.data(), n));
    }
    return got;
}

std::vector<Bytes> read_records(const std::string& path, PcapFileHeader* header = nullptr,
                                std::vector<std::uint64_t>* ts = nullptr) {
    PcapReader r(path);
    if (header != nullptr) *header = r.header();
    std::vector<Bytes> out;
    PcapRecord rec;
    PcapNext st;
    while ((st = r.next(rec)) == PcapNext::record) {
        out.emplace_back(rec.data.begin(), rec.data.end());
        if (ts != nullptr) ts->push_back(rec.ts_ns);
    }
    EXPECT_EQ(st, PcapNext::end) << r.error_message();
    return out;
}

std::uint64_t realtime_now_ns() {
    timespec t{};
    clock_gettime(CLOCK_REALTIME, &t);
    return static_cast<std::uint64_t>(t.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(t.tv_nsec);
}

// Allocates one frame per payload on p and fills it.
std::vector<PacketHandle> make_tx(Port& p, const std::vector<Bytes>& payloads) {
    std::vector<PacketHandle> v(payloads.size());
    EXPECT_EQ(p.alloc(0, v), payloads.size());
    for (std::size_t i = 0; i < v.size(); ++i) {
        EXPECT_TRUE(p.area().append(v[i], static_cast<std::uint32_t>(payloads[i].size())));
        std::copy(payloads[i].begin(), payloads[i].end(), p.area().data(v[i]));
    }
    return v;
}

}  // namespace

TEST(PcapPort, receives_every_record_byte_for_byte_then_finishes) {
    TempDir dir;
    const auto frames = some_frames(100);
    auto p = open_spec("pcap:" + write_frames(dir, "in.pcap", frames));
    EXPECT_EQ(p->kind(), "pcap");
    EXPECT_FALSE(p->rx_finished(0));
    const auto got = receive_all(*p, 7);  // bursts that do not divide the file
    EXPECT_EQ(got, frames);
    EXPECT_TRUE(p->rx_finished(0));
    std::uint64_t bytes = 0;
    for (const auto& f : frames) bytes += f.size();
    EXPECT_EQ(p->counters(0).rx_packets, 100u);
    EXPECT_EQ(p->counters(0).rx_bytes, bytes);
    EXPECT_EQ(p->counters(0).rx_errors, 0u);
    EXPECT_EQ(p->counters(0).rx_dropped, 0u);
    std::array<PacketHandle, 8> rx{};
    EXPECT_EQ(p->rx_burst(0, rx), 0);
}

TEST(PcapPort, is_not_finished_until_the_last_record_is_delivered) {
    TempDir dir;
    auto p = open_spec("pcap:" + write_frames(dir, "in.pcap", some_frames(3)));
    std::array<PacketHandle, 2> rx{};
    ASSERT_EQ(p->rx_burst(0, rx), 2);
    p->free(0, rx);
    EXPECT_FALSE(p->rx_finished(0));
    ASSERT_EQ(p->rx_burst(0, rx), 1);
    p->free(0, std::span<const PacketHandle>(rx.data(), 1));
    // The end is seen by the next burst, which delivers nothing.
    EXPECT_EQ(p->rx_burst(0, rx), 0);
    EXPECT_TRUE(p->rx_finished(0));
}

TEST(PcapPort, received_packets_start_after_the_headroom) {
    TempDir dir;
    auto p = open_spec("pcap:" + write_frames(dir, "in.pcap", some_frames(1)));
    std::array<PacketHandle, 1> rx{};
    ASSERT_EQ(p->rx_burst(0, rx), 1);
    EXPECT_EQ(rx[0].offset, p->area().headroom());  // room to prepend a header in place
    p->free(0, rx);
}

TEST(PcapPort, transmit_writes_a_file_the_reader_reads_back) {
    TempDir dir;
    const std::string out = dir.file("out.pcap");
    const auto payloads = some_frames(40);
    const std::uint64_t before = realtime_now_ns();
    {
        auto p = open_spec("pcap:-,out=" + out);
        const auto* pp = dynamic_cast<const PcapPort*>(p.get());
        ASSERT_NE(pp, nullptr);
        const std::uint32_t free_at_start = pp->frames_available();
        const auto tx = make_tx(*p, payloads);
        ASSERT_EQ(p->tx_burst(0, tx), tx.size());
        EXPECT_EQ(pp->frames_available(), free_at_start);  // transmitted frames are freed at once
        EXPECT_EQ(p->counters(0).tx_packets, 40u);
        p->flush(0);
        EXPECT_EQ(p->counters(0).tx_dropped, 0u);
    }
    const std::uint64_t after = realtime_now_ns();
    PcapFileHeader h;
    std::vector<std::uint64_t> ts;
    EXPECT_EQ(read_records(out, &h, &ts), payloads);
    EXPECT_EQ(h.resolution, PcapResolution::micro);
    EXPECT_EQ(h.linktype, kLinktypeEthernet);
    EXPECT_EQ(h.snaplen, 65535u);
    for (std::uint64_t t : ts) {
        EXPECT_GE(t + 1000, before);  // microsecond resolution rounds down
        EXPECT_LE(t, after);
    }
}

TEST(PcapPort, format_ns_writes_a_nanosecond_file) {
    TempDir dir;
    const std::string out = dir.file("out-ns.pcap");
    {
        auto p = open_spec("pcap:none,out=" + out + ",format=ns");
        const auto tx = make_tx(*p, some_frames(2));
        ASSERT_EQ(p->tx_burst(0, tx), 2);
    }  // destruction flushes
    PcapFileHeader h;
    EXPECT_EQ(read_records(out, &h).size(), 2u);
    EXPECT_EQ(h.resolution, PcapResolution::nano);
}

TEST(PcapPort, transmit_without_an_output_counts_and_frees_the_frames) {
    auto p = open_spec("pcap:-");
    const auto* pp = dynamic_cast<const PcapPort*>(p.get());
    const std::uint32_t free_at_start = pp->frames_available();
    const auto tx = make_tx(*p, some_frames(5));
    ASSERT_EQ(p->tx_burst(0, tx), 5);
    EXPECT_EQ(p->counters(0).tx_packets, 5u);
    EXPECT_EQ(pp->frames_available(), free_at_start);
}

TEST(PcapPort, no_input_is_finished_at_once_and_receives_nothing) {
    for (const char* in : {"-", "none"}) {
        auto p = open_spec(std::string("pcap:") + in);
        EXPECT_TRUE(p->rx_finished(0)) << in;
        std::array<PacketHandle, 4> rx{};
        EXPECT_EQ(p->rx_burst(0, rx), 0) << in;
    }
}

TEST(PcapPort, repeat_three_replays_the_file_three_times) {
    TempDir dir;
    const auto frames = some_frames(10);
    auto p = open_spec("pcap:" + write_frames(dir, "in.pcap", frames) + ",repeat=3");
    const auto got = receive_all(*p, 4);
    ASSERT_EQ(got.size(), 30u);
    for (std::size_t i = 0; i < 30; ++i) EXPECT_EQ(got[i], frames[i % 10]) << i;
    EXPECT_TRUE(p->rx_finished(0));
    EXPECT_EQ(p->counters(0).rx_packets, 30u);
}

TEST(PcapPort, repeat_zero_replays_without_end) {
    TempDir dir;
    const auto frames = some_frames(3);
    auto p = open_spec("pcap:" + write_frames(dir, "in.pcap", frames) + ",repeat=0");
    const auto got = receive_all(*p, 32, 100);  // stops after 100 bursts, not at an end
    EXPECT_EQ(got.size(), 3200u);
    for (std::size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], frames[i % 3]) << i;
    EXPECT_FALSE(p->rx_finished(0));
}

TEST(PcapPort, an_empty_file_finishes_even_with_repeat_forever) {
    TempDir dir;
    auto p = open_spec("pcap:" + write_frames(dir, "empty.pcap", {}) + ",repeat=0");
    std::array<PacketHandle, 8> rx{};
    EXPECT_EQ(p->rx_burst(0, rx), 0);
    EXPECT_TRUE(p->rx_finished(0));
}

TEST(PcapPort, every_truncation_delivers_the_whole_records_and_counts_the_damage) {
    PcapBuild b;
    Bytes good = pcap_header(b);
    std::vector<std::size_t> boundaries = {good.size()};
    const auto frames = some_frames(3);
    for (const auto& f : frames) {
        pcap_record(good, b, 1, 2, f);
        boundaries.push_back(good.size());
    }
    TempDir dir;
    for (std::size_t cut = kPcapGlobalHeaderSize; cut <= good.size(); ++cut) {
        SCOPED_TRACE("file cut to " + std::to_string(cut) + " bytes");
        const std::string path = dir.file("cut.pcap");
        write_file(path, std::span(good).first(cut));
        // repeat=5: a damaged file must not be replayed past its damage.
        auto p = open_spec("pcap:" + path + ",repeat=5");
        const auto got = receive_all(*p, 2, 1000);
        std::size_t whole = 0;
        while (whole + 1 < boundaries.size() && boundaries[whole + 1] <= cut) ++whole;
        EXPECT_TRUE(p->rx_finished(0));
        if (boundaries[whole] == cut) {
            EXPECT_EQ(got.size(), whole * 5);
            EXPECT_EQ(p->counters(0).rx_errors, 0u);
        } else {
            EXPECT_EQ(got, std::vector<Bytes>(frames.begin(), frames.begin() + static_cast<std::ptrdiff_t>(whole)));
            EXPECT_EQ(p->counters(0).rx_errors, 1u);
        }
    }
}

TEST(PcapPort, a_truncated_global_header_fails_at_open_naming_the_file) {
    TempDir dir;
    const std::string path = dir.file("short.pcap");
    const Bytes header = pcap_header(PcapBuild{});
    write_file(path, std::span(header).first(10));
    try {
        (void)open_spec("pcap:" + path);
        FAIL() << "expected PortError";
    } catch (const PortError& e) {
        EXPECT_THAT(e.what(), HasSubstr(path));
        EXPECT_THAT(e.what(), HasSubstr("offset 0: truncated global header"));
    }
}

TEST(PcapPort, skips_records_longer_than_the_frame_room_and_counts_them) {
    TempDir dir;
    // 2048-byte frames with 256 of headroom hold 1792 bytes.
    const std::vector<Bytes> frames = {pattern(100, 1), pattern(1793, 2), pattern(1792, 3)};
    auto p = open_spec("pcap:" + write_frames(dir, "big.pcap", frames));
    EXPECT_EQ(p->capabilities().max_frame, 1792u);
    EXPECT_FALSE(p->capabilities().zero_copy);
    const auto got = receive_all(*p);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0], frames[0]);
    EXPECT_EQ(got[1], frames[2]);
    EXPECT_EQ(p->counters(0).rx_errors, 1u);
    EXPECT_TRUE(p->rx_finished(0));
}

TEST(PcapPort, counts_records_dropped_for_lack_of_frames) {
    TempDir dir;
    auto p = open_spec("pcap:" + write_frames(dir, "in.pcap", some_frames(6)), 4);
    std::array<PacketHandle, 8> rx{};
    // The caller holds every frame: 4 delivered, the rest dropped like a NIC
    // with an empty fill ring.
    ASSERT_EQ(p->rx_burst(0, rx), 4);
    EXPECT_EQ(p->rx_burst(0, rx), 0);
    EXPECT_EQ(p->counters(0).rx_dropped, 2u);
    EXPECT_EQ(p->counters(0).rx_packets, 4u);
    p->free(0, std::span<const PacketHandle>(rx.data(), 4));
    EXPECT_EQ(p->rx_burst(0, rx), 0);
    EXPECT_TRUE(p->rx_finished(0));
}

TEST(PcapPort, rejects_a_link_type_other_than_ethernet_naming_it) {
    TempDir dir;
    PcapBuild b;
    b.linktype = 113;
    const std::string path = dir.file("sll.pcap");
    write_file(path, pcap_header(b));
    try {
        (void)open_spec("pcap:" + path);
        FAIL() << "expected PortError";
    } catch (const PortError& e) {
        EXPECT_THAT(e.what(), HasSubstr(path));
        EXPECT_THAT(e.what(), HasSubstr("link type 113 (LINUX_SLL"));
        EXPECT_THAT(e.what(), HasSubstr("LINKTYPE_ETHERNET"));
    }
}

TEST(PcapPort, reports_an_output_it_cannot_create) {
    TempDir dir;
    EXPECT_THROW((void)open_spec("pcap:-,out=" + dir.file("missing/out.pcap")), PortError);
}

TEST(PcapPort, repeat_on_a_pipe_fails_at_open) {
    TempDir dir;
    const std::string fifo = dir.file("in.fifo");
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    Bytes file = pcap_header(PcapBuild{});
    std::thread writer([&] {
        const int fd = ::open(fifo.c_str(), O_WRONLY);
        if (fd < 0) return;
        // One write under PIPE_BUF: all in the pipe before the reader looks.
        (void)!::write(fd, file.data(), file.size());
        ::close(fd);
    });
    try {
        (void)open_spec("pcap:" + fifo + ",repeat=2");
        ADD_FAILURE() << "expected PortError";
    } catch (const PortError& e) {
        EXPECT_THAT(e.what(), HasSubstr("cannot seek"));
    }
    writer.join();
}

TEST(PcapPort, counts_frames_lost_to_a_failed_write_in_tx_dropped) {
    TempDir dir;
    const std::string out = dir.file("out.pcap");
    auto p = open_spec("pcap:-,out=" + out);

    rlimit old{};
    ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
    auto* old_handler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit lim = old;
    lim.rlim_cur = 2000;  // stands in for a full disk
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &lim), 0);
    const auto lost = make_tx(*p, std::vector<Bytes>(30, pattern(200, 1)));
    ASSERT_EQ(p->tx_burst(0, lost), 30);  // taken: the port owns them now
    p->flush(0);
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old), 0);
    std::signal(SIGXFSZ, old_handler);

    EXPECT_EQ(p->counters(0).tx_packets, 30u);
    EXPECT_EQ(p->counters(0).tx_dropped, 30u);
    const auto kept = make_tx(*p, {pattern(80, 2)});
    ASSERT_EQ(p->tx_burst(0, kept), 1);
    p->flush(0);
    EXPECT_EQ(p->counters(0).tx_dropped, 30u);
    EXPECT_EQ(read_records(out), std::vector<Bytes>{pattern(80, 2)});
}

TEST(PcapPort, opens_through_the_registry) {
    TempDir dir;
    const auto frames = some_frames(4);
    auto p = open_port("pcap:" + write_frames(dir, "in.pcap", frames), small_options());
    EXPECT_EQ(p->kind(), "pcap");
    EXPECT_EQ(receive_all(*p), frames);
}

TEST(PcapPort, replays_its_own_output_identically) {
    TempDir dir;
    const auto frames = some_frames(25);
    const std::string mid = dir.file("mid.pcap");
    {
        auto a = open_spec("pcap:" + write_frames(dir, "in.pcap", frames) + ",out=" + mid);
        std::array<PacketHandle, 8> rx{};
        while (!a->rx_finished(0)) {
            const std::uint16_t n = a->rx_burst(0, rx);
            ASSERT_EQ(a->tx_burst(0, std::span<const PacketHandle>(rx.data(), n)), n);
        }
    }
    auto b = open_spec("pcap:" + mid);
    EXPECT_EQ(receive_all(*b), frames);
}
