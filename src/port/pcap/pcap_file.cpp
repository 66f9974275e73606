#include "port/pcap/pcap_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "kbnet/core/endian.hpp"
#include "kbnet/core/log.hpp"
#include "kbnet/port/port.hpp"

namespace kbnet::port {
namespace {

constexpr std::uint32_t kMagicMicroSwapped = 0xd4c3b2a1;
constexpr std::uint32_t kMagicNanoSwapped = 0x4d3cb2a1;
constexpr std::uint64_t kNsPerSec = 1'000'000'000;

// Formats into a fixed buffer: error paths of the data path must not
// allocate. Output longer than the buffer is cut off.
template <typename... Args>
std::size_t format_into(char* buf, std::size_t cap, fmt::format_string<Args...> f, Args&&... args) noexcept {
    try {
        const auto r = fmt::format_to_n(buf, cap - 1, f, std::forward<Args>(args)...);
        const std::size_t n = std::min(r.size, cap - 1);
        buf[n] = '\0';
        return n;
    } catch (...) {
        buf[0] = '\0';
        return 0;
    }
}

[[noreturn]] void throw_file_error(int& fd, const std::string& path, std::uint64_t offset, std::string_view problem) {
    if (fd >= 0) ::close(fd);
    fd = -1;
    throw PortError(fmt::format("pcap file '{}': offset {}: {}", path, offset, problem));
}

}  // namespace

std::string_view pcap_linktype_name(std::uint32_t linktype) noexcept {
    // The link types a capture is most likely to have, from
    // https://www.tcpdump.org/linktypes.html, so an error can say what the
    // file holds instead of only a number.
    switch (linktype & 0xffffu) {
        case 0: return "NULL (BSD loopback)";
        case 1: return "ETHERNET";
        case 101: return "RAW (IP without link header)";
        case 105: return "IEEE802_11 (Wi-Fi)";
        case 113: return "LINUX_SLL (Linux cooked capture, e.g. tcpdump -i any)";
        case 127: return "IEEE802_11_RADIOTAP";
        case 228: return "IPV4";
        case 229: return "IPV6";
        case 276: return "LINUX_SLL2 (Linux cooked capture v2)";
        default: return "";
    }
}

// ---- reader ---------------------------------------------------------------

PcapReader::PcapReader(std::string path, std::size_t buffer_size) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
        const int err = errno;
        throw PortError(fmt::format("pcap file '{}': cannot open: {} (check the path and its permissions)", path_,
                                    std::strerror(err)));
    }
    struct stat st {};
    if (::fstat(fd_, &st) == 0 && S_ISDIR(st.st_mode)) throw_file_error(fd_, path_, 0, "is a directory, not a file");
    // Regular files can be replayed (repeat=N); a FIFO is read once.
    seekable_ = ::lseek(fd_, 0, SEEK_CUR) >= 0;

    // The buffer must hold the largest record we accept plus its header, so
    // that ensure() can always make one whole record contiguous.
    cap_ = std::max(buffer_size, kPcapRecordHeaderSize + kPcapMaxRecord);
    buf_.reset(new std::uint8_t[cap_]);

    const bool whole = ensure(kPcapGlobalHeaderSize);
    if (error_.code != Errc::ok) throw_file_error(fd_, path_, 0, error_message());
    const std::size_t have = end_ - pos_;
    if (have < 4) {
        throw_file_error(fd_, path_, 0,
                         have == 0 ? std::string("the file is empty; a pcap file starts with a 24-byte header")
                                   : fmt::format("truncated global header: the file has {} bytes, a pcap file "
                                                 "starts with a 24-byte header",
                                                 have));
    }
    const std::uint32_t magic = load_le32(buf_.get());
    switch (magic) {
        case kPcapMagicMicro: header_.resolution = PcapResolution::micro; break;
        case kPcapMagicNano: header_.resolution = PcapResolution::nano; break;
        case kMagicMicroSwapped:
            header_.resolution = PcapResolution::micro;
            header_.swapped = true;
            break;
        case kMagicNanoSwapped:
            header_.resolution = PcapResolution::nano;
            header_.swapped = true;
            break;
        case kPcapngMagic:
            throw_file_error(fd_, path_, 0,
                             fmt::format("not a pcap file: magic {:#010x} is pcapng, which is not supported; "
                                         "convert with `editcap -F pcap IN.pcapng OUT.pcap`",
                                         magic));
        default:
            throw_file_error(fd_, path_, 0,
                             fmt::format("not a pcap file: magic {:#010x} (expected {:#010x} or {:#010x} in "
                                         "either byte order; pcapng is not supported; convert with `editcap -F pcap`)",
                                         magic, kPcapMagicMicro, kPcapMagicNano));
    }
    if (!whole) {
        throw_file_error(fd_, path_, 0,
                         fmt::format("truncated global header: the file has {} bytes, a pcap file starts with a "
                                     "24-byte header",
                                     have));
    }
    const std::uint8_t* h = buf_.get();
    const auto field16 = [&](std::size_t at) {
        const std::uint16_t v = load_le16(h + at);
        return header_.swapped ? bswap16(v) : v;
    };
    header_.version_major = field16(4);
    header_.version_minor = field16(6);
    header_.snaplen = field32(h + 16);
    header_.linktype = field32(h + 20);
    // Only the major version changes the layout; minor versions 2.0 .. 2.4
    // all wrote the same headers, so any minor is accepted.
    if (header_.version_major != 2) {
        throw_file_error(fd_, path_, 4,
                         fmt::format("unsupported pcap version {}.{} (kbnet reads version 2.x)", header_.version_major,
                                     header_.version_minor));
    }
    pos_ = kPcapGlobalHeaderSize;
}

PcapReader::~PcapReader() {
    if (fd_ >= 0) ::close(fd_);
}

std::uint32_t PcapReader::field32(const std::uint8_t* p) const noexcept {
    const std::uint32_t v = load_le32(p);
    return header_.swapped ? bswap32(v) : v;
}

PcapNext PcapReader::fail(Errc code, const char* reason, std::uint64_t offset, std::string_view detail) noexcept {
    error_ = Error{code, reason};
    error_len_ = format_into(error_text_, sizeof error_text_, "pcap file '{}': offset {}: {}{}{}", path_, offset,
                             reason, detail.empty() ? "" : " ", detail);
    return PcapNext::error;
}

bool PcapReader::ensure(std::size_t n) noexcept {
    if (end_ - pos_ >= n) return true;
    if (eof_ || error_.code != Errc::ok) return false;
    if (cap_ - pos_ < n) {
        // Move the partial record to the front; it is under one record long,
        // so this copies at most kPcapMaxRecord bytes once per buffer refill.
        std::memmove(buf_.get(), buf_.get() + pos_, end_ - pos_);
        buf_offset_ += pos_;
        end_ -= pos_;
        pos_ = 0;
    }
    while (end_ - pos_ < n) {
        // Fill all the free space: one read() per buffer, not per packet.
        const ssize_t r = ::read(fd_, buf_.get() + end_, cap_ - end_);
        if (r > 0) {
            end_ += static_cast<std::size_t>(r);
        } else if (r == 0) {
            eof_ = true;
            return false;
        } else if (errno != EINTR) {
            char detail[128];
            const std::size_t len = format_into(detail, sizeof detail, "({})", std::strerror(errno));
            fail(Errc::io_error, "read failed", buf_offset_ + end_, {detail, len});
            return false;
        }
    }
    return true;
}

PcapNext PcapReader::next(PcapRecord& out) noexcept {
    if (error_.code != Errc::ok) return PcapNext::error;
    if (ended_) return PcapNext::end;

    const std::uint64_t offset = buf_offset_ + pos_;
    char detail[128];
    if (!ensure(kPcapRecordHeaderSize)) {
        if (error_.code != Errc::ok) return PcapNext::error;
        const std::size_t left = end_ - pos_;
        if (left == 0) {
            ended_ = true;
            return PcapNext::end;
        }
        const std::size_t len = format_into(detail, sizeof detail, "({} of 16 bytes)", left);
        return fail(Errc::truncated, "truncated record header: the file ends inside a record header", offset,
                    {detail, len});
    }
    const std::uint8_t* h = buf_.get() + pos_;
    const std::uint32_t ts_sec = field32(h);
    const std::uint32_t ts_frac = field32(h + 4);
    const std::uint32_t incl_len = field32(h + 8);
    const std::uint32_t orig_len = field32(h + 12);

    // Bounds first: everything after relies on incl_len being sane.
    if (incl_len > kPcapMaxRecord) {
        const std::size_t len =
            format_into(detail, sizeof detail, "(incl_len {}, maximum {})", incl_len, kPcapMaxRecord);
        return fail(Errc::malformed, "corrupt record header: record length over the maximum", offset, {detail, len});
    }
    if (incl_len > header_.snaplen) {
        const std::size_t len =
            format_into(detail, sizeof detail, "(incl_len {}, snaplen {})", incl_len, header_.snaplen);
        return fail(Errc::malformed, "corrupt record header: record length over the file's snaplen", offset,
                    {detail, len});
    }
    if (incl_len > orig_len) {
        const std::size_t len = format_into(detail, sizeof detail, "(incl_len {}, orig_len {})", incl_len, orig_len);
        return fail(Errc::malformed, "corrupt record header: captured length over the original length", offset,
                    {detail, len});
    }
    if (!ensure(kPcapRecordHeaderSize + incl_len)) {
        if (error_.code != Errc::ok) return PcapNext::error;
        const std::size_t len = format_into(detail, sizeof detail, "(incl_len {}, {} bytes left in the file)", incl_len,
                                            end_ - pos_ - kPcapRecordHeaderSize);
        return fail(Errc::truncated, "record body cut short: the file ends inside a packet", offset, {detail, len});
    }
    // ensure() may have moved the buffer: take the pointer again.
    const std::uint8_t* body = buf_.get() + pos_ + kPcapRecordHeaderSize;
    out.ts_sec = ts_sec;
    out.ts_frac = ts_frac;
    out.ts_ns = std::uint64_t{ts_sec} * kNsPerSec +
                (header_.resolution == PcapResolution::nano ? std::uint64_t{ts_frac} : std::uint64_t{ts_frac} * 1000);
    out.orig_len = orig_len;
    out.offset = offset;
    out.data = {body, incl_len};
    pos_ += kPcapRecordHeaderSize + incl_len;
    return PcapNext::record;
}

bool PcapReader::rewind() noexcept {
    if (!seekable_ || error_.code != Errc::ok) return false;
    if (::lseek(fd_, static_cast<off_t>(kPcapGlobalHeaderSize), SEEK_SET) < 0) return false;
    pos_ = end_ = 0;
    buf_offset_ = kPcapGlobalHeaderSize;
    eof_ = false;
    ended_ = false;
    return true;
}

// ---- writer ---------------------------------------------------------------

PcapWriter::PcapWriter(std::string path, PcapResolution resolution, std::uint32_t snaplen, std::size_t buffer_size)
    : path_(std::move(path)), resolution_(resolution), snaplen_(snaplen) {
    if (snaplen == 0 || snaplen > kPcapMaxRecord) {
        throw PortError(
            fmt::format("pcap output file '{}': snaplen {} is outside 1 .. {}", path_, snaplen, kPcapMaxRecord));
    }
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) {
        const int err = errno;
        throw PortError(
            fmt::format("pcap output file '{}': cannot create: {} (check that the directory exists and "
                        "is writable)",
                        path_, std::strerror(err)));
    }
    cap_ = std::max(buffer_size, kPcapGlobalHeaderSize + kPcapRecordHeaderSize + snaplen);
    buf_.reset(new std::uint8_t[cap_]);

    // Host byte order, as libpcap writes: readers detect it from the magic.
    std::uint8_t* h = buf_.get();
    store_native<std::uint32_t>(h, resolution == PcapResolution::nano ? kPcapMagicNano : kPcapMagicMicro);
    store_native<std::uint16_t>(h + 4, 2);
    store_native<std::uint16_t>(h + 6, 4);
    store_native<std::uint32_t>(h + 8, 0);   // thiszone: timestamps are UTC
    store_native<std::uint32_t>(h + 12, 0);  // sigfigs: always 0 in practice
    store_native<std::uint32_t>(h + 16, snaplen);
    store_native<std::uint32_t>(h + 20, kLinktypeEthernet);
    len_ = kPcapGlobalHeaderSize;
    // Written now, so a file that cannot be written fails at setup with a
    // clear error rather than at the first flush.
    if (!flush()) {
        ::close(fd_);
        fd_ = -1;
        throw PortError(
            fmt::format("pcap output file '{}': cannot write the file header: {}", path_, std::strerror(last_errno_)));
    }
}

PcapWriter::~PcapWriter() {
    if (fd_ < 0) return;
    const std::uint32_t pending = buffered_records_;
    if (!flush()) {
        KBNET_LOG_ERROR("pcap output file '{}': final write failed: {}; {} records lost", path_,
                        std::strerror(last_errno_), pending);
    }
    ::close(fd_);
}

Status PcapWriter::write(std::uint64_t ts_ns, std::span<const std::uint8_t> data, std::uint32_t orig_len) noexcept {
    const std::uint32_t incl = static_cast<std::uint32_t>(std::min<std::size_t>(data.size(), snaplen_));
    const std::size_t need = kPcapRecordHeaderSize + incl;
    Status status{};
    if (cap_ - len_ < need) status = flush();

    const std::uint64_t sec = ts_ns / kNsPerSec;
    const std::uint64_t ns = ts_ns % kNsPerSec;
    std::uint8_t* h = buf_.get() + len_;
    // ts_sec is 32 bits in this format (good until 2106).
    store_native<std::uint32_t>(h, static_cast<std::uint32_t>(sec));
    store_native<std::uint32_t>(h + 4,
                                static_cast<std::uint32_t>(resolution_ == PcapResolution::nano ? ns : ns / 1000));
    store_native<std::uint32_t>(h + 8, incl);
    // incl_len > orig_len would make the file invalid for every reader.
    store_native<std::uint32_t>(h + 12, std::max(orig_len, incl));
    if (incl > 0) std::memcpy(h + kPcapRecordHeaderSize, data.data(), incl);
    len_ += need;
    ++buffered_records_;
    return status;
}

Status PcapWriter::flush() noexcept {
    std::size_t done = 0;
    while (done < len_) {
        const ssize_t r = ::write(fd_, buf_.get() + done, len_ - done);
        if (r > 0) {
            done += static_cast<std::size_t>(r);
            continue;
        }
        if (r < 0 && errno == EINTR) continue;
        // write() returning 0 for a non-empty buffer means no progress can be
        // made; report it as the disk being full.
        last_errno_ = r < 0 ? errno : ENOSPC;
        lost_records_ += buffered_records_;
        // A partial write left part of a record in the file, which would make
        // every reader fail at that point: cut the file back to the last
        // complete record and continue from there. This fails on a pipe or a
        // device, where nothing better can be done.
        if (done > 0 && ::ftruncate(fd_, static_cast<off_t>(file_size_)) == 0) {
            (void)::lseek(fd_, static_cast<off_t>(file_size_), SEEK_SET);
        }
        len_ = 0;
        buffered_records_ = 0;
        return Error{Errc::io_error, "writing the pcap output file failed; the buffered records are lost"};
    }
    file_size_ += len_;
    len_ = 0;
    buffered_records_ = 0;
    return {};
}

}  // namespace kbnet::port
