#include "port/afxdp/afxdp_port.hpp"

#include <linux/if_xdp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <xdp/xsk.h>

#include "kbnet/core/frame_pool.hpp"
#include "kbnet/core/log.hpp"
#include "kbnet/port/steering.hpp"
#include "port/afxdp/bpf/kbnet_xdp_abi.h"
#include "port/afxdp/netdev.hpp"
#include "port/afxdp/xdp_program.hpp"

// Older libc headers lack the preferred-busy-poll options (Linux 5.11).
#ifndef SO_PREFER_BUSY_POLL
#define SO_PREFER_BUSY_POLL 69
#endif
#ifndef SO_BUSY_POLL_BUDGET
#define SO_BUSY_POLL_BUDGET 70
#endif

namespace kbnet::port {
namespace {

using afxdp::XdpProgram;

// The kernel puts every received frame XDP_PACKET_HEADROOM (256) bytes into
// its chunk, after the UMEM's own frame_headroom (af_xdp.rst, "UMEM").
constexpr std::uint32_t kXdpHeadroom = XDP_PACKET_HEADROOM;
constexpr std::uint32_t kEthHeader = 14;
// Fill-ring refills and completion drains wait for this many free entries
// (or completions), so a ring update is amortised over a batch of frames.
constexpr std::uint32_t kRefillBatch = 32;
constexpr std::uint32_t kChunk = 64;  // handles per pool call on the stack
// How often flush() reads the socket's drop counters (XDP_STATISTICS is a
// syscall, so not on every idle poll).
constexpr std::uint64_t kStatsIntervalNs = 100'000'000;
// NAPI budget per busy-poll call: the packets one recvfrom/sendto may
// process in the driver; a few bursts' worth.
constexpr int kBusyPollBudget = 64;

enum class ZcMode : std::uint8_t { automatic, copy, zerocopy };

struct Config {
    std::string ifname;
    std::uint16_t queues = 1;
    std::uint32_t first_queue = 0;
    ZcMode zc = ZcMode::automatic;
    std::uint32_t busy_poll_us = 0;
    SteerMode steer = SteerMode::filtered;
};

Config parse_config(const PortSpec& spec) {
    Config c;
    c.ifname = spec.target;
    c.queues = static_cast<std::uint16_t>(spec.uint_or("queues", 1, 1, KBNET_XDP_MAX_QUEUES));
    c.first_queue = static_cast<std::uint32_t>(spec.uint_or("queue", 0, 0, KBNET_XDP_MAX_QUEUES - 1));
    const std::string mode = spec.choice_or("mode", "auto", {"auto", "copy", "zc"});
    c.zc = mode == "zc" ? ZcMode::zerocopy : mode == "copy" ? ZcMode::copy : ZcMode::automatic;
    c.busy_poll_us = static_cast<std::uint32_t>(spec.uint_or("busy_poll", 0, 0, 1'000'000));
    c.steer = spec.choice_or("steer", "filtered", {"filtered", "all"}) == "all" ? SteerMode::all : SteerMode::filtered;
    if (c.first_queue + c.queues > KBNET_XDP_MAX_QUEUES) {
        throw PortError(
            fmt::format("bad port spec '{}': queue={} with queues={} passes the {} queues kbnet's XDP "
                        "program can serve",
                        spec.text, c.first_queue, c.queues, KBNET_XDP_MAX_QUEUES));
    }
    return c;
}

std::uint32_t floor_pow2(std::uint32_t v) {
    std::uint32_t p = 1;
    while (p * 2 <= v) p *= 2;
    return p;
}

struct UmemDelete {
    void operator()(xsk_umem* u) const noexcept { (void)xsk_umem__delete(u); }
};

// One queue: its socket, its four rings, its slice of the UMEM. Only the
// thread driving the queue touches it; one cache line at least, so two
// queues' hot fields never share a line.
struct alignas(kCacheLine) Queue {
    Queue(const BufferArea& area, std::uint32_t first_frame, std::uint32_t frames) : pool(area, first_frame, frames) {}
    ~Queue() {
        if (xsk != nullptr) xsk_socket__delete(xsk);
    }
    Queue(const Queue&) = delete;
    Queue& operator=(const Queue&) = delete;

    xsk_ring_cons rx{};
    xsk_ring_prod tx{};
    xsk_ring_prod fill{};
    xsk_ring_cons comp{};
    xsk_socket* xsk = nullptr;
    int fd = -1;
    std::uint32_t device_queue = 0;
    FramePool pool;
    std::uint64_t next_stats_ns = 0;
};

class AfxdpPort final : public Port, public Steering {
  public:
    AfxdpPort(const PortSpec& spec, const Config& cfg, const PortOptions& options);
    ~AfxdpPort() override;

    std::string_view kind() const noexcept override { return "afxdp"; }
    Capabilities capabilities() const noexcept override {
        Capabilities c;
        c.rx_queues = c.tx_queues = queue_count();
        c.zero_copy = zero_copy_;
        c.max_frame = area_.frame_size() - kXdpHeadroom - umem_headroom_;
        return c;
    }
    const BufferArea& area() const noexcept override { return area_; }

    std::uint16_t rx_burst(std::uint16_t queue, std::span<PacketHandle> out) noexcept override;
    std::uint16_t tx_burst(std::uint16_t queue, std::span<const PacketHandle> pkts) noexcept override;
    std::uint16_t alloc(std::uint16_t queue, std::span<PacketHandle> out) noexcept override;
    void free(std::uint16_t queue, std::span<const PacketHandle> pkts) noexcept override;
    void flush(std::uint16_t queue) noexcept override;
    Steering* steering() noexcept override { return this; }

    // Steering: the program's maps, shared by every queue.
    void steer_all() override { program_->maps().set_mode(SteerMode::all); }
    void steer_filtered() override { program_->maps().set_mode(SteerMode::filtered); }
    SteerMode steer_mode() const override { return program_->maps().mode(); }
    void add_filter(std::uint8_t protocol, std::uint16_t port, std::uint32_t address, FilterAction action) override {
        program_->maps().add_filter({protocol, port, address, action});
    }
    bool remove_filter(std::uint8_t protocol, std::uint16_t port, std::uint32_t address) override {
        return program_->maps().remove_filter(protocol, port, address);
    }
    std::vector<SteeringFilter> filters() const override { return program_->maps().filters(); }

  private:
    void create_umem();
    void create_socket(Queue& q, bool zerocopy);
    void enable_busy_poll(Queue& q);
    void refill(Queue& q) noexcept;
    void drain_completions(Queue& q, std::uint16_t queue) noexcept;
    void kick_tx(Queue& q) noexcept;
    void read_socket_stats(Queue& q, std::uint16_t queue) noexcept;

    std::string ifname_;
    int ifindex_;
    std::uint32_t umem_headroom_ = 0;
    std::uint32_t ring_size_ = 0;
    bool zero_copy_ = false;
    bool busy_poll_ = false;
    std::uint32_t busy_poll_us_ = 0;
    // Destroyed in reverse: the program first (traffic returns to the kernel
    // at once), then the sockets, then the UMEM, then its memory.
    BufferArea area_;
    std::unique_ptr<xsk_umem, UmemDelete> umem_;
    std::vector<std::unique_ptr<Queue>> queues_;
    std::unique_ptr<XdpProgram> program_;
};

// Settings that are wrong on any machine, checked before looking at one.
void check_area_config(const Config& cfg, const PortOptions& options) {
    const BufferAreaConfig& a = options.area;
    // Aligned-mode UMEM chunks are 2048 bytes to a page (xdp_umem_reg()).
    const long page = ::sysconf(_SC_PAGESIZE);
    if (a.frame_size < 2048 || a.frame_size > static_cast<std::uint32_t>(page > 0 ? page : 4096)) {
        throw PortError(fmt::format("afxdp:{}: frame size {} is not usable for AF_XDP; use 2048 or {} (one page)",
                                    cfg.ifname, a.frame_size, page));
    }
}

BufferAreaConfig umem_area_config(const Config& cfg, const PortOptions& options) {
    BufferAreaConfig a = options.area;
    const std::uint64_t total = std::uint64_t{a.frame_count} * cfg.queues;
    if (total > (1u << 24)) {
        throw PortError(
            fmt::format("afxdp:{}: {} frames per queue on {} queues is more than a buffer area holds; "
                        "lower queues or the frame count",
                        cfg.ifname, a.frame_count, cfg.queues));
    }
    if (a.frame_count < 64) {
        throw PortError(
            fmt::format("afxdp:{}: {} frames per queue is too few; use at least 64", cfg.ifname, a.frame_count));
    }
    a.frame_count = static_cast<std::uint32_t>(total);
    return a;
}

AfxdpPort::AfxdpPort(const PortSpec& spec, const Config& cfg, const PortOptions& options)
    : Port(spec.text, cfg.queues),
      ifname_(cfg.ifname),
      ifindex_(afxdp::interface_index(cfg.ifname)),
      area_(umem_area_config(cfg, options)) {
    umem_headroom_ = area_.headroom() > kXdpHeadroom ? area_.headroom() - kXdpHeadroom : 0;
    const std::uint32_t per_queue = options.area.frame_count;
    // Rings hold at most half a queue's frames each way, so a full fill ring
    // still leaves frames to transmit from.
    ring_size_ = std::min<std::uint32_t>(2048, floor_pow2(per_queue / 2));

    for (std::uint16_t q = 0; q < cfg.queues; ++q) {
        queues_.push_back(std::make_unique<Queue>(area_, q * per_queue, per_queue));
        queues_.back()->device_queue = cfg.first_queue + q;
    }

    // The program first: it decides whether zero-copy is possible at all
    // (only with a native attach) and fails early on MTU or privilege.
    program_ = std::make_unique<XdpProgram>(ifname_, ifindex_);
    const bool native = program_->attach_mode() == afxdp::AttachMode::native;

    bool zc = cfg.zc != ZcMode::copy && native;
    if (cfg.zc == ZcMode::zerocopy && !native) {
        throw PortError(
            fmt::format("afxdp:{}: mode=zc needs native XDP, which '{}' does not have (the program runs in "
                        "SKB mode); use mode=copy or mode=auto",
                        ifname_, ifname_));
    }
    create_umem();
    try {
        create_socket(*queues_[0], zc);
    } catch (const PortError& e) {
        if (!zc || cfg.zc == ZcMode::zerocopy) throw;
        // The first bind failed with XDP_ZEROCOPY: the UMEM (whose fd that
        // socket was) is rebuilt for copy mode.
        KBNET_LOG_DEBUG("afxdp {}: zero-copy bind failed: {}", ifname_, e.what());
        zc = false;
        umem_.reset();
        create_umem();
        create_socket(*queues_[0], zc);
    }
    for (std::size_t q = 1; q < queues_.size(); ++q) create_socket(*queues_[q], zc);
    zero_copy_ = zc;
    const char* why_copy = cfg.zc == ZcMode::copy ? "as asked (mode=copy)"
                           : native               ? "the driver has no zero-copy support"
                                                  : "XDP runs in SKB mode";
    KBNET_LOG_INFO("afxdp {}: {} queue(s) from {} in {} mode{}{}", ifname_, cfg.queues, cfg.first_queue,
                   zc ? "zero-copy" : "copy", zc ? "" : ": ", zc ? "" : why_copy);

    busy_poll_us_ = cfg.busy_poll_us;
    busy_poll_ = cfg.busy_poll_us > 0;
    for (auto& q : queues_) {
        if (!busy_poll_) break;
        enable_busy_poll(*q);
    }
    if (cfg.busy_poll_us > 0 && busy_poll_) {
        KBNET_LOG_INFO(
            "afxdp {}: busy polling for {} us per call, budget {}; for it to replace interrupts set "
            "/sys/class/net/{}/napi_defer_hard_irqs=2 and gro_flush_timeout=200000",
            ifname_, cfg.busy_poll_us, kBusyPollBudget, ifname_);
    }

    // Frames for the kernel to receive into, then the sockets into the
    // program's map: from here on, steered frames reach us.
    for (auto& q : queues_) refill(*q);
    for (auto& q : queues_) {
        if (const int err = xsk_socket__update_xskmap(q->xsk, program_->maps().xsks_fd()); err != 0) {
            throw PortError(fmt::format("afxdp:{}: cannot register the socket of queue {} with the XDP program: {}",
                                        ifname_, q->device_queue, std::strerror(-err)));
        }
    }
    if (cfg.steer == SteerMode::all) program_->maps().set_mode(SteerMode::all);
    KBNET_LOG_INFO("afxdp {}: ready, {} frames of {} bytes per queue, rings of {}, steering {}", ifname_, per_queue,
                   area_.frame_size(), ring_size_, to_string(cfg.steer));
}

AfxdpPort::~AfxdpPort() {
    // Explicit, though member order gives the same: detach before the
    // sockets close, so no frame is redirected to a socket going away.
    program_.reset();
    queues_.clear();
    umem_.reset();
}

void AfxdpPort::create_umem() {
    xsk_umem_config ucfg{};
    ucfg.fill_size = ring_size_;
    ucfg.comp_size = ring_size_;
    ucfg.frame_size = area_.frame_size();
    ucfg.frame_headroom = umem_headroom_;
    ucfg.flags = 0;
    Queue& q0 = *queues_[0];
    xsk_umem* umem = nullptr;
    // The first queue's fill and completion rings are the UMEM's own.
    const int err = xsk_umem__create(&umem, area_.base(), area_.size_bytes(), &q0.fill, &q0.comp, &ucfg);
    if (err != 0) {
        if (err == -ENOBUFS || err == -ENOMEM) {
            throw PortError(
                fmt::format("afxdp:{}: cannot register {} KiB of packet memory with the kernel ({}): raise "
                            "the locked-memory limit (ulimit -l) or grant CAP_IPC_LOCK",
                            ifname_, area_.size_bytes() >> 10, std::strerror(-err)));
        }
        if (err == -EPERM || err == -EACCES) {
            throw PortError(
                fmt::format("afxdp:{}: creating an AF_XDP socket was refused: run as root or grant "
                            "CAP_NET_RAW and CAP_NET_ADMIN",
                            ifname_));
        }
        if (err == -EAFNOSUPPORT) {
            throw PortError(
                fmt::format("afxdp:{}: this kernel has no AF_XDP sockets (CONFIG_XDP_SOCKETS); use an "
                            "afpacket: port",
                            ifname_));
        }
        throw PortError(fmt::format("afxdp:{}: cannot create the UMEM: {}", ifname_, std::strerror(-err)));
    }
    umem_.reset(umem);
}

void AfxdpPort::create_socket(Queue& q, bool zerocopy) {
    xsk_socket_config scfg{};
    scfg.rx_size = ring_size_;
    scfg.tx_size = ring_size_;
    // Our own program is attached through libxdp; libxdp must not load its
    // default one (af_xdp.rst: "XSKMAP / BPF_MAP_TYPE_XSKMAP").
    scfg.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;
    scfg.xdp_flags = 0;
    // need_wakeup always: the kernel tells us when a syscall is needed, so
    // an application and the driver on one core do not spin against each
    // other (af_xdp.rst, "XDP_USE_NEED_WAKEUP bind flag").
    scfg.bind_flags = static_cast<std::uint16_t>(XDP_USE_NEED_WAKEUP | (zerocopy ? XDP_ZEROCOPY : XDP_COPY));
    const int err = xsk_socket__create_shared(&q.xsk, ifname_.c_str(), q.device_queue, umem_.get(), &q.rx, &q.tx,
                                              &q.fill, &q.comp, &scfg);
    if (err != 0) {
        q.xsk = nullptr;
        if (zerocopy && (err == -EOPNOTSUPP || err == -EINVAL || err == -524 /* ENOTSUPP */)) {
            throw PortError(
                fmt::format("afxdp:{}: mode=zc: the driver of '{}' ({}) has no AF_XDP zero-copy support "
                            "({}); use mode=copy or mode=auto",
                            ifname_, ifname_, afxdp::driver_name(ifname_), std::strerror(-err)));
        }
        if (err == -EBUSY) {
            throw PortError(fmt::format("afxdp:{}: queue {} already has an AF_XDP socket bound (another process?)",
                                        ifname_, q.device_queue));
        }
        if (err == -EPERM || err == -EACCES) {
            throw PortError(
                fmt::format("afxdp:{}: binding an AF_XDP socket was refused: run as root or grant "
                            "CAP_NET_RAW and CAP_NET_ADMIN",
                            ifname_));
        }
        throw PortError(fmt::format("afxdp:{}: cannot bind an AF_XDP socket to queue {}: {}", ifname_, q.device_queue,
                                    std::strerror(-err)));
    }
    q.fd = xsk_socket__fd(q.xsk);
}

void AfxdpPort::enable_busy_poll(Queue& q) {
    // Preferred busy polling (Linux 5.11): the application's recvfrom/sendto
    // run the driver's NAPI loop instead of softirqs, SO_BUSY_POLL says for
    // how long, SO_BUSY_POLL_BUDGET how many packets per call
    // (Documentation/networking/napi.rst, "Busy polling").
    struct Opt {
        int name;
        int value;
        const char* what;
    };
    const std::array<Opt, 3> opts{{{SO_PREFER_BUSY_POLL, 1, "SO_PREFER_BUSY_POLL"},
                                   {SO_BUSY_POLL, static_cast<int>(busy_poll_us_), "SO_BUSY_POLL"},
                                   {SO_BUSY_POLL_BUDGET, kBusyPollBudget, "SO_BUSY_POLL_BUDGET"}}};
    for (const Opt& o : opts) {
        if (::setsockopt(q.fd, SOL_SOCKET, o.name, &o.value, sizeof o.value) == 0) continue;
        const int err = errno;
        KBNET_LOG_WARN("afxdp {}: busy polling is off: {} failed ({}){}", ifname_, o.what, std::strerror(err),
                       err == EPERM         ? "; it needs CAP_NET_ADMIN (or root)"
                       : err == ENOPROTOOPT ? "; the kernel is older than 5.11"
                                            : "");
        busy_poll_ = false;
        return;
    }
}

void AfxdpPort::refill(Queue& q) noexcept {
    // Batched: only when a batch of fill slots is free, and never more than
    // the pool holds (the rest stay for alloc()).
    const std::uint32_t free_slots = xsk_prod_nb_free(&q.fill, kRefillBatch);
    if (free_slots < kRefillBatch) return;
    const std::uint32_t n = std::min(free_slots, q.pool.available());
    if (n == 0) return;
    std::uint32_t idx = 0;
    if (xsk_ring_prod__reserve(&q.fill, n, &idx) != n) return;
    std::array<PacketHandle, kChunk> h;
    for (std::uint32_t done = 0; done < n;) {
        const std::uint32_t want = std::min<std::uint32_t>(kChunk, n - done);
        const std::uint32_t got = q.pool.alloc_burst(std::span<PacketHandle>(h.data(), want));
        for (std::uint32_t i = 0; i < got; ++i) {
            // The chunk's start: in aligned mode the kernel adds the
            // headrooms itself.
            *xsk_ring_prod__fill_addr(&q.fill, idx + done + i) = area_.address(PacketHandle{h[i].frame, 0, 0});
        }
        done += got;
    }
    xsk_ring_prod__submit(&q.fill, n);
}

void AfxdpPort::drain_completions(Queue& q, std::uint16_t queue) noexcept {
    std::uint32_t idx = 0;
    const std::uint32_t n = xsk_ring_cons__peek(&q.comp, ring_size_, &idx);
    if (n == 0) return;
    std::array<PacketHandle, kChunk> h;
    std::uint32_t k = 0;
    for (std::uint32_t i = 0; i < n; ++i) {
        const PacketHandle done = area_.from_address(*xsk_ring_cons__comp_addr(&q.comp, idx + i), 0);
        if (KBNET_UNLIKELY(!q.pool.owns(done.frame))) {
            // Sent on a queue it did not come from: its pool belongs to
            // another thread, so the frame is lost rather than raced for.
            ++counters_of(queue).rx_errors;
            continue;
        }
        h[k++] = done;
        if (k == h.size()) {
            q.pool.free(std::span<const PacketHandle>(h.data(), k));
            k = 0;
        }
    }
    if (k > 0) q.pool.free(std::span<const PacketHandle>(h.data(), k));
    xsk_ring_cons__release(&q.comp, n);
}

void AfxdpPort::kick_tx(Queue& q) noexcept {
    // In copy mode the kernel transmits only inside sendto (a batch per
    // call); in zero-copy mode only when the driver asked for a wakeup.
    if (!busy_poll_ && !xsk_ring_prod__needs_wakeup(&q.tx)) return;
    if (::sendto(q.fd, nullptr, 0, MSG_DONTWAIT, nullptr, 0) < 0) {
        // EAGAIN/EBUSY: the kernel is still working on earlier frames;
        // ENOBUFS: its queue is full. All retried by the next kick.
    }
}

std::uint16_t AfxdpPort::rx_burst(std::uint16_t queue, std::span<PacketHandle> out) noexcept {
    Queue& q = *queues_[queue];
    std::uint32_t idx = 0;
    const std::uint32_t n = xsk_ring_cons__peek(&q.rx, static_cast<std::uint32_t>(out.size()), &idx);
    if (n == 0) {
        refill(q);
        // Busy polling: this recvfrom is what runs the driver. Otherwise
        // only when the driver asked for it (af_xdp.rst, need_wakeup).
        if (busy_poll_ || xsk_ring_prod__needs_wakeup(&q.fill)) {
            (void)::recvfrom(q.fd, nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
        }
        return 0;
    }
    std::uint64_t bytes = 0;
    for (std::uint32_t i = 0; i < n; ++i) {
        const xdp_desc* d = xsk_ring_cons__rx_desc(&q.rx, idx + i);
        out[i] = area_.from_address(d->addr, static_cast<std::uint16_t>(d->len));
        bytes += d->len;
    }
    // Release: the descriptors are copied out; the kernel may reuse the slots.
    xsk_ring_cons__release(&q.rx, n);
    refill(q);
    QueueCounters& c = counters_of(queue);
    c.rx_packets += n;
    c.rx_bytes += bytes;
    return static_cast<std::uint16_t>(n);
}

std::uint16_t AfxdpPort::tx_burst(std::uint16_t queue, std::span<const PacketHandle> pkts) noexcept {
    Queue& q = *queues_[queue];
    drain_completions(q, queue);
    const auto want = static_cast<std::uint32_t>(pkts.size());
    std::uint32_t n = std::min(want, xsk_prod_nb_free(&q.tx, want));
    // A handle that is not a frame of this area would make the kernel read
    // elsewhere (or reject the descriptor): the prefix stops before it.
    for (std::uint32_t i = 0; i < n; ++i) {
        if (KBNET_UNLIKELY(!area_.contains(pkts[i]))) {
            n = i;
            break;
        }
    }
    std::uint64_t bytes = 0;
    if (n > 0) {
        std::uint32_t idx = 0;
        (void)xsk_ring_prod__reserve(&q.tx, n, &idx);  // cannot fail: n slots are free
        for (std::uint32_t i = 0; i < n; ++i) {
            xdp_desc* d = xsk_ring_prod__tx_desc(&q.tx, idx + i);
            d->addr = area_.address(pkts[i]);
            d->len = pkts[i].length;
            d->options = 0;
            bytes += pkts[i].length;
        }
        // Release (inside submit): descriptors before the producer index.
        xsk_ring_prod__submit(&q.tx, n);
    }
    kick_tx(q);
    QueueCounters& c = counters_of(queue);
    c.tx_packets += n;
    c.tx_bytes += bytes;
    c.tx_busy += want - n;
    return static_cast<std::uint16_t>(n);
}

std::uint16_t AfxdpPort::alloc(std::uint16_t queue, std::span<PacketHandle> out) noexcept {
    Queue& q = *queues_[queue];
    if (q.pool.available() < out.size()) drain_completions(q, queue);
    return static_cast<std::uint16_t>(q.pool.alloc_burst(out));
}

void AfxdpPort::free(std::uint16_t queue, std::span<const PacketHandle> pkts) noexcept {
    // Another queue's or port's frame is a caller bug: counted, not trusted.
    counters_of(queue).rx_errors += queues_[queue]->pool.free_owned(pkts);
}

void AfxdpPort::flush(std::uint16_t queue) noexcept {
    Queue& q = *queues_[queue];
    drain_completions(q, queue);
    // Descriptors the kernel has not consumed yet (copy mode sends a batch
    // per sendto): kick again. Acquire pairs with the kernel's release of
    // its consumer index.
    const std::uint32_t consumed = __atomic_load_n(q.tx.consumer, __ATOMIC_ACQUIRE);
    if (q.tx.cached_prod != consumed) kick_tx(q);
    refill(q);
    const std::uint64_t now = coarse_now_ns();
    if (now >= q.next_stats_ns) {
        q.next_stats_ns = now + kStatsIntervalNs;
        read_socket_stats(q, queue);
    }
}

void AfxdpPort::read_socket_stats(Queue& q, std::uint16_t queue) noexcept {
    xdp_statistics st{};
    socklen_t len = sizeof st;
    if (::getsockopt(q.fd, SOL_XDP, XDP_STATISTICS, &st, &len) != 0) return;
    // The kernel's counts are totals since bind, so they replace ours.
    QueueCounters& c = counters_of(queue);
    c.rx_dropped = st.rx_dropped + st.rx_ring_full;
    c.tx_dropped = st.tx_invalid_descs;
}

void check_before_open(const Config& cfg, const PortOptions& options) {
    const int ifindex = afxdp::interface_index(cfg.ifname);
    if (const std::string missing = afxdp::missing_capabilities_of_self(); !missing.empty()) {
        throw PortError(
            fmt::format("afxdp:{} needs root or the capabilities CAP_NET_ADMIN, CAP_NET_RAW and CAP_BPF; "
                        "this process lacks {} (run as root, or setcap "
                        "cap_net_admin,cap_net_raw,cap_bpf,cap_ipc_lock+ep on the binary)",
                        cfg.ifname, missing));
    }
    const afxdp::QueueCount qc = afxdp::rx_queue_count(cfg.ifname, ifindex);
    if (cfg.first_queue + cfg.queues > qc.count) {
        throw PortError(
            fmt::format("afxdp:{}: queue index {} is out of range: '{}' has {} rx queue(s) (0..{}, from {}); "
                        "lower queue= or queues=",
                        cfg.ifname, cfg.first_queue + cfg.queues - 1, cfg.ifname, qc.count, qc.count - 1, qc.source));
    }
    const unsigned mtu = afxdp::interface_mtu(cfg.ifname);
    const std::uint32_t headroom = std::max<std::uint32_t>(options.area.headroom, kXdpHeadroom);
    const std::uint32_t frame = options.area.frame_size;
    if (frame > headroom + kEthHeader && mtu + kEthHeader > frame - headroom) {
        const std::uint32_t max_mtu = frame - headroom - kEthHeader;
        throw PortError(
            fmt::format("afxdp:{}: MTU {} is too large for AF_XDP without multi-buffer: a {}-byte frame "
                        "with {} bytes of headroom carries an MTU of at most {} (ip link set dev {} mtu {})",
                        cfg.ifname, mtu, frame, headroom, max_mtu, cfg.ifname, max_mtu));
    }
}

}  // namespace

std::unique_ptr<Port> make_afxdp_port(const PortSpec& spec, const PortOptions& options) {
    const Config cfg = parse_config(spec);
    check_area_config(cfg, options);
    check_before_open(cfg, options);
    return std::make_unique<AfxdpPort>(spec, cfg, options);
}

}  // namespace kbnet::port
