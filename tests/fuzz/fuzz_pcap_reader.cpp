// Fuzz target for the pcap file reader: any bytes as a capture file. The
// reader must either refuse the header with a PortError or stream records
// until a clean end or a reported error, never reading out of bounds.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "kbnet/port/port.hpp"
#include "port/pcap/pcap_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // An in-memory file: the reader opens paths, and /proc/self/fd/N names it.
    static const int fd = memfd_create("fuzz_pcap", 0);
    if (fd < 0) return 0;
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) return 0;
    const std::string path = "/proc/self/fd/" + std::to_string(fd);
    try {
        // A small buffer makes records straddle refills, the reader's hardest path.
        kbnet::port::PcapReader reader(path, 4096);
        kbnet::port::PcapRecord rec;
        std::uint64_t bytes = 0;
        for (int i = 0; i < 10000; ++i) {
            const auto r = reader.next(rec);
            if (r != kbnet::port::PcapNext::record) break;
            // Touch every byte the reader says is there.
            for (std::uint8_t b : rec.data) bytes += b;
            if (rec.data.size() > rec.orig_len) __builtin_trap();
        }
        if (bytes == 0x7fffffffffffffffULL) std::puts("");  // keep the loop from being optimised away
    } catch (const kbnet::port::PortError&) {
        // A refused header is a correct outcome.
    }
    return 0;
}
