#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <csignal>
#include <string>
#include <vector>

#include "kbnet/core/endian.hpp"
#include "kbnet/port/port.hpp"
#include "pcap_test_support.hpp"
#include "port/pcap/pcap_file.hpp"

using namespace kbnet;
using namespace kbnet::port;
using namespace kbnet::test;
using ::testing::HasSubstr;

namespace {

// A record copied out of the reader (its data span dies at the next call).
struct Rec {
    std::uint32_t ts_sec;
    std::uint32_t ts_frac;
    std::uint64_t ts_ns;
    std::uint32_t orig_len;
    std::uint64_t offset;
    Bytes data;
};

struct ReadAll {
    std::vector<Rec> records;
    PcapNext last = PcapNext::record;
};

ReadAll read_all(PcapReader& r) {
    ReadAll out;
    PcapRecord rec;
    while ((out.last = r.next(rec)) == PcapNext::record) {
        out.records.push_back(
            {rec.ts_sec, rec.ts_frac, rec.ts_ns, rec.orig_len, rec.offset, Bytes(rec.data.begin(), rec.data.end())});
    }
    return out;
}

std::string open_error(const std::string& path) {
    try {
        PcapReader r(path);
    } catch (const PortError& e) {
        return e.what();
    }
    return "";
}

}  // namespace

// ---- writer -> reader ---------------------------------------------------------

TEST(PcapFile, microsecond_writer_round_trips_through_the_reader) {
    TempDir dir;
    const std::string path = dir.file("us.pcap");
    const std::vector<Bytes> frames = {pattern(60, 1), pattern(1514, 2), pattern(14, 3), {}};
    {
        PcapWriter w(path);
        for (std::size_t i = 0; i < frames.size(); ++i) {
            // Nanoseconds below the microsecond are cut off by the format.
            ASSERT_TRUE(w.write(1'700'000'000'123'456'789ULL + i * 1'000'000'000ULL, frames[i]).ok());
        }
    }
    PcapReader r(path);
    EXPECT_EQ(r.header().resolution, PcapResolution::micro);
    EXPECT_FALSE(r.header().swapped);
    EXPECT_EQ(r.header().version_major, 2);
    EXPECT_EQ(r.header().version_minor, 4);
    EXPECT_EQ(r.header().snaplen, 65535u);
    EXPECT_EQ(r.header().linktype, kLinktypeEthernet);
    const ReadAll all = read_all(r);
    EXPECT_EQ(all.last, PcapNext::end);
    ASSERT_EQ(all.records.size(), frames.size());
    std::uint64_t offset = kPcapGlobalHeaderSize;
    for (std::size_t i = 0; i < frames.size(); ++i) {
        EXPECT_EQ(all.records[i].data, frames[i]) << i;
        EXPECT_EQ(all.records[i].ts_sec, 1'700'000'000u + i);
        EXPECT_EQ(all.records[i].ts_frac, 123'456u);
        EXPECT_EQ(all.records[i].ts_ns, (1'700'000'000ULL + i) * 1'000'000'000ULL + 123'456'000ULL);
        EXPECT_EQ(all.records[i].orig_len, frames[i].size());
        EXPECT_EQ(all.records[i].offset, offset);
        offset += kPcapRecordHeaderSize + frames[i].size();
    }
    // Nothing after the end, and the end stays the end.
    PcapRecord rec;
    EXPECT_EQ(r.next(rec), PcapNext::end);
}

TEST(PcapFile, nanosecond_writer_keeps_full_timestamp_precision) {
    TempDir dir;
    const std::string path = dir.file("ns.pcap");
    {
        PcapWriter w(path, PcapResolution::nano);
        ASSERT_TRUE(w.write(1'700'000'000'123'456'789ULL, pattern(64, 7)).ok());
        ASSERT_TRUE(w.write(5, pattern(64, 8)).ok());
    }
    const Bytes raw = read_whole_file(path);
    ASSERT_GE(raw.size(), 4u);
    EXPECT_EQ(load_le32(raw.data()), kPcapMagicNano);
    PcapReader r(path);
    EXPECT_EQ(r.header().resolution, PcapResolution::nano);
    const ReadAll all = read_all(r);
    ASSERT_EQ(all.records.size(), 2u);
    EXPECT_EQ(all.records[0].ts_ns, 1'700'000'000'123'456'789ULL);
    EXPECT_EQ(all.records[0].ts_frac, 123'456'789u);
    EXPECT_EQ(all.records[1].ts_ns, 5u);
    EXPECT_EQ(all.records[1].data, pattern(64, 8));
}

TEST(PcapFile, writer_cuts_records_at_its_snaplen_and_keeps_the_original_length) {
    TempDir dir;
    const std::string path = dir.file("snap.pcap");
    {
        PcapWriter w(path, PcapResolution::micro, 100);
        ASSERT_TRUE(w.write(0, pattern(300, 1)).ok());
    }
    PcapReader r(path);
    EXPECT_EQ(r.header().snaplen, 100u);
    const ReadAll all = read_all(r);
    ASSERT_EQ(all.records.size(), 1u);
    EXPECT_EQ(all.records[0].orig_len, 300u);
    const Bytes full = pattern(300, 1);
    EXPECT_EQ(all.records[0].data, Bytes(full.begin(), full.begin() + 100));
}

TEST(PcapFile, writer_flushes_by_itself_when_its_buffer_fills) {
    TempDir dir;
    const std::string path = dir.file("small-buffer.pcap");
    PcapWriter w(path, PcapResolution::micro, 200, 1);  // buffer: the minimum, one record
    for (std::uint32_t i = 0; i < 50; ++i) ASSERT_TRUE(w.write(i, pattern(150, i)).ok());
    // Without any flush() call, all but the last record are already in the file.
    EXPECT_EQ(read_whole_file(path).size(), kPcapGlobalHeaderSize + 49 * (kPcapRecordHeaderSize + 150));
    ASSERT_TRUE(w.flush().ok());
    PcapReader r(path);
    const ReadAll all = read_all(r);
    ASSERT_EQ(all.records.size(), 50u);
    for (std::uint32_t i = 0; i < 50; ++i) EXPECT_EQ(all.records[i].data, pattern(150, i));
}

TEST(PcapFile, writer_keeps_records_buffered_until_flush) {
    TempDir dir;
    const std::string path = dir.file("buffered.pcap");
    PcapWriter w(path);
    ASSERT_TRUE(w.write(0, pattern(60, 1)).ok());
    EXPECT_EQ(read_whole_file(path).size(), kPcapGlobalHeaderSize);  // one write per buffer, not per packet
    ASSERT_TRUE(w.flush().ok());
    EXPECT_EQ(read_whole_file(path).size(), kPcapGlobalHeaderSize + kPcapRecordHeaderSize + 60);
}

TEST(PcapFile, reader_streams_a_file_larger_than_its_buffer) {
    // Several MiB of odd-sized records: records straddle every buffer refill.
    TempDir dir;
    const std::string path = dir.file("big.pcap");
    constexpr std::uint32_t kCount = 4000;
    const auto size_of = [](std::uint32_t i) { return static_cast<std::size_t>(60 + (i * 7919u) % 1455u); };
    {
        PcapWriter w(path);
        for (std::uint32_t i = 0; i < kCount; ++i) ASSERT_TRUE(w.write(i * 1000ULL, pattern(size_of(i), i)).ok());
    }
    PcapReader r(path, 1);  // smallest buffer the reader allows (one maximum-size record)
    PcapRecord rec;
    std::uint32_t i = 0;
    for (; r.next(rec) == PcapNext::record; ++i) {
        ASSERT_LT(i, kCount);
        ASSERT_EQ(Bytes(rec.data.begin(), rec.data.end()), pattern(size_of(i), i)) << "record " << i;
        ASSERT_EQ(rec.ts_ns, i * 1000ULL);
    }
    EXPECT_EQ(i, kCount);
    EXPECT_EQ(r.error().code, Errc::ok);
}

TEST(PcapFile, rewind_reads_the_records_again) {
    TempDir dir;
    const std::string path = dir.file("rewind.pcap");
    {
        PcapWriter w(path);
        for (std::uint32_t i = 0; i < 3; ++i) ASSERT_TRUE(w.write(i, pattern(70, i)).ok());
    }
    PcapReader r(path);
    EXPECT_TRUE(r.seekable());
    const ReadAll first = read_all(r);
    ASSERT_TRUE(r.rewind());
    const ReadAll second = read_all(r);
    ASSERT_EQ(second.records.size(), 3u);
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(second.records[i].data, first.records[i].data);
        EXPECT_EQ(second.records[i].offset, first.records[i].offset);
    }
}

TEST(PcapFile, writer_reports_a_file_it_cannot_create) {
    TempDir dir;
    try {
        PcapWriter w(dir.file("no-such-dir/out.pcap"));
        FAIL() << "expected PortError";
    } catch (const PortError& e) {
        EXPECT_THAT(e.what(), HasSubstr("no-such-dir/out.pcap"));
        EXPECT_THAT(e.what(), HasSubstr("cannot create"));
    }
}

TEST(PcapFile, writer_fails_at_setup_when_the_device_is_full) {
    try {
        PcapWriter w("/dev/full");
        FAIL() << "expected PortError";
    } catch (const PortError& e) {
        EXPECT_THAT(e.what(), HasSubstr("/dev/full"));
        EXPECT_THAT(e.what(), HasSubstr("cannot write the file header"));
    }
}

TEST(PcapFile, writer_counts_records_lost_to_a_full_disk_and_keeps_the_file_readable) {
    TempDir dir;
    const std::string path = dir.file("limited.pcap");
    PcapWriter w(path);
    ASSERT_TRUE(w.write(1, pattern(100, 1)).ok());
    ASSERT_TRUE(w.flush().ok());

    // A file size limit stands in for a full disk: write() fails with EFBIG
    // part-way through the buffer (SIGXFSZ ignored, as a server would).
    rlimit old{};
    ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
    auto* old_handler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit lim = old;
    lim.rlim_cur = 1000;
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &lim), 0);
    for (std::uint32_t i = 0; i < 20; ++i) ASSERT_TRUE(w.write(2 + i, pattern(100, 100 + i)).ok());
    const Status st = w.flush();
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old), 0);
    std::signal(SIGXFSZ, old_handler);

    EXPECT_FALSE(st.ok());
    EXPECT_EQ(st.code(), Errc::io_error);
    EXPECT_EQ(w.lost_records(), 20u);
    EXPECT_EQ(w.last_errno(), EFBIG);
    // The partial record was cut off again: the file ends at a record boundary.
    EXPECT_EQ(read_whole_file(path).size(), kPcapGlobalHeaderSize + kPcapRecordHeaderSize + 100);

    // Later records land after the good ones.
    ASSERT_TRUE(w.write(99, pattern(100, 99)).ok());
    ASSERT_TRUE(w.flush().ok());
    PcapReader r(path);
    const ReadAll all = read_all(r);
    EXPECT_EQ(all.last, PcapNext::end);
    ASSERT_EQ(all.records.size(), 2u);
    EXPECT_EQ(all.records[0].data, pattern(100, 1));
    EXPECT_EQ(all.records[1].data, pattern(100, 99));
}

// ---- hand-built files: both resolutions, both byte orders ---------------------

class PcapVariant : public ::testing::TestWithParam<std::tuple<bool, bool>> {};

TEST_P(PcapVariant, reader_decodes_every_header_field_and_timestamp) {
    const auto [big_endian, nano] = GetParam();
    PcapBuild b;
    b.big_endian = big_endian;
    b.nano = nano;
    b.snaplen = 0x00012345;  // bytes that differ, so a missed swap shows
    Bytes file = pcap_header(b);
    const std::uint32_t fracs[3] = {nano ? 999'999'999u : 999'999u, 1u, nano ? 0x01020304u % 1'000'000'000u : 0x0102u};
    const std::uint32_t secs[3] = {0x01020304u, 0u, 0xfffffffeu};
    const std::size_t lens[3] = {60, 1, 0x0123};
    for (int i = 0; i < 3; ++i) {
        const Bytes data = pattern(lens[i], static_cast<std::uint32_t>(i));
        pcap_record(file, b, secs[i], fracs[i], static_cast<std::uint32_t>(data.size()),
                    static_cast<std::uint32_t>(data.size()) + 1000u * static_cast<std::uint32_t>(i), data);
    }
    TempDir dir;
    const std::string path = dir.file("variant.pcap");
    write_file(path, file);

    PcapReader r(path);
    EXPECT_EQ(r.header().swapped, big_endian);
    EXPECT_EQ(r.header().resolution, nano ? PcapResolution::nano : PcapResolution::micro);
    EXPECT_EQ(r.header().version_major, 2);
    EXPECT_EQ(r.header().version_minor, 4);
    EXPECT_EQ(r.header().snaplen, 0x00012345u);
    EXPECT_EQ(r.header().linktype, 1u);
    const ReadAll all = read_all(r);
    EXPECT_EQ(all.last, PcapNext::end);
    ASSERT_EQ(all.records.size(), 3u);
    std::uint64_t offset = kPcapGlobalHeaderSize;
    for (int i = 0; i < 3; ++i) {
        const Rec& rec = all.records[static_cast<std::size_t>(i)];
        EXPECT_EQ(rec.ts_sec, secs[i]);
        EXPECT_EQ(rec.ts_frac, fracs[i]);
        EXPECT_EQ(rec.ts_ns, std::uint64_t{secs[i]} * 1'000'000'000ULL + (nano ? fracs[i] : fracs[i] * 1000ULL));
        EXPECT_EQ(rec.data, pattern(lens[i], static_cast<std::uint32_t>(i)));
        EXPECT_EQ(rec.orig_len, lens[i] + 1000u * static_cast<std::uint32_t>(i));
        EXPECT_EQ(rec.offset, offset);
        offset += kPcapRecordHeaderSize + lens[i];
    }
}

INSTANTIATE_TEST_SUITE_P(AllFour, PcapVariant, ::testing::Combine(::testing::Bool(), ::testing::Bool()),
                         [](const auto& param_info) {
                             return std::string(std::get<0>(param_info.param) ? "big_endian" : "little_endian") + "_" +
                                    (std::get<1>(param_info.param) ? "nanoseconds" : "microseconds");
                         });

// ---- damaged files ------------------------------------------------------------------

TEST(PcapFile, every_truncation_of_a_good_file_is_a_clean_end_or_a_clear_error) {
    PcapBuild b;
    Bytes good = pcap_header(b);
    std::vector<std::size_t> boundaries = {good.size()};
    for (std::size_t len : {20u, 1u, 33u}) {
        pcap_record(good, b, 1, 2, pattern(len, static_cast<std::uint32_t>(len)));
        boundaries.push_back(good.size());
    }
    TempDir dir;
    for (std::size_t cut = 0; cut <= good.size(); ++cut) {
        SCOPED_TRACE("file cut to " + std::to_string(cut) + " bytes");
        const std::string path = dir.file("cut-" + std::to_string(cut) + ".pcap");
        write_file(path, std::span(good).first(cut));
        if (cut < kPcapGlobalHeaderSize) {
            const std::string msg = open_error(path);
            EXPECT_THAT(msg, HasSubstr(path));
            EXPECT_THAT(msg, HasSubstr(cut == 0 ? "the file is empty" : "truncated global header"));
            continue;
        }
        PcapReader r(path);
        const ReadAll all = read_all(r);
        std::size_t whole = 0;
        while (whole + 1 < boundaries.size() && boundaries[whole + 1] <= cut) ++whole;
        EXPECT_EQ(all.records.size(), whole);
        const bool at_boundary = boundaries[whole] == cut;
        if (at_boundary) {
            EXPECT_EQ(all.last, PcapNext::end);
            EXPECT_EQ(r.error().code, Errc::ok);
            EXPECT_TRUE(r.error_message().empty());
            continue;
        }
        ASSERT_EQ(all.last, PcapNext::error);
        EXPECT_EQ(r.error().code, Errc::truncated);
        const std::string msg(r.error_message());
        EXPECT_THAT(msg, HasSubstr(path));
        EXPECT_THAT(msg, HasSubstr("offset " + std::to_string(boundaries[whole]) + ":"));
        EXPECT_THAT(msg, HasSubstr(cut - boundaries[whole] < kPcapRecordHeaderSize ? "truncated record header"
                                                                                   : "record body cut short"));
        // Sticky: the stream stays ended by the error.
        PcapRecord rec;
        EXPECT_EQ(r.next(rec), PcapNext::error);
    }
}

TEST(PcapFile, rejects_a_file_with_an_unknown_magic) {
    TempDir dir;
    const std::string path = dir.file("garbage.pcap");
    Bytes bytes(64, 0x42);
    write_file(path, bytes);
    const std::string msg = open_error(path);
    EXPECT_THAT(msg, HasSubstr(path));
    EXPECT_THAT(msg, HasSubstr("offset 0: not a pcap file: magic 0x42424242"));
    EXPECT_THAT(msg, HasSubstr("editcap -F pcap"));
}

TEST(PcapFile, rejects_pcapng_and_says_how_to_convert_it) {
    TempDir dir;
    const std::string path = dir.file("capture.pcapng");
    // Section Header Block: type 0x0a0d0d0a, length, byte-order magic 0x1a2b3c4d.
    Bytes bytes = {0x0a, 0x0d, 0x0d, 0x0a, 0x1c, 0,    0,    0,    0x4d, 0x3c, 0x2b, 0x1a, 1, 0,
                   0,    0,    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1c, 0,    0, 0};
    write_file(path, bytes);
    const std::string msg = open_error(path);
    EXPECT_THAT(msg, HasSubstr("magic 0x0a0d0d0a is pcapng"));
    EXPECT_THAT(msg, HasSubstr("editcap -F pcap"));
}

TEST(PcapFile, rejects_a_major_version_other_than_two) {
    TempDir dir;
    const std::string path = dir.file("v3.pcap");
    PcapBuild b;
    b.major = 3;
    b.minor = 0;
    write_file(path, pcap_header(b));
    EXPECT_THAT(open_error(path), HasSubstr("unsupported pcap version 3.0"));
}

TEST(PcapFile, reports_a_missing_file_and_a_directory) {
    TempDir dir;
    EXPECT_THAT(open_error(dir.file("missing.pcap")), HasSubstr("cannot open: No such file or directory"));
    ASSERT_EQ(::mkdir(dir.file("subdir").c_str(), 0755), 0);
    EXPECT_THAT(open_error(dir.file("subdir")), HasSubstr("is a directory"));
}

namespace {

// A file with one good record and then one with the given header fields.
std::string damaged(const TempDir& dir, PcapBuild b, std::uint32_t incl, std::uint32_t orig, std::size_t body) {
    Bytes file = pcap_header(b);
    pcap_record(file, b, 1, 0, pattern(40, 1));
    pcap_record(file, b, 2, 0, incl, orig, pattern(body, 2));
    const std::string path = dir.file("damaged.pcap");
    write_file(path, file);
    return path;
}

void expect_second_record_malformed(const std::string& path, const char* what) {
    PcapReader r(path);
    const ReadAll all = read_all(r);
    ASSERT_EQ(all.records.size(), 1u);  // the good one before the damage
    EXPECT_EQ(all.records[0].data, pattern(40, 1));
    EXPECT_EQ(all.last, PcapNext::error);
    EXPECT_EQ(r.error().code, Errc::malformed);
    EXPECT_THAT(std::string(r.error_message()), HasSubstr("offset 80: corrupt record header"));
    EXPECT_THAT(std::string(r.error_message()), HasSubstr(what));
}

}  // namespace

TEST(PcapFile, rejects_a_record_longer_than_the_snaplen) {
    TempDir dir;
    PcapBuild b;
    b.snaplen = 64;
    expect_second_record_malformed(damaged(dir, b, 65, 65, 65), "(incl_len 65, snaplen 64)");
}

TEST(PcapFile, rejects_a_record_over_the_sane_maximum_without_reading_it) {
    TempDir dir;
    PcapBuild b;
    b.snaplen = 0xffffffff;  // a snaplen that allows anything does not lift the bound
    expect_second_record_malformed(damaged(dir, b, 0x7fffffff, 0x7fffffff, 10), "maximum 262144");
}

TEST(PcapFile, rejects_a_record_captured_longer_than_it_was) {
    TempDir dir;
    expect_second_record_malformed(damaged(dir, PcapBuild{}, 50, 49, 50), "(incl_len 50, orig_len 49)");
}

TEST(PcapFile, names_common_link_types) {
    EXPECT_THAT(std::string(pcap_linktype_name(113)), HasSubstr("LINUX_SLL"));
    EXPECT_EQ(pcap_linktype_name(1), "ETHERNET");
    EXPECT_EQ(pcap_linktype_name(4242), "");
}

TEST(PcapFile, survives_random_damage_with_an_end_or_an_error_never_a_crash) {
    // Seeded random bytes written over a good file, then a random cut: the
    // reader must stop with an end or an error and never read outside its
    // buffer (the sanitizer build checks that). A small in-test fuzzer; the
    // libFuzzer target would go further.
    PcapBuild b;
    Bytes good = pcap_header(b);
    for (std::uint32_t i = 0; i < 20; ++i) pcap_record(good, b, i, i, pattern(10 + i * 13, i));
    TempDir dir;
    const std::string path = dir.file("fuzzed.pcap");
    std::uint64_t state = 42;
    const auto next = [&state] {  // splitmix64: deterministic across platforms
        std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    };
    int errors = 0;
    for (int round = 0; round < 500; ++round) {
        Bytes bytes = good;
        const std::uint64_t flips = 1 + next() % 8;
        for (std::uint64_t k = 0; k < flips; ++k) {
            const std::size_t at = kPcapGlobalHeaderSize + next() % (bytes.size() - kPcapGlobalHeaderSize);
            bytes[at] = static_cast<std::uint8_t>(next());
        }
        bytes.resize(kPcapGlobalHeaderSize + next() % (bytes.size() - kPcapGlobalHeaderSize + 1));
        write_file(path, bytes);
        PcapReader r(path);
        const ReadAll all = read_all(r);
        ASSERT_NE(all.last, PcapNext::record);
        EXPECT_LE(all.records.size(), 20u);
        std::uint64_t total = 0;
        for (const Rec& rec : all.records) total += kPcapRecordHeaderSize + rec.data.size();
        EXPECT_LE(kPcapGlobalHeaderSize + total, bytes.size());
        if (all.last == PcapNext::error) {
            ++errors;
            EXPECT_FALSE(r.error_message().empty());
        }
    }
    EXPECT_GT(errors, 100);  // the damage was real
}
