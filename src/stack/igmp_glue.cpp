// IGMP inside the stack: the stack is IgmpHost's owner (it wraps what the
// host sends in an IPv4 header and draws its random delays) and the
// MulticastGroups observer that tells the host of a group's first join and
// last leave (RFC 1112 §7.2: the interface's membership is the union of
// its sockets'). In shared mode the kernel is the member instead (it keeps
// IGMP as it keeps ARP), and the first join and last leave go to it. The
// steering of the group's traffic to the stack is here too.
#include <exception>

#include "kbnet/core/log.hpp"
#include "kbnet/port/steering.hpp"
#include "kbnet/stack/stack.hpp"
#include "kbnet/wire/igmp.hpp"

namespace kbnet::stack {

void Stack::send_igmp(wire::Ipv4Address ip_destination, std::span<const std::uint8_t> igmp_message) noexcept {
    // RFC 3376 §4 (and RFC 2236 §2): TTL 1, Internetwork Control
    // precedence, and the Router Alert option (RFC 2113) so routers look
    // at a message addressed to a group they do not forward. The same
    // header as wire::igmp_ipv4_header, built by the stack's output path.
    // Never looped back to our own sockets or IgmpHost: our report heard
    // as another host's would cancel our v2 leave (RFC 2236 §3).
    Ipv4SendParams params;
    params.destination = ip_destination;
    params.protocol = wire::kIpProtoIgmp;
    params.ttl = wire::kIgmpTtl;
    params.dscp = wire::kIgmpDscp;
    params.dont_fragment = true;
    params.options = wire::kIpv4RouterAlertOption;
    if (Status st = ipv4_output_copy(params, {}, igmp_message); !st) {
        KBNET_LOG_RATELIMITED(LogLevel::warn, 1'000'000'000, "stack {}: IGMP message to {} not sent: {}", config_.name,
                              ip_destination.to_string(), st.error().reason);
    }
}

std::uint32_t Stack::random() noexcept {
    // splitmix64 (Steele, Lea, Flood 2014): cheap, and good enough to
    // spread report delays; seeded from StackConfig::random_seed or the
    // address.
    random_state_ += 0x9e3779b97f4a7c15ull;
    std::uint64_t z = random_state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return static_cast<std::uint32_t>((z ^ (z >> 31)) >> 32);
}

Status Stack::on_first_join(wire::Ipv4Address group) noexcept {
    if (kernel_) {
        // Shared mode: the kernel keeps IGMP as it keeps ARP. Its membership
        // reports the group, answers the queries (which stay with it: the
        // XDP filters take only UDP to the group's bound ports, see
        // udp_steer_group) and opens the device's multicast filter. Without
        // it the group's datagrams may never arrive, so the join fails.
        if (Status st = kernel_->join_group(group); !st) return st;
    } else {
        // Dedicated mode: the stack is the group's member on the wire, so
        // the XDP program hands it everything sent to the group (its
        // datagrams and the group-specific queries), as for its address.
        if (Status st = steer_address(group, true); !st) return st;
        if (Status st = igmp_->join(group, now_ns_); !st) {
            // The group's traffic is still accepted; only the report is
            // missing, so a snooping switch may not forward the group here.
            KBNET_LOG_RATELIMITED(LogLevel::warn, 1'000'000'000, "stack {}: IGMP join of {} not reported: {}",
                                  config_.name, group.to_string(), st.error().reason);
        }
    }
    if (membership_observer_ != nullptr) {
        if (Status st = membership_observer_->on_first_join(group); !st) {
            on_last_leave_local(group);
            return st;
        }
    }
    return {};
}

void Stack::on_last_leave(wire::Ipv4Address group) noexcept {
    on_last_leave_local(group);
    if (membership_observer_ != nullptr) membership_observer_->on_last_leave(group);
}

void Stack::on_last_leave_local(wire::Ipv4Address group) noexcept {
    if (kernel_) {
        kernel_->leave_group(group);
    } else {
        (void)igmp_->leave(group, now_ns_);  // fails only for a join it refused
        (void)steer_address(group, false);   // a failed removal is logged
    }
}

Status Stack::steer_address(wire::Ipv4Address address, bool add) noexcept {
    port::Steering* steering = port_.steering();
    if (steering == nullptr) return {};  // nothing shares the port
    try {
        if (add) {
            steering->add_filter(port::kOwnedAddress, 0, address.value);
        } else {
            (void)steering->remove_filter(port::kOwnedAddress, 0, address.value);
        }
    } catch (const std::exception& e) {
        KBNET_LOG_WARN("stack {}: cannot {} the steering of {}: {}", config_.name, add ? "add" : "remove",
                       address.to_string(), e.what());
        return Error{Errc::io_error, "the port's steering refused the filter for the group (see the log)"};
    }
    return {};
}

void Stack::igmp_input(const wire::Ipv4View& datagram) noexcept {
    // ipv4_input accepted the destination: 224.0.0.1, a joined group or our
    // address, exactly what RFC 3376 §5 / RFC 2236 §3 have a host listen
    // to. IgmpHost counts and checks the message itself.
    igmp_->on_message(datagram.payload(), datagram.source(), datagram.destination(), now_ns_);
}

}  // namespace kbnet::stack
