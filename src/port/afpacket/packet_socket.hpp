// One AF_PACKET socket with a TPACKET_V3 receive ring and a transmit ring,
// both mapped into this process with one mmap (kernel
// Documentation/networking/packet_mmap.rst, "Mapping and use of the
// circular buffer (ring)"). The afpacket port owns one per queue.
//
// Construction is the setup path: every step that fails throws a PortError
// naming the step (the setsockopt option, mmap, bind) and the fix; members
// are RAII, so a failure part-way closes what was opened. The accessors
// below are the data path: plain pointer arithmetic, no syscalls, except
// kick_tx() and read_drops(), which the port calls once per burst and once
// per stats interval.
#pragma once

#include <linux/if_packet.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace kbnet::port::afpacket {

struct RingGeometry {
    // Receive: TPACKET_V3 blocks of variable-size packets. The kernel hands a
    // block over when it is full or rx_timeout_ms after it was opened.
    std::uint32_t rx_block_size = 1u << 18;  // bytes; power of two, page multiple
    std::uint32_t rx_block_count = 64;
    std::uint32_t rx_timeout_ms = 1;
    // Transmit: fixed-size frames (TPACKET_V3 transmit has no blocks of
    // variable-size packets; packet_mmap.rst, "TPACKET_V2 --> TPACKET_V3").
    std::uint32_t tx_frame_size = 2048;   // power of two
    std::uint32_t tx_frame_count = 1024;  // power of two
};

struct SocketConfig {
    std::string what;  // "afpacket:eth0 queue 1", the prefix of every message
    int ifindex = 0;
    RingGeometry rings;
    // Drop every frame until open_for_traffic(): a socket of a fanout group
    // receives everything on its own between bind() and joining the group,
    // and those frames would also reach the group (delivered twice).
    bool hold_traffic = false;
};

class PacketSocket {
  public:
    explicit PacketSocket(const SocketConfig& config);
    ~PacketSocket();
    PacketSocket(const PacketSocket&) = delete;
    PacketSocket& operator=(const PacketSocket&) = delete;

    [[nodiscard]] int fd() const noexcept { return fd_; }
    [[nodiscard]] const RingGeometry& rings() const noexcept { return rings_; }

    // Fanout (packet_mmap.rst, "AF_PACKET fanout mode"): the first socket
    // creates a group whose id the kernel picks among the unused ones of
    // this network namespace (PACKET_FANOUT_FLAG_UNIQUEID), so two ports, or
    // two processes, never share a group by accident; the others join it.
    [[nodiscard]] std::uint16_t create_fanout_group(std::uint16_t type_flags);
    void join_fanout_group(std::uint16_t id, std::uint16_t type_flags);
    // Removes the hold_traffic filter.
    void open_for_traffic();
    // PACKET_ADD_MEMBERSHIP PACKET_MR_PROMISC; the kernel undoes it when the
    // socket closes (packet_release -> packet_flush_mclist), also on a crash.
    void enable_promiscuous();

    // Receive block i (0 .. rx_block_count-1).
    [[nodiscard]] tpacket_block_desc* rx_block(std::uint32_t i) const noexcept {
        return reinterpret_cast<tpacket_block_desc*>(map_ + std::size_t{i} * rings_.rx_block_size);
    }
    // Transmit frame i (0 .. tx_frame_count-1): a tpacket3_hdr, then data.
    [[nodiscard]] tpacket3_hdr* tx_frame(std::uint32_t i) const noexcept {
        return reinterpret_cast<tpacket3_hdr*>(tx_base_ + std::size_t{i} * rings_.tx_frame_size);
    }

    // Asks the kernel to send every frame marked TP_STATUS_SEND_REQUEST, without
    // waiting (MSG_DONTWAIT). Errors leave the frames marked; the next kick
    // retries them.
    void kick_tx() const noexcept;
    // Frames the kernel dropped since the last call (PACKET_STATISTICS is
    // clear-on-read); 0 if it cannot be read.
    [[nodiscard]] std::uint64_t read_drops() const noexcept;

  private:
    void setup(const SocketConfig& config);
    void release() noexcept;
    void set_int(int level, int name, const char* option_name, int value);
    void set_ring(int name, const char* option_name, const tpacket_req3& req);

    std::string what_;
    RingGeometry rings_;
    int fd_ = -1;
    std::uint8_t* map_ = nullptr;
    std::size_t map_size_ = 0;
    std::uint8_t* tx_base_ = nullptr;
    int ifindex_ = 0;
};

}  // namespace kbnet::port::afpacket
