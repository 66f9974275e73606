#include "port/afpacket/packet_socket.hpp"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "kbnet/core/log.hpp"
#include "kbnet/port/port.hpp"

namespace kbnet::port::afpacket {
namespace {

[[noreturn]] void fail(const std::string& what, const char* step, int err, std::string_view hint = {}) {
    throw PortError(
        fmt::format("{}: {} failed: {}{}{}", what, step, std::strerror(err), hint.empty() ? "" : "; ", hint));
}

}  // namespace

PacketSocket::PacketSocket(const SocketConfig& config) : what_(config.what), rings_(config.rings) {
    try {
        setup(config);
    } catch (...) {
        release();
        throw;
    }
}

PacketSocket::~PacketSocket() { release(); }

void PacketSocket::release() noexcept {
    // Unmap first: the kernel frees the ring pages when the socket closes,
    // and a mapping would keep them referenced until it goes.
    if (map_ != nullptr) ::munmap(map_, map_size_);
    map_ = nullptr;
    tx_base_ = nullptr;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

void PacketSocket::set_int(int level, int name, const char* option_name, int value) {
    if (::setsockopt(fd_, level, name, &value, sizeof value) != 0) {
        fail(what_, fmt::format("setsockopt({})", option_name).c_str(), errno);
    }
}

void PacketSocket::set_ring(int name, const char* option_name, const tpacket_req3& req) {
    if (::setsockopt(fd_, SOL_PACKET, name, &req, sizeof req) == 0) return;
    const int err = errno;
    const std::string step =
        fmt::format("setsockopt({}, {} blocks of {} bytes)", option_name, req.tp_block_nr, req.tp_block_size);
    if (err == ENOMEM) fail(what_, step.c_str(), err, "lower block= or blocks= (or queues=)");
    fail(what_, step.c_str(), err);
}

void PacketSocket::setup(const SocketConfig& config) {
    ifindex_ = config.ifindex;
    // Protocol 0: the socket receives nothing until bind() names ETH_P_ALL,
    // by which time the ring exists (packet_mmap.rst: "The protocol can
    // optionally be 0 ... In this case, you also need to bind(2)").
    fd_ = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
        const int err = errno;
        if (err == EPERM || err == EACCES) {
            throw PortError(
                fmt::format("{}: creating an AF_PACKET socket was refused: run as root or grant "
                            "CAP_NET_RAW (setcap cap_net_raw+ep on the binary)",
                            what_));
        }
        if (err == EAFNOSUPPORT) {
            throw PortError(fmt::format("{}: this kernel has no AF_PACKET sockets (CONFIG_PACKET)", what_));
        }
        fail(what_, "socket(AF_PACKET, SOCK_RAW)", err);
    }

    // Everything that must precede the rings (the kernel refuses these with
    // EBUSY once a ring exists).
    set_int(SOL_PACKET, PACKET_VERSION, "PACKET_VERSION", TPACKET_V3);
    // A transmit frame the kernel rejects (bad length) is skipped and marked
    // available instead of stopping the ring at TP_STATUS_WRONG_FORMAT until
    // someone resets it (tpacket_snd, "tpacket_error").
    set_int(SOL_PACKET, PACKET_LOSS, "PACKET_LOSS", 1);
    // Straight to the driver's queue, no qdisc: no extra buffering, and the
    // frames we send are not copied back to packet taps (packet_mmap.rst,
    // "PACKET_QDISC_BYPASS").
    set_int(SOL_PACKET, PACKET_QDISC_BYPASS, "PACKET_QDISC_BYPASS", 1);
    // Frames leaving the interface (the kernel's own replies, other
    // senders') are not ours to receive (Linux 4.20). A socket in a fanout
    // group is served by the group's hook instead, so the port also skips
    // PACKET_OUTGOING frames itself; on a kernel without the option that
    // check is all there is.
    if (int one = 1; ::setsockopt(fd_, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) != 0) {
        if (errno != ENOPROTOOPT && errno != EINVAL) fail(what_, "setsockopt(PACKET_IGNORE_OUTGOING)", errno);
        KBNET_LOG_DEBUG("{}: PACKET_IGNORE_OUTGOING unsupported ({}); outgoing frames are skipped in user space", what_,
                        std::strerror(errno));
    }
    if (config.hold_traffic) {
        // Classic BPF "return 0": every frame is cut to zero bytes, i.e.
        // dropped before it reaches the ring (run_filter in tpacket_rcv).
        sock_filter drop_all{BPF_RET | BPF_K, 0, 0, 0};
        sock_fprog prog{1, &drop_all};
        if (::setsockopt(fd_, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) != 0) {
            fail(what_, "setsockopt(SO_ATTACH_FILTER)", errno);
        }
    }

    const RingGeometry& g = rings_;
    tpacket_req3 rx{};
    rx.tp_block_size = g.rx_block_size;
    rx.tp_block_nr = g.rx_block_count;
    // V3 ignores the frame size for packet placement (packets are packed in
    // the block), but packet_set_ring still checks frames_per_block *
    // block_nr == frame_nr, so give it a consistent nominal size.
    rx.tp_frame_size = TPACKET_ALIGNMENT << 7;  // 2048
    rx.tp_frame_nr = (g.rx_block_size / rx.tp_frame_size) * g.rx_block_count;
    rx.tp_retire_blk_tov = g.rx_timeout_ms;
    rx.tp_sizeof_priv = 0;
    rx.tp_feature_req_word = 0;  // no TP_FT_REQ_FILL_RXHASH: we never read tp_rxhash
    set_ring(PACKET_RX_RING, "PACKET_RX_RING", rx);

    // Transmit: blocks are only the unit of allocation; a frame must not
    // span two, so a block is one page or one frame, whichever is larger
    // (both powers of two, so frames are evenly spaced in the mapping).
    const auto page = static_cast<std::uint32_t>(::sysconf(_SC_PAGESIZE));
    tpacket_req3 tx{};
    tx.tp_block_size = g.tx_frame_size > page ? g.tx_frame_size : page;
    tx.tp_frame_size = g.tx_frame_size;
    tx.tp_block_nr = g.tx_frame_count / (tx.tp_block_size / g.tx_frame_size);
    tx.tp_frame_nr = g.tx_frame_count;
    // retire timeout, private area and feature word must be 0 on a V3
    // transmit ring (packet_set_ring returns EINVAL otherwise).
    set_ring(PACKET_TX_RING, "PACKET_TX_RING", tx);

    // One mapping for both rings, receive first: the kernel lays the
    // transmit ring out right after it (packet_mmap.rst, "Mapping and use
    // of the circular buffer (ring)").
    const std::size_t rx_bytes = std::size_t{rx.tp_block_size} * rx.tp_block_nr;
    const std::size_t tx_bytes = std::size_t{tx.tp_block_size} * tx.tp_block_nr;
    void* m = ::mmap(nullptr, rx_bytes + tx_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
    if (m == MAP_FAILED) fail(what_, "mmap of the packet rings", errno, "lower block= or blocks=");
    map_ = static_cast<std::uint8_t*>(m);
    map_size_ = rx_bytes + tx_bytes;
    tx_base_ = map_ + rx_bytes;

    sockaddr_ll addr{};
    addr.sll_family = AF_PACKET;
    addr.sll_protocol = htons(ETH_P_ALL);
    addr.sll_ifindex = ifindex_;
    if (::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        fail(what_, "bind(ETH_P_ALL)", errno);
    }
}

std::uint16_t PacketSocket::create_fanout_group(std::uint16_t type_flags) {
    const int arg = static_cast<int>(static_cast<std::uint32_t>(type_flags | PACKET_FANOUT_FLAG_UNIQUEID) << 16);
    if (::setsockopt(fd_, SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg) != 0) {
        const int err = errno;
        fail(what_, "setsockopt(PACKET_FANOUT) creating a group", err,
             err == EINVAL ? "the kernel may be too old for PACKET_FANOUT_FLAG_UNIQUEID; use queues=1" : "");
    }
    // getsockopt(PACKET_FANOUT) answers id | type << 16 | flags << 24.
    int val = 0;
    socklen_t len = sizeof val;
    if (::getsockopt(fd_, SOL_PACKET, PACKET_FANOUT, &val, &len) != 0) {
        fail(what_, "getsockopt(PACKET_FANOUT)", errno);
    }
    return static_cast<std::uint16_t>(static_cast<std::uint32_t>(val) & 0xffffu);
}

void PacketSocket::join_fanout_group(std::uint16_t id, std::uint16_t type_flags) {
    const int arg = static_cast<int>(id | static_cast<std::uint32_t>(type_flags) << 16);
    if (::setsockopt(fd_, SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg) != 0) {
        fail(what_, fmt::format("setsockopt(PACKET_FANOUT) joining group {}", id).c_str(), errno);
    }
}

void PacketSocket::open_for_traffic() {
    int unused = 0;
    if (::setsockopt(fd_, SOL_SOCKET, SO_DETACH_FILTER, &unused, sizeof unused) != 0) {
        fail(what_, "setsockopt(SO_DETACH_FILTER)", errno);
    }
}

void PacketSocket::enable_promiscuous() {
    packet_mreq mr{};
    mr.mr_ifindex = ifindex_;
    mr.mr_type = PACKET_MR_PROMISC;
    if (::setsockopt(fd_, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) != 0) {
        fail(what_, "setsockopt(PACKET_ADD_MEMBERSHIP, PACKET_MR_PROMISC)", errno);
    }
}

void PacketSocket::kick_tx() const noexcept {
    // One call sends every frame marked so far (tpacket_snd walks the ring
    // from its head while frames are TP_STATUS_SEND_REQUEST). Errors:
    // ENOBUFS/EAGAIN (the socket's send buffer or the device queue is full)
    // and ENETDOWN leave the rest marked; the next kick retries them.
    (void)::sendto(fd_, nullptr, 0, MSG_DONTWAIT, nullptr, 0);
}

std::uint64_t PacketSocket::read_drops() const noexcept {
    tpacket_stats_v3 st{};
    socklen_t len = sizeof st;
    if (::getsockopt(fd_, SOL_PACKET, PACKET_STATISTICS, &st, &len) != 0) return 0;
    return st.tp_drops;
}

}  // namespace kbnet::port::afpacket
