// The kernel tables' neighbour resolution requests (see kernel_tables.hpp):
// request_resolution() rate-limits them per address and sends each as an
// RTM_NEWNEIGH/NTF_USE request (resolve_netlink) or as a UDP datagram to
// the discard port (resolve_udp). The kernel's answer arrives as a
// neighbour notification, applied by poll() in kernel_tables.cpp.
#include "kbnet/stack/kernel_tables.hpp"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstring>
#include <system_error>

#include "kbnet/core/log.hpp"
#include "stack/netlink_message.hpp"

namespace kbnet::stack {

using namespace netlink;

namespace {

constexpr int kDiscardPort = 9;  // RFC 863

}  // namespace

Status KernelTables::request_resolution(wire::Ipv4Address address, std::uint64_t now_ns) noexcept {
    // 4-way set-associative memory of recent requests: an address finds its
    // own slot or takes the set's oldest, so a busy set forgets the address
    // asked about longest ago (which may then be asked about once early).
    const std::size_t sets = resolutions_.size() / 4;
    const std::uint32_t hash = address.value * 0x9e3779b1u;  // Fibonacci hashing spreads subnets
    ResolutionSlot* set = resolutions_.data() + (hash >> 16) % sets * 4;
    ResolutionSlot* slot = nullptr;
    ResolutionSlot* oldest = set;
    for (std::size_t i = 0; i < 4; ++i) {
        if (set[i].used && set[i].address == address.value) {
            slot = &set[i];
            break;
        }
        if (!set[i].used || (oldest->used && set[i].last_ns < oldest->last_ns)) oldest = &set[i];
    }
    if (slot != nullptr && now_ns >= slot->last_ns && now_ns - slot->last_ns < config_.resolution_interval_ns) {
        ++counters_.resolutions_suppressed;
        return Error{Errc::would_block, "resolution of this neighbour was requested less than a second ago"};
    }
    if (slot == nullptr) slot = oldest;
    *slot = ResolutionSlot{address.value, now_ns, true};

    Status status = method_ == ResolutionMethod::netlink_use ? resolve_netlink(address) : resolve_udp(address);
    if (!status && method_ == ResolutionMethod::netlink_use &&
        config_.resolution_method == ResolutionMethod::automatic && (errno == EPERM || errno == EOPNOTSUPP)) {
        KBNET_LOG_INFO(
            "kernel tables: the kernel refused RTM_NEWNEIGH/NTF_USE ({}); resolving neighbours with "
            "UDP datagrams to the discard port from now on (grant CAP_NET_ADMIN to avoid them)",
            std::system_category().message(errno));
        method_ = ResolutionMethod::udp_discard;
        status = resolve_udp(address);
    }
    if (status)
        ++counters_.resolutions_sent;
    else
        ++counters_.resolution_errors;
    return status;
}

Status KernelTables::resolve_netlink(wire::Ipv4Address address) noexcept {
    // RTM_NEWNEIGH with NTF_USE (net/core/neighbour.c, neigh_add): the kernel
    // creates the entry if needed (NLM_F_CREATE) and calls neigh_event_send()
    // on it, exactly as when one of its own packets needs the neighbour: an
    // unknown or failed entry goes incomplete and the kernel broadcasts ARP
    // requests; a stale one goes to delay and then a unicast probe; it also
    // marks the entry used, so the kernel's garbage collector keeps an entry
    // that only kbnet's traffic (which the kernel never sees) depends on.
    struct {
        nlmsghdr header;
        ndmsg neigh;
        rtattr dst_attr;
        std::uint32_t dst;
    } request{};
    static_assert(sizeof(request) == kHeaderBytes + align4(sizeof(ndmsg)) + align4(sizeof(rtattr)) + 4);
    const std::uint32_t seq = ++sequence_;
    request.header.nlmsg_len = sizeof request;
    request.header.nlmsg_type = RTM_NEWNEIGH;
    request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_ACK;
    request.header.nlmsg_seq = seq;
    request.neigh.ndm_family = AF_INET;
    request.neigh.ndm_ifindex = ifindex_;
    request.neigh.ndm_state = NUD_NONE;
    request.neigh.ndm_flags = NTF_USE;
    request.dst_attr.rta_len = static_cast<unsigned short>(align4(sizeof(rtattr)) + 4);
    request.dst_attr.rta_type = NDA_DST;
    request.dst = htonl(address.value);
    if (::send(request_fd_, &request, sizeof request, MSG_DONTWAIT) < 0)
        return Error{Errc::io_error, "netlink RTM_NEWNEIGH (NTF_USE) could not be sent"};
    // The kernel handles a request inside send(), so the acknowledgement is
    // already queued: read it without blocking to learn whether it worked.
    for (;;) {
        const ssize_t n = ::recv(request_fd_, buffer_.data(), buffer_.size(), MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0) {
            if (errno == EINTR) continue;
            return {};  // no acknowledgement yet: assume it was taken
        }
        // Longer than the buffer (MSG_TRUNC gives the real length): not one
        // of our acknowledgements, which are a few dozen bytes; skip it.
        if (static_cast<std::size_t>(n) > buffer_.size()) continue;
        const auto length = static_cast<std::size_t>(n);
        std::size_t offset = 0;
        while (offset + sizeof(nlmsghdr) <= length) {
            const auto h = load<nlmsghdr>(buffer_.data() + offset);
            if (h.nlmsg_len < sizeof(nlmsghdr) || offset + h.nlmsg_len > length) break;
            if (h.nlmsg_seq == seq && h.nlmsg_type == NLMSG_ERROR && h.nlmsg_len >= kHeaderBytes + sizeof(nlmsgerr)) {
                const auto e = load<nlmsgerr>(buffer_.data() + offset + kHeaderBytes);
                if (e.error == 0) return {};
                errno = -e.error;
                return Error{Errc::io_error,
                             "the kernel refused RTM_NEWNEIGH (NTF_USE); it needs CAP_NET_ADMIN "
                             "(or use ResolutionMethod::udp_discard)"};
            }
            offset += align4(h.nlmsg_len);  // a stale acknowledgement of an earlier request
        }
    }
}

Status KernelTables::resolve_udp(wire::Ipv4Address address) noexcept {
    // The kernel must resolve the next hop to send this datagram: it creates
    // the neighbour entry and sends ARP requests, holding the datagram in
    // the entry's queue (unres_qlen) meanwhile. IP_PKTINFO pins the
    // interface, so the request goes out on ours even if another route
    // would match. Port 9 is the discard service (RFC 863): a host that
    // runs nothing there answers with an ICMP port unreachable, which is
    // harmless.
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(kDiscardPort);
    to.sin_addr.s_addr = htonl(address.value);
    alignas(cmsghdr) std::array<std::uint8_t, CMSG_SPACE(sizeof(in_pktinfo))> control{};
    msghdr msg{};
    msg.msg_name = &to;
    msg.msg_namelen = sizeof to;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr c{};
    c.cmsg_level = IPPROTO_IP;
    c.cmsg_type = IP_PKTINFO;
    c.cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
    in_pktinfo info{};
    info.ipi_ifindex = ifindex_;
    std::memcpy(control.data(), &c, sizeof c);
    std::memcpy(control.data() + CMSG_LEN(0), &info, sizeof info);
    if (::sendmsg(udp_fd_, &msg, MSG_DONTWAIT) < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
        return Error{Errc::io_error, "a UDP datagram to the discard port (to make the kernel ARP) could not be sent"};
    return {};
}

}  // namespace kbnet::stack
