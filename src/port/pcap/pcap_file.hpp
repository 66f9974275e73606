// Reader and writer of the classic libpcap file format (not pcapng), our own
// rather than libpcap's: the reader must stream a file of any size through
// one fixed buffer with no syscall per packet, and must turn every kind of
// damage into an error that names the file, the byte offset and the problem.
//
// Format (https://www.tcpdump.org/manpages/pcap-savefile.5.html and
// draft-ietf-opsawg-pcap):
//   global header, 24 bytes: magic u32, version_major u16, version_minor u16,
//     thiszone i32, sigfigs u32, snaplen u32, linktype u32
//   then records: ts_sec u32, ts_usec-or-nsec u32, incl_len u32, orig_len u32,
//     followed by incl_len bytes of packet.
// The magic says the timestamp resolution (0xa1b2c3d4 microseconds,
// 0xa1b23c4d nanoseconds) and, read in our byte order, whether the writer had
// the other endianness (0xd4c3b2a1 / 0x4d3cb2a1): then every header field of
// the file is byte-swapped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "kbnet/core/result.hpp"

namespace kbnet::port {

inline constexpr std::uint32_t kPcapMagicMicro = 0xa1b2c3d4;
inline constexpr std::uint32_t kPcapMagicNano = 0xa1b23c4d;
// First block type of every pcapng file (Section Header Block); the same
// bytes in either byte order, so it is recognised before any swapping.
inline constexpr std::uint32_t kPcapngMagic = 0x0a0d0d0a;
inline constexpr std::uint32_t kLinktypeEthernet = 1;
inline constexpr std::size_t kPcapGlobalHeaderSize = 24;
inline constexpr std::size_t kPcapRecordHeaderSize = 16;
// Largest record the reader accepts whatever the file's snaplen says: the
// same bound libpcap uses (MAXIMUM_SNAPLEN). A larger incl_len is a corrupt
// header, and the bound is what lets a fixed read buffer hold any record.
inline constexpr std::uint32_t kPcapMaxRecord = 256 * 1024;
inline constexpr std::size_t kPcapDefaultBuffer = std::size_t{1} << 20;

enum class PcapResolution : std::uint8_t { micro, nano };

// Name of a link type for error messages ("LINUX_SLL"), or "" if unknown.
[[nodiscard]] std::string_view pcap_linktype_name(std::uint32_t linktype) noexcept;

struct PcapFileHeader {
    PcapResolution resolution = PcapResolution::micro;
    bool swapped = false;  // written on a host of the other byte order
    std::uint16_t version_major = 2;
    std::uint16_t version_minor = 4;
    std::uint32_t snaplen = 0;
    std::uint32_t linktype = 0;  // the whole field: link type in the low 16 bits, FCS flags above
};

// One record, in host byte order. data points into the reader's buffer and
// is valid until the next call to next() or rewind().
struct PcapRecord {
    std::uint32_t ts_sec = 0;
    std::uint32_t ts_frac = 0;  // microseconds or nanoseconds, as the file's resolution says
    std::uint64_t ts_ns = 0;    // the timestamp in nanoseconds since the epoch
    std::uint32_t orig_len = 0;
    std::uint64_t offset = 0;  // byte offset of the record header in the file
    std::span<const std::uint8_t> data;
};

enum class PcapNext : std::uint8_t {
    record,  // a record was read
    end,     // clean end of file, at a record boundary
    error,   // damaged file or read failure: error() and error_message() say which; sticky
};

class PcapReader {
  public:
    // Opens the file and validates the global header. Setup path: throws
    // PortError("pcap file 'PATH': offset N: PROBLEM") when the file cannot be
    // opened or the header is truncated or not a classic pcap header.
    // buffer_size is raised to hold at least one record of the largest size.
    explicit PcapReader(std::string path, std::size_t buffer_size = kPcapDefaultBuffer);
    ~PcapReader();
    PcapReader(const PcapReader&) = delete;
    PcapReader& operator=(const PcapReader&) = delete;

    [[nodiscard]] const std::string& path() const noexcept { return path_; }
    [[nodiscard]] const PcapFileHeader& header() const noexcept { return header_; }

    // The next record. Never throws, never allocates, never reads outside the
    // buffer: a damaged record (truncated header or body, incl_len over the
    // snaplen, over kPcapMaxRecord or over orig_len) or a read failure is
    // PcapNext::error, and every later call returns error again.
    [[nodiscard]] PcapNext next(PcapRecord& out) noexcept;

    // Back to the first record (for replaying the file again). False if the
    // file cannot seek (a FIFO). Clears a previous end, not an error.
    [[nodiscard]] bool rewind() noexcept;
    [[nodiscard]] bool seekable() const noexcept { return seekable_; }

    // The error that ended the stream; code ok if none.
    [[nodiscard]] Error error() const noexcept { return error_; }
    // "pcap file 'PATH': offset N: PROBLEM (details)"; empty if no error.
    [[nodiscard]] std::string_view error_message() const noexcept { return {error_text_, error_len_}; }

  private:
    // Makes at least n bytes available from pos_, reading more of the file
    // when needed. False at end of file (or on a read error, recorded).
    bool ensure(std::size_t n) noexcept;
    // Records the error (sticky) and its message; returns PcapNext::error.
    PcapNext fail(Errc code, const char* reason, std::uint64_t offset, std::string_view detail) noexcept;
    [[nodiscard]] std::uint32_t field32(const std::uint8_t* p) const noexcept;

    std::string path_;
    int fd_ = -1;
    bool seekable_ = false;
    PcapFileHeader header_{};
    std::unique_ptr<std::uint8_t[]> buf_;
    std::size_t cap_ = 0;
    std::size_t pos_ = 0;           // next unread byte in buf_
    std::size_t end_ = 0;           // one past the last valid byte in buf_
    std::uint64_t buf_offset_ = 0;  // file offset of buf_[0]
    bool eof_ = false;
    bool ended_ = false;
    Error error_{};
    char error_text_[384] = {};
    std::size_t error_len_ = 0;
};

class PcapWriter {
  public:
    // Creates (truncates) the file and writes the global header: host byte
    // order, version 2.4, the given snaplen, LINKTYPE_ETHERNET. Setup path:
    // throws PortError naming the file and the reason when it cannot be
    // created or the header cannot be written.
    explicit PcapWriter(std::string path, PcapResolution resolution = PcapResolution::micro,
                        std::uint32_t snaplen = 65535, std::size_t buffer_size = kPcapDefaultBuffer);
    // Flushes what is buffered; a failure is logged.
    ~PcapWriter();
    PcapWriter(const PcapWriter&) = delete;
    PcapWriter& operator=(const PcapWriter&) = delete;

    [[nodiscard]] const std::string& path() const noexcept { return path_; }
    [[nodiscard]] PcapResolution resolution() const noexcept { return resolution_; }

    // Appends a record stamped ts_ns (nanoseconds since the epoch); data
    // beyond the snaplen is cut off, and orig_len (default: the data's size)
    // is recorded as given. Buffered: the buffer is flushed first when the
    // record does not fit, and the Status is that flush's.
    Status write(std::uint64_t ts_ns, std::span<const std::uint8_t> data) noexcept {
        return write(ts_ns, data, static_cast<std::uint32_t>(data.size()));
    }
    Status write(std::uint64_t ts_ns, std::span<const std::uint8_t> data, std::uint32_t orig_len) noexcept;

    // Writes the buffer out. On failure (disk full, file size limit) the
    // buffered records are lost and counted in lost_records(), and the file
    // is cut back to its last complete record so it stays readable.
    Status flush() noexcept;

    // Records accepted by write() that a failed flush could not put in the
    // file, since the writer was opened.
    [[nodiscard]] std::uint64_t lost_records() const noexcept { return lost_records_; }
    // errno of the last failed flush, 0 if none failed.
    [[nodiscard]] int last_errno() const noexcept { return last_errno_; }

  private:
    std::string path_;
    int fd_ = -1;
    PcapResolution resolution_;
    std::uint32_t snaplen_;
    std::unique_ptr<std::uint8_t[]> buf_;
    std::size_t cap_ = 0;
    std::size_t len_ = 0;
    std::uint32_t buffered_records_ = 0;
    std::uint64_t file_size_ = 0;  // bytes known to be in the file, all complete records
    std::uint64_t lost_records_ = 0;
    int last_errno_ = 0;
};

}  // namespace kbnet::port
