#include "port/afxdp/xdp_program.hpp"

#include <linux/if_link.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>

#include <fmt/format.h>

// libxdp/libbpf headers are C and not written for our warning set; the
// target includes them as SYSTEM headers.
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "kbnet/core/log.hpp"
#include "kbnet/port/port.hpp"
#include "kbnet/port/xdp.hpp"
#include "port/afxdp/bpf/kbnet_xdp_abi.h"
#include "port/afxdp/netdev.hpp"

namespace kbnet::port::afxdp {
namespace {

// ---- libbpf / libxdp logging -------------------------------------------

std::mutex g_log_mutex;
std::string g_kernel_message;  // guarded by g_log_mutex

void route_line(const char* prefix, const char* format, va_list ap) __attribute__((format(printf, 2, 0)));
void route_line(const char* prefix, const char* format, va_list ap) {
    char buf[1024];
    const int n = std::vsnprintf(buf, sizeof buf, format, ap);
    if (n <= 0) return;
    std::string_view line(buf, std::min<std::size_t>(static_cast<std::size_t>(n), sizeof buf - 1));
    while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.remove_suffix(1);
    // netlink's extended ack: the one line that says why the kernel refused.
    constexpr std::string_view kKernel = "Kernel error message: ";
    if (const auto at = line.find(kKernel); at != std::string_view::npos) {
        std::lock_guard lock(g_log_mutex);
        g_kernel_message = std::string(line.substr(at + kKernel.size()));
    }
    if (LogLevel::debug <= log_level()) log_write(LogLevel::debug, fmt::format("{}{}", prefix, line));
}

int libbpf_print(enum libbpf_print_level level, const char* format, va_list ap) __attribute__((format(printf, 2, 0)));
int libbpf_print(enum libbpf_print_level level, const char* format, va_list ap) {
    // libbpf's debug level narrates every relocation: not even for KBNET_LOG=debug.
    if (level == LIBBPF_DEBUG) return 0;
    route_line("(libbpf) ", format, ap);
    return 0;
}

int libxdp_print(enum libxdp_print_level level, const char* format, va_list ap) __attribute__((format(printf, 2, 0)));
int libxdp_print(enum libxdp_print_level level, const char* format, va_list ap) {
    if (level == LIBXDP_DEBUG) return 0;
    route_line("(libxdp) ", format, ap);
    return 0;
}

// ---- programs on an interface ------------------------------------------

struct MultiprogClose {
    void operator()(xdp_multiprog* mp) const noexcept { xdp_multiprog__close(mp); }
};
using MultiprogPtr = std::unique_ptr<xdp_multiprog, MultiprogClose>;

[[noreturn]] void privilege_error(std::string_view ifname, std::string_view what) {
    throw PortError(
        fmt::format("{} on '{}' was refused: run as root or grant CAP_NET_ADMIN and CAP_BPF "
                    "(e.g. setcap cap_net_admin,cap_net_raw,cap_bpf+ep BINARY)",
                    what, ifname));
}

// What is attached to the interface now; nullptr if nothing is.
MultiprogPtr programs_on(std::string_view ifname, int ifindex) {
    xdp_multiprog* mp = xdp_multiprog__get_from_ifindex(ifindex);
    const long err = libxdp_get_error(mp);
    if (err == 0 && mp != nullptr) return MultiprogPtr(mp);
    if (err == -ENOENT || err == 0) return nullptr;
    if (err == -EPERM || err == -EACCES) privilege_error(ifname, "reading the XDP programs");
    throw PortError(
        fmt::format("cannot list the XDP programs on '{}': {}", ifname, std::strerror(static_cast<int>(-err))));
}

bool is_kbnet(const xdp_program* prog) {
    const char* name = xdp_program__name(prog);
    return name != nullptr && std::string_view(name) == KBNET_XDP_PROG_NAME;
}

std::string_view mode_name(enum xdp_attach_mode m) {
    switch (m) {
        case XDP_MODE_NATIVE: return "native";
        case XDP_MODE_SKB: return "skb";
        case XDP_MODE_HW: return "hw";
        default: return "unknown";
    }
}

bool process_alive(std::uint32_t pid) {
    if (pid == 0) return false;
    // EPERM: it exists but belongs to someone else.
    return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

// Every program attached to the interface, in order: the main one in legacy
// mode, the dispatcher's components otherwise.
template <typename Fn>
void for_each_program(const xdp_multiprog* mp, Fn&& fn) {
    if (xdp_multiprog__is_legacy(mp)) {
        if (xdp_program* p = xdp_multiprog__main_prog(mp)) fn(p);
        return;
    }
    for (xdp_program* p = xdp_multiprog__next_prog(nullptr, mp); p != nullptr; p = xdp_multiprog__next_prog(p, mp)) {
        fn(p);
    }
}

std::uint32_t owner_of(const xdp_program* prog) {
    const auto maps = XdpMaps::of_program(xdp_program__fd(prog));
    if (!maps) return 0;
    try {
        return maps->owner();
    } catch (const PortError&) {
        return 0;
    }
}

// Detaches one program found on the interface. The dispatcher is rebuilt
// without it; in legacy mode the interface is left with no program.
int detach_found(xdp_multiprog* mp, xdp_program* prog, int ifindex) {
    if (xdp_multiprog__is_legacy(mp)) return xdp_multiprog__detach(mp);
    return xdp_program__detach(prog, ifindex, xdp_multiprog__attach_mode(mp), 0);
}

}  // namespace

void route_bpf_logging() {
    static std::once_flag once;
    std::call_once(once, [] {
        libbpf_set_print(libbpf_print);
        libxdp_set_print(libxdp_print);
    });
}

std::string last_kernel_message() {
    std::lock_guard lock(g_log_mutex);
    return g_kernel_message;
}

void clear_kernel_message() {
    std::lock_guard lock(g_log_mutex);
    g_kernel_message.clear();
}

void BpfObjectClose::operator()(bpf_object* obj) const noexcept { bpf_object__close(obj); }

BpfObjectPtr open_kbnet_object() {
    route_bpf_logging();
    const std::span<const std::uint8_t> bytes = kbnet_xdp_object();
    // (LIBBPF_OPTS would do this with a GNU statement expression.)
    bpf_object_open_opts opts{};
    opts.sz = sizeof opts;
    opts.object_name = KBNET_XDP_PROG_NAME;
    bpf_object* obj = bpf_object__open_mem(bytes.data(), bytes.size(), &opts);
    if (const long err = libbpf_get_error(obj); err != 0 || obj == nullptr) {
        throw PortError(fmt::format("cannot open kbnet's embedded XDP program: {} (a build problem: rebuild kbnet)",
                                    std::strerror(static_cast<int>(-err))));
    }
    return BpfObjectPtr(obj);
}

unsigned veth_native_xdp_max_mtu() noexcept {
    // PAGE_SIZE - VETH_XDP_HEADROOM (XDP_PACKET_HEADROOM 256 + NET_IP_ALIGN,
    // 0 on x86) - SKB_DATA_ALIGN(sizeof(struct skb_shared_info)) (320 on
    // 64-bit) - ETH_HLEN; 3506 with 4 KiB pages, as measured on Linux 6.x.
    const long page = ::sysconf(_SC_PAGESIZE);
    return static_cast<unsigned>((page > 0 ? page : 4096) - 256 - 320 - 14);
}

unsigned remove_kbnet_programs(std::string_view ifname, int ifindex, bool include_live) {
    route_bpf_logging();
    unsigned removed = 0;
    // Each detach changes what is attached (a new dispatcher), so look again
    // after every removal.
    for (;;) {
        MultiprogPtr mp = programs_on(ifname, ifindex);
        if (!mp) return removed;
        xdp_program* victim = nullptr;
        std::uint32_t victim_owner = 0;
        for_each_program(mp.get(), [&](xdp_program* p) {
            if (victim != nullptr || !is_kbnet(p)) return;
            const std::uint32_t owner = owner_of(p);
            const bool alive = process_alive(owner);
            if (alive && !include_live) {
                if (owner == static_cast<std::uint32_t>(::getpid())) {
                    throw PortError(
                        fmt::format("'{}' already has an afxdp port open in this process; open one "
                                    "port per interface (with queues=N for several queues)",
                                    ifname));
                }
                throw PortError(
                    fmt::format("'{}' is already served by kbnet process {} (XDP program id {}); stop "
                                "it first, or remove its program with `kbnet xdp unload {}`",
                                ifname, owner, xdp_program__id(p), ifname));
            }
            victim = p;
            victim_owner = owner;
        });
        if (victim == nullptr) return removed;
        const std::uint32_t id = xdp_program__id(victim);
        const int err = detach_found(mp.get(), victim, ifindex);
        if (err != 0) {
            if (err == -EPERM || err == -EACCES) privilege_error(ifname, "removing kbnet's XDP program");
            throw PortError(
                fmt::format("cannot remove kbnet's XDP program id {} from '{}': {}", id, ifname, std::strerror(-err)));
        }
        if (include_live) {
            KBNET_LOG_INFO("xdp: removed kbnet's XDP program id {} from {} (owner pid {})", id, ifname, victim_owner);
        } else {
            KBNET_LOG_WARN("xdp: replaced kbnet's XDP program id {} on {}, left behind by process {} which is gone", id,
                           ifname, victim_owner);
        }
        ++removed;
    }
}

XdpProgram::XdpProgram(std::string ifname, int ifindex) : ifname_(std::move(ifname)), ifindex_(ifindex) {
    route_bpf_logging();
    remove_kbnet_programs(ifname_, ifindex_, /*include_live=*/false);

    for (const AttachMode mode : {AttachMode::native, AttachMode::skb}) {
        // A fresh object for each try: libbpf does not load an object twice,
        // and a failed attach may have loaded it.
        BpfObjectPtr obj = open_kbnet_object();
        xdp_program* prog = xdp_program__from_bpf_obj(obj.get(), nullptr);
        if (const long e = libxdp_get_error(prog); e != 0 || prog == nullptr) {
            throw PortError(fmt::format("cannot prepare kbnet's XDP program: {}", std::strerror(static_cast<int>(-e))));
        }
        clear_kernel_message();
        const int err =
            xdp_program__attach(prog, ifindex_, mode == AttachMode::native ? XDP_MODE_NATIVE : XDP_MODE_SKB, 0);
        if (err == 0) {
            obj_ = std::move(obj);
            prog_ = prog;
            mode_ = mode;
            break;
        }
        xdp_program__close(prog);
        const std::string kernel = last_kernel_message();
        const std::string why = kernel.empty() ? std::strerror(-err) : kernel;
        if (err == -EPERM || err == -EACCES) privilege_error(ifname_, "attaching kbnet's XDP program");
        if (err == -ERANGE) {
            // veth checks its peer's MTU against a page (veth_xdp_set).
            throw PortError(
                fmt::format("the MTU on the other end of '{}' is too large for XDP ({}): a veth peer may "
                            "have at most {} without a multi-buffer program; lower it with `ip link set "
                            "dev PEER mtu {}`",
                            ifname_, why, veth_native_xdp_max_mtu(), veth_native_xdp_max_mtu()));
        }
        if (err == -EBUSY || err == -EEXIST) {
            throw PortError(
                fmt::format("'{}' already has an XDP program that libxdp cannot share ({}); see `kbnet xdp "
                            "status {}` and remove it (`ip link set dev {} xdp off`) to use afxdp",
                            ifname_, why, ifname_, ifname_));
        }
        if (mode == AttachMode::skb) {
            throw PortError(fmt::format("cannot attach kbnet's XDP program to '{}': {}", ifname_, why));
        }
        KBNET_LOG_INFO(
            "afxdp {}: native XDP not available ({}); falling back to SKB (generic) mode, which copies "
            "every frame",
            ifname_, why);
    }

    maps_ = XdpMaps(bpf_object__find_map_fd_by_name(obj_.get(), KBNET_XDP_MAP_XSKS),
                    bpf_object__find_map_fd_by_name(obj_.get(), KBNET_XDP_MAP_FILTERS),
                    bpf_object__find_map_fd_by_name(obj_.get(), KBNET_XDP_MAP_CONFIG),
                    bpf_object__find_map_fd_by_name(obj_.get(), KBNET_XDP_MAP_COUNTERS), /*owned=*/false);
    try {
        if (!maps_.valid()) throw PortError("kbnet's XDP program has no maps after loading (a build problem)");
        maps_.set_owner(static_cast<std::uint32_t>(::getpid()));
        maps_.set_mode(SteerMode::filtered);
        if (MultiprogPtr mp = programs_on(ifname_, ifindex_)) dispatcher_ = !xdp_multiprog__is_legacy(mp.get());
    } catch (...) {
        detach();
        throw;
    }
    KBNET_LOG_INFO("afxdp {}: XDP program id {} attached in {} mode{}", ifname_, id(),
                   mode_ == AttachMode::native ? "native" : "SKB",
                   dispatcher_ ? " through libxdp's dispatcher"
                               : " alone (libxdp's dispatcher is unavailable: no bpffs at /sys/fs/bpf, or the kernel "
                                 "refused freplace programs; other XDP programs cannot share this interface)");
}

XdpProgram::~XdpProgram() { detach(); }

std::uint32_t XdpProgram::id() const noexcept { return prog_ != nullptr ? xdp_program__id(prog_) : 0; }

void XdpProgram::detach() noexcept {
    if (prog_ == nullptr) return;
    const std::uint32_t prog_id = id();
    const int err =
        xdp_program__detach(prog_, ifindex_, mode_ == AttachMode::native ? XDP_MODE_NATIVE : XDP_MODE_SKB, 0);
    if (err != 0) {
        KBNET_LOG_WARN("afxdp {}: could not detach XDP program id {}: {}; remove it with `kbnet xdp unload {}`",
                       ifname_, prog_id, std::strerror(-err), ifname_);
    } else {
        KBNET_LOG_INFO("afxdp {}: XDP program id {} detached", ifname_, prog_id);
    }
    xdp_program__close(prog_);
    prog_ = nullptr;
    maps_ = XdpMaps();
    obj_.reset();
}

}  // namespace kbnet::port::afxdp

namespace kbnet::port {

XdpStatus xdp_status(std::string_view ifname) {
    using namespace afxdp;
    route_bpf_logging();
    const int ifindex = interface_index(ifname);
    XdpStatus st;
    st.ifname = std::string(ifname);
    MultiprogPtr mp = programs_on(ifname, ifindex);
    if (!mp) return st;
    const bool legacy = xdp_multiprog__is_legacy(mp.get());
    const std::string_view mode = mode_name(xdp_multiprog__attach_mode(mp.get()));
    for_each_program(mp.get(), [&](xdp_program* p) {
        if (!is_kbnet(p)) {
            st.others.push_back(fmt::format("{} (id {})", xdp_program__name(p), xdp_program__id(p)));
            return;
        }
        XdpProgramInfo info;
        info.id = xdp_program__id(p);
        info.attach_mode = std::string(mode);
        info.dispatcher = !legacy;
        if (auto maps = XdpMaps::of_program(xdp_program__fd(p))) {
            info.owner_pid = maps->owner();
            info.owner_alive = process_alive(info.owner_pid);
            info.mode = maps->mode();
            info.filters = maps->filters();
            info.counters = maps->counters();
        }
        st.kbnet.push_back(std::move(info));
    });
    return st;
}

std::string format_xdp_status(const XdpStatus& st) {
    std::string out;
    if (st.kbnet.empty()) out += fmt::format("{}: no kbnet XDP program\n", st.ifname);
    for (const XdpProgramInfo& p : st.kbnet) {
        out += fmt::format("{}: kbnet XDP program id {}, {} mode{}\n", st.ifname, p.id, p.attach_mode,
                           p.dispatcher ? " (libxdp dispatcher)" : "");
        out += fmt::format("  owner: pid {} ({})\n", p.owner_pid,
                           p.owner_alive ? "running" : "gone: left behind; the next afxdp port replaces it");
        out += fmt::format("  steering: {}\n", to_string(p.mode));
        for (const SteeringFilter& f : p.filters) out += fmt::format("  filter: {}\n", to_string(f));
        const XdpCounters& c = p.counters;
        out += fmt::format("  counters: redirected {} passed {} dropped {} (of passed: no socket {}, fragments {})\n",
                           c.redirected, c.passed, c.dropped, c.no_socket, c.fragments);
    }
    for (const std::string& o : st.others) out += fmt::format("  other XDP program: {}\n", o);
    return out;
}

unsigned xdp_unload(std::string_view ifname) {
    const int ifindex = afxdp::interface_index(ifname);
    return afxdp::remove_kbnet_programs(ifname, ifindex, /*include_live=*/true);
}

}  // namespace kbnet::port
