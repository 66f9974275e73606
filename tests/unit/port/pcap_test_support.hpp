// Helpers for the pcap tests: a temporary directory that cleans up after
// itself, and pcap files built byte by byte (in either byte order), so the
// reader is checked against bytes written independently of PcapWriter.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace kbnet::test {

using Bytes = std::vector<std::uint8_t>;

class TempDir {
  public:
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "kbnet-test-XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    [[nodiscard]] std::string file(const std::string& name) const { return (path_ / name).string(); }

  private:
    std::filesystem::path path_;
};

inline void write_file(const std::string& path, std::span<const std::uint8_t> bytes) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(f.good()) << path;
}

inline Bytes read_whole_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// Appends v in the file's byte order.
inline void put16(Bytes& out, std::uint16_t v, bool big_endian) {
    if (big_endian) {
        out.push_back(static_cast<std::uint8_t>(v >> 8));
        out.push_back(static_cast<std::uint8_t>(v));
    } else {
        out.push_back(static_cast<std::uint8_t>(v));
        out.push_back(static_cast<std::uint8_t>(v >> 8));
    }
}
inline void put32(Bytes& out, std::uint32_t v, bool big_endian) {
    for (int i = 0; i < 4; ++i) {
        const int shift = big_endian ? 24 - 8 * i : 8 * i;
        out.push_back(static_cast<std::uint8_t>(v >> shift));
    }
}

struct PcapBuild {
    bool big_endian = false;
    bool nano = false;
    std::uint32_t snaplen = 65535;
    std::uint32_t linktype = 1;
    std::uint16_t major = 2;
    std::uint16_t minor = 4;
};

// The 24-byte global header.
inline Bytes pcap_header(const PcapBuild& b) {
    Bytes out;
    put32(out, b.nano ? 0xa1b23c4du : 0xa1b2c3d4u, b.big_endian);
    put16(out, b.major, b.big_endian);
    put16(out, b.minor, b.big_endian);
    put32(out, 0, b.big_endian);  // thiszone
    put32(out, 0, b.big_endian);  // sigfigs
    put32(out, b.snaplen, b.big_endian);
    put32(out, b.linktype, b.big_endian);
    return out;
}

// A record with explicit header fields (which may contradict the data, to
// build damaged files).
inline void pcap_record(Bytes& out, const PcapBuild& b, std::uint32_t ts_sec, std::uint32_t ts_frac,
                        std::uint32_t incl_len, std::uint32_t orig_len, std::span<const std::uint8_t> data) {
    put32(out, ts_sec, b.big_endian);
    put32(out, ts_frac, b.big_endian);
    put32(out, incl_len, b.big_endian);
    put32(out, orig_len, b.big_endian);
    out.insert(out.end(), data.begin(), data.end());
}

inline void pcap_record(Bytes& out, const PcapBuild& b, std::uint32_t ts_sec, std::uint32_t ts_frac,
                        std::span<const std::uint8_t> data) {
    const auto len = static_cast<std::uint32_t>(data.size());
    pcap_record(out, b, ts_sec, ts_frac, len, len, data);
}

// n bytes of a pattern that differs per seed, so a misplaced or mixed-up
// packet never compares equal by accident.
inline Bytes pattern(std::size_t n, std::uint32_t seed) {
    Bytes out(n);
    std::uint32_t x = seed * 2654435761u + 12345u;
    for (auto& byte : out) {
        x = x * 1103515245u + 12345u;
        byte = static_cast<std::uint8_t>(x >> 16);
    }
    return out;
}

}  // namespace kbnet::test
