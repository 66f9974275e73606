// afpacket: AF_PACKET sockets with memory-mapped rings on a Linux
// interface, the fallback where AF_XDP is unavailable (no XDP in the
// driver, an old kernel, no CAP_BPF).
//
//   afpacket:IFACE[,queues=N][,promisc=0|1][,block=BYTES][,blocks=N][,timeout=MS]
//
// One socket per port queue, each with a TPACKET_V3 receive ring and a
// transmit ring; with queues=N>1 the N sockets form one PACKET_FANOUT_HASH
// group, so the kernel spreads flows over them by the packet's flow hash
// (one flow always lands on one queue). Each queue has its own frame pool,
// a slice of the port's buffer area, so queues driven by different threads
// share nothing.
//
// Copy semantics both ways: the rings are kernel memory, so received
// frames are copied out of the ring into buffer-area frames, and frames to
// send are copied into the transmit ring and freed at once.
// capabilities().zero_copy is false.
//
// The kernel keeps its own copy of every received frame (AF_PACKET is a
// tap, not a steering point): the host's stack answers ARP, ICMP and its
// own sockets beside the port.
#pragma once

#include <memory>

#include "kbnet/port/port.hpp"
#include "kbnet/port/spec.hpp"

namespace kbnet::port {

// options.area.frame_count is the number of frames per queue; a frame,
// after the headroom, must hold the interface's MTU plus an Ethernet
// header and one VLAN tag.
[[nodiscard]] std::unique_ptr<Port> make_afpacket_port(const PortSpec& spec, const PortOptions& options);

}  // namespace kbnet::port
