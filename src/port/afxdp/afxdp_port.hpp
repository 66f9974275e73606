// afxdp: one AF_XDP socket per queue of a Linux interface, all sharing one
// UMEM (the port's buffer area), with kbnet's XDP program deciding which
// frames reach them (design.md, decisions 1 to 3).
//
//   afxdp:IFACE[,queues=N][,queue=Q][,mode=auto|copy|zc][,busy_poll=US][,steer=filtered|all]
//
// Port queue q is the device's rx/tx queue Q+q. Every queue has its own
// fill and completion rings and its own frame pool (a slice of the UMEM),
// so queues driven by different threads share nothing
// (Documentation/networking/af_xdp.rst, "XDP_SHARED_UMEM bind flag").
// The steering mode starts as `steer` says (filtered: nothing reaches the
// port until a filter is added through steering()).
#pragma once

#include <memory>

#include "kbnet/port/port.hpp"
#include "kbnet/port/spec.hpp"

namespace kbnet::port {

// options.area.frame_count is the number of frames per queue; frame_size
// must be 2048 or 4096 (an aligned UMEM's chunks lie within one page).
[[nodiscard]] std::unique_ptr<Port> make_afxdp_port(const PortSpec& spec, const PortOptions& options);

}  // namespace kbnet::port
