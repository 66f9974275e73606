// pair: two in-process endpoints joined by rings, like the two ends of a
// cable. The first open of `pair:NAME` is end 0, the second end 1; each end
// may be driven by its own thread (one thread per queue).
//
// Zero copy: both ends share one buffer area. Each (end, queue) allocates
// from its own frame pool, so no pool is touched by two threads. A frame
// that crossed to the other end goes home when that end frees it: through a
// return ring back to its owner, which drains it when it next allocates
// (the pattern of AF_XDP's fill and completion rings).
#pragma once

#include <memory>

#include "kbnet/port/port.hpp"
#include "kbnet/port/spec.hpp"

namespace kbnet::port {

[[nodiscard]] std::unique_ptr<Port> make_pair_port(const PortSpec& spec, const PortOptions& options);

}  // namespace kbnet::port
