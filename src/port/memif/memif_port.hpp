// memif: packet I/O over shared memory with another process on this host,
// compatible with DPDK's net_memif and VPP's libmemif (protocol 2.0).
//
//   memif:SOCKET[,role=server|client][,id=N][,queues=N][,ring=LOG2][,buffer=BYTES][,secret=S][,mode=poll|interrupt]
//
// SOCKET is a filesystem path or '@name' for the abstract namespace. The
// server listens and accepts one client for interface `id`; the client
// connects, retrying until a server answers. Either side outlives the
// other: when the peer goes (closes, is killed, breaks the protocol), the
// port drops the connection, frees what it held and waits or reconnects.
// While not connected, rx_burst returns nothing and tx_burst takes nothing.
//
// The client owns the shared memory: region 0 holds the rings, region 1 is
// the port's buffer area, so the client's frames are the buffers the server
// copies from and into (zero copy on the client side). A server copies, as
// every memif server does: its peer's buffers are not its frames.
#pragma once

#include <memory>

#include "kbnet/port/port.hpp"
#include "kbnet/port/spec.hpp"

namespace kbnet::port {

// options.area.frame_count is the number of frames per queue.
[[nodiscard]] std::unique_ptr<Port> make_memif_port(const PortSpec& spec, const PortOptions& options);

}  // namespace kbnet::port
