#include "port/afxdp/xdp_maps.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>

#include "kbnet/port/port.hpp"
#include "port/afxdp/bpf/kbnet_xdp_abi.h"

namespace kbnet::port::afxdp {
namespace {

static_assert(sizeof(kbnet_filter_key) == 8, "the BPF program and the library must agree on the key layout");

[[noreturn]] void fail(std::string_view what, int err) {
    throw PortError(fmt::format("XDP map {}: {}{}", what, std::strerror(err),
                                err == EPERM ? " (needs root, or CAP_BPF and CAP_NET_ADMIN)" : ""));
}

kbnet_filter_key make_key(std::uint8_t protocol, std::uint16_t port, std::uint32_t address) {
    kbnet_filter_key k{};  // zeroes pad: the kernel hashes every key byte
    k.addr = htonl(address);
    k.port = htons(port);
    k.proto = protocol;
    return k;
}

}  // namespace

XdpMaps::~XdpMaps() { close_all(); }

XdpMaps::XdpMaps(XdpMaps&& o) noexcept
    : xsks_(o.xsks_), filters_(o.filters_), config_(o.config_), counters_(o.counters_), owned_(o.owned_) {
    o.xsks_ = o.filters_ = o.config_ = o.counters_ = -1;
}

XdpMaps& XdpMaps::operator=(XdpMaps&& o) noexcept {
    if (this != &o) {
        close_all();
        xsks_ = o.xsks_;
        filters_ = o.filters_;
        config_ = o.config_;
        counters_ = o.counters_;
        owned_ = o.owned_;
        o.xsks_ = o.filters_ = o.config_ = o.counters_ = -1;
    }
    return *this;
}

void XdpMaps::close_all() noexcept {
    if (!owned_) return;
    for (int fd : {xsks_, filters_, config_, counters_}) {
        if (fd >= 0) ::close(fd);
    }
    xsks_ = filters_ = config_ = counters_ = -1;
}

std::optional<XdpMaps> XdpMaps::of_program(int prog_fd) {
    // First ask how many maps the program uses, then fetch their ids.
    bpf_prog_info info{};
    std::uint32_t len = sizeof info;
    if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0) return std::nullopt;
    std::vector<std::uint32_t> ids(info.nr_map_ids);
    if (ids.empty()) return std::nullopt;
    const std::uint32_t nr = info.nr_map_ids;
    info = {};
    info.nr_map_ids = nr;
    info.map_ids = reinterpret_cast<std::uint64_t>(ids.data());
    len = sizeof info;
    if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0) return std::nullopt;
    ids.resize(std::min(nr, info.nr_map_ids));

    XdpMaps maps(-1, -1, -1, -1, /*owned=*/true);
    for (std::uint32_t id : ids) {
        const int fd = bpf_map_get_fd_by_id(id);
        if (fd < 0) continue;
        bpf_map_info mi{};
        std::uint32_t mlen = sizeof mi;
        int* slot = nullptr;
        if (bpf_obj_get_info_by_fd(fd, &mi, &mlen) == 0) {
            const std::string_view name(mi.name);
            if (name == KBNET_XDP_MAP_XSKS)
                slot = &maps.xsks_;
            else if (name == KBNET_XDP_MAP_FILTERS)
                slot = &maps.filters_;
            else if (name == KBNET_XDP_MAP_CONFIG)
                slot = &maps.config_;
            else if (name == KBNET_XDP_MAP_COUNTERS)
                slot = &maps.counters_;
        }
        if (slot != nullptr && *slot < 0) {
            *slot = fd;
        } else {
            ::close(fd);
        }
    }
    if (!maps.valid()) return std::nullopt;
    return maps;
}

std::uint32_t XdpMaps::config_slot(std::uint32_t slot) const {
    std::uint32_t value = 0;
    if (bpf_map_lookup_elem(config_, &slot, &value) != 0) fail("read config", errno);
    return value;
}

void XdpMaps::set_config_slot(std::uint32_t slot, std::uint32_t value) {
    if (bpf_map_update_elem(config_, &slot, &value, BPF_ANY) != 0) fail("write config", errno);
}

void XdpMaps::set_mode(SteerMode mode) {
    set_config_slot(KBNET_XDP_CONFIG_MODE, mode == SteerMode::all ? KBNET_XDP_MODE_ALL : KBNET_XDP_MODE_FILTERED);
}

SteerMode XdpMaps::mode() const {
    return config_slot(KBNET_XDP_CONFIG_MODE) == KBNET_XDP_MODE_ALL ? SteerMode::all : SteerMode::filtered;
}

void XdpMaps::set_owner(std::uint32_t pid) { set_config_slot(KBNET_XDP_CONFIG_OWNER, pid); }
std::uint32_t XdpMaps::owner() const { return config_slot(KBNET_XDP_CONFIG_OWNER); }

void XdpMaps::add_filter(const SteeringFilter& f) {
    const bool whole_address = f.protocol == 0 && f.port == 0;
    if (whole_address && f.address == 0) {
        throw PortError("steering filter: protocol 0 (a whole address) needs the address; 0.0.0.0 would take "
                        "every packet of the host (use steer_all() for that)");
    }
    if (!whole_address && f.protocol != IPPROTO_UDP && f.protocol != IPPROTO_TCP) {
        throw PortError(fmt::format("steering filter: protocol {} is not UDP (17) or TCP (6)", f.protocol));
    }
    if (!whole_address && f.port == 0) {
        throw PortError("steering filter: port 0 matches nothing; give the local port to steer");
    }
    const kbnet_filter_key key = make_key(f.protocol, f.port, f.address);
    const std::uint32_t action = f.action == FilterAction::drop ? KBNET_XDP_ACTION_DROP : KBNET_XDP_ACTION_REDIRECT;
    if (bpf_map_update_elem(filters_, &key, &action, BPF_ANY) != 0) {
        const int err = errno;
        if (err == E2BIG || err == ENOMEM) {
            throw PortError(fmt::format("steering filter {}: the filter table is full ({} entries)", to_string(f),
                                        KBNET_XDP_MAX_FILTERS));
        }
        fail("add filter", err);
    }
}

bool XdpMaps::remove_filter(std::uint8_t protocol, std::uint16_t port, std::uint32_t address) {
    const kbnet_filter_key key = make_key(protocol, port, address);
    if (bpf_map_delete_elem(filters_, &key) == 0) return true;
    if (errno == ENOENT) return false;
    fail("remove filter", errno);
}

std::vector<SteeringFilter> XdpMaps::filters() const {
    std::vector<SteeringFilter> out;
    kbnet_filter_key key{};
    kbnet_filter_key next{};
    const void* prev = nullptr;  // null: start from the first key
    while (bpf_map_get_next_key(filters_, prev, &next) == 0) {
        std::uint32_t action = 0;
        if (bpf_map_lookup_elem(filters_, &next, &action) == 0) {
            out.push_back({next.proto, ntohs(next.port), ntohl(next.addr),
                           action == KBNET_XDP_ACTION_DROP ? FilterAction::drop : FilterAction::redirect});
        }
        key = next;
        prev = &key;
    }
    std::sort(out.begin(), out.end(), [](const SteeringFilter& a, const SteeringFilter& b) {
        if (a.protocol != b.protocol) return a.protocol < b.protocol;
        if (a.port != b.port) return a.port < b.port;
        return a.address < b.address;
    });
    return out;
}

XdpCounters XdpMaps::counters() const {
    // A per-CPU array returns one value per possible CPU, each padded to 8
    // bytes (here they are 8 bytes already).
    const int cpus = libbpf_num_possible_cpus();
    if (cpus <= 0) fail("read counters", -cpus);
    std::vector<std::uint64_t> values(static_cast<std::size_t>(cpus));
    std::uint64_t sums[KBNET_XDP_COUNTERS] = {};
    for (std::uint32_t slot = 0; slot < KBNET_XDP_COUNTERS; ++slot) {
        if (bpf_map_lookup_elem(counters_, &slot, values.data()) != 0) fail("read counters", errno);
        for (std::uint64_t v : values) sums[slot] += v;
    }
    XdpCounters c;
    c.redirected = sums[KBNET_XDP_CNT_REDIRECTED];
    c.passed = sums[KBNET_XDP_CNT_PASSED];
    c.dropped = sums[KBNET_XDP_CNT_DROPPED];
    c.no_socket = sums[KBNET_XDP_CNT_NO_SOCKET];
    c.fragments = sums[KBNET_XDP_CNT_FRAGMENT];
    return c;
}

}  // namespace kbnet::port::afxdp
