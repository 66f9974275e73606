#include "port/memif/memif_port.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "kbnet/core/cache.hpp"
#include "kbnet/core/frame_pool.hpp"
#include "kbnet/core/log.hpp"
#include "port/memif/memif_handshake.hpp"
#include "port/memif/memif_session.hpp"
#include "port/memif/memif_socket.hpp"

namespace kbnet::port {
namespace {

using namespace memif;

constexpr int kRetryMs = 250;          // client: how often to look for a server that is not there
constexpr std::uint16_t kRegionBuffers = 1;  // client: region index of the buffer area
constexpr std::string_view kClosedReason = "interface closed";  // DISCONNECT of an orderly shutdown
// Server transmit: at most this many of the client's buffers per packet (a
// 9000-byte frame over 2048-byte buffers takes 5); more means buffers too
// small to be meant, and the connection is dropped.
constexpr std::uint16_t kMaxSegments = 64;

#if defined(__x86_64__) || defined(__i386__)
inline void cpu_relax() noexcept { __builtin_ia32_pause(); }
#else
inline void cpu_relax() noexcept {}
#endif

struct MemifSettings {
    std::string socket;
    bool server = true;
    HandshakeConfig handshake;
};

MemifSettings parse_settings(const PortSpec& spec) {
    MemifSettings s;
    s.socket = spec.target;
    s.server = spec.choice_or("role", "server", {"server", "client"}) == "server";
    s.handshake.id = static_cast<std::uint32_t>(spec.uint_or("id", 0, 0, 0xffffffffu));
    s.handshake.queues = static_cast<std::uint16_t>(spec.uint_or("queues", 1, 1, 256));
    s.handshake.log2_ring = static_cast<std::uint8_t>(spec.uint_or("ring", 10, 1, kMaxLog2Ring));
    s.handshake.secret = spec.string_or("secret", "");
    if (s.handshake.secret.size() > kSecretSize) {
        throw PortError(fmt::format("port '{}': secret is {} bytes; memif allows at most {}", spec.text,
                                    s.handshake.secret.size(), kSecretSize));
    }
    s.handshake.interrupt = spec.choice_or("mode", "poll", {"poll", "interrupt"}) == "interrupt";
    return s;
}

class MemifPort final : public Port {
  public:
    MemifPort(const PortSpec& spec, MemifSettings settings, const BufferAreaConfig& area_config)
        : Port(spec.text, settings.handshake.queues),
          settings_(std::move(settings)),
          area_(area_config),
          capacity_(area_.frame_size() - area_.headroom()) {
        const std::uint32_t per_queue = area_config.frame_count / settings_.handshake.queues;
        const std::uint32_t ring = 1u << settings_.handshake.log2_ring;
        // A client keeps a whole receive ring posted and a whole transmit
        // ring in flight, and the caller holds bursts besides.
        const std::uint32_t need = settings_.server ? 2u * kDefaultBurst : 2u * ring + 4u * kDefaultBurst;
        if (per_queue < need) {
            throw PortError(fmt::format("port '{}': {} frames per queue, but ring={} needs at least {}; "
                                        "lower ring= or raise the frame count",
                                        spec.text, per_queue, settings_.handshake.log2_ring, need));
        }
        if (area_.size_bytes() > 0xffffffffu) {
            throw PortError(fmt::format("port '{}': a memif region is addressed with 32-bit offsets; the buffer "
                                        "area of {} MiB is too large (lower the frame count)",
                                        spec.text, area_.size_bytes() >> 20));
        }
        for (std::uint16_t q = 0; q < settings_.handshake.queues; ++q) {
            auto queue = std::make_unique<Queue>();
            queue->pool = std::make_unique<FramePool>(area_, q * per_queue, per_queue);
            queue->slots.assign(ring, PacketHandle{});
            queue->inflight.assign(ring, PacketHandle{});
            queues_.push_back(std::move(queue));
        }
        settings_.handshake.buffer_fd = area_.fd();
        settings_.handshake.buffer_base = area_.base();
        settings_.handshake.buffer_size = area_.size_bytes();
        wake_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
        if (!wake_.valid()) throw PortError(fmt::format("memif: eventfd: {}", std::strerror(errno)));
        if (settings_.server) listen_ = listen_control(settings_.socket);
        KBNET_LOG_INFO("memif {}: {} for interface id {}, {} queue(s), rings of {} slots, {}-byte buffers, {} mode",
                       settings_.socket, settings_.server ? "server listening" : "client connecting",
                       settings_.handshake.id, settings_.handshake.queues, ring, capacity_,
                       settings_.handshake.interrupt ? "interrupt" : "poll");
        control_ = std::thread([this] { control_loop(); });
    }

    ~MemifPort() override {
        stop_.store(true, std::memory_order_release);
        wake();
        if (control_.joinable()) control_.join();
        if (conn_.valid()) (void)send_message(conn_.get(), make_disconnect(kClosedReason));
        retire_session();
        if (settings_.server) unlink_control(settings_.socket);
    }

    std::string_view kind() const noexcept override { return "memif"; }
    Capabilities capabilities() const noexcept override {
        Capabilities c;
        c.rx_queues = c.tx_queues = settings_.handshake.queues;
        c.zero_copy = !settings_.server;
        c.max_frame = capacity_;
        return c;
    }
    const BufferArea& area() const noexcept override { return area_; }
    bool link_up() const noexcept override { return session_.load(std::memory_order_acquire) != nullptr; }

    std::uint16_t rx_burst(std::uint16_t queue, std::span<PacketHandle> out) noexcept override {
        Queue& q = *queues_[queue];
        Session* s = enter(q, queue);
        std::uint16_t n = 0;
        if (s != nullptr && queue < s->c2s.size()) {
            n = settings_.server ? server_rx(q, queue, *s, out) : client_rx(q, queue, *s, out);
        }
        leave(q);
        return n;
    }

    std::uint16_t tx_burst(std::uint16_t queue, std::span<const PacketHandle> pkts) noexcept override {
        Queue& q = *queues_[queue];
        Session* s = enter(q, queue);
        std::uint16_t n = 0;
        if (s != nullptr && queue < s->c2s.size()) {
            n = settings_.server ? server_tx(q, queue, *s, pkts) : client_tx(q, queue, *s, pkts);
        }
        leave(q);
        counters_of(queue).tx_busy += pkts.size() - n;
        return n;
    }

    std::uint16_t alloc(std::uint16_t queue, std::span<PacketHandle> out) noexcept override {
        Queue& q = *queues_[queue];
        if (!settings_.server && q.pool->available() < out.size()) {
            // Frames the server has finished with come back first.
            Session* s = enter(q, queue);
            if (s != nullptr && queue < s->c2s.size()) (void)client_reclaim(q, queue, *s, s->c2s[queue]);
            leave(q);
        }
        return static_cast<std::uint16_t>(q.pool->alloc_burst(out));
    }

    void free(std::uint16_t queue, std::span<const PacketHandle> pkts) noexcept override {
        counters_of(queue).rx_errors += queues_[queue]->pool->free_owned(pkts);
    }

    bool wait_rx(std::uint16_t queue, int timeout_ms) noexcept override {
        if (!settings_.handshake.interrupt) return false;
        Queue& q = *queues_[queue];
        Session* s = enter(q, queue);
        if (s == nullptr || queue >= s->c2s.size()) {
            leave(q);
            // No peer: nothing can arrive; sleep rather than spin.
            std::this_thread::sleep_for(std::chrono::milliseconds(std::min(timeout_ms, 10)));
            return true;
        }
        const RingRef& r = settings_.server ? s->c2s[queue] : s->s2c[queue];
        // Our receive ring's MASK_INT is clear in interrupt mode, so the peer
        // writes the eventfd after every burst it publishes. Reset the
        // counter, then look at the ring: a burst published after the look
        // leaves the eventfd readable and poll() returns at once (no lost
        // wakeup).
        std::uint64_t v;
        (void)!::read(r.eventfd, &v, sizeof v);
        // The read may have taken the control thread's retirement kick
        // (it clears session_ before kicking): look again before sleeping.
        if (session_.load(std::memory_order_seq_cst) != s) {
            leave(q);
            return true;
        }
        const std::uint16_t published = settings_.server ? r.head().load(std::memory_order_acquire)
                                                         : r.tail().load(std::memory_order_acquire);
        if (published == q.rx_next && r.eventfd >= 0) {
            // The control thread kicks this eventfd before it waits for the
            // queue to leave, so retiring a session never waits on us.
            pollfd p{r.eventfd, POLLIN, 0};
            (void)::poll(&p, 1, timeout_ms);
        }
        leave(q);
        return true;
    }

    void flush(std::uint16_t queue) noexcept override {
        Queue& q = *queues_[queue];
        Session* s = enter(q, queue);
        if (s != nullptr && queue < s->c2s.size() && !settings_.server) {
            (void)client_reclaim(q, queue, *s, s->c2s[queue]);
            client_refill(q, s->s2c[queue]);
        }
        leave(q);
    }

  private:
    // Per-queue state, touched only by the queue's thread (busy excepted).
    struct alignas(kCacheLine) Queue {
        // 1 while the queue's thread uses the session (see enter/leave).
        std::atomic<std::uint32_t> busy{0};
        std::uint64_t generation = 0;  // the session the indices below belong to
        std::uint16_t rx_next = 0;     // next slot to receive from
        std::uint16_t rx_posted = 0;   // client: S2C head (slots up to here hold our frames)
        std::uint16_t mask = 0;        // the session's ring mask (the agreed size may be below ours)
        std::uint16_t tx_next = 0;     // next slot to transmit into
        std::uint16_t tx_done = 0;     // client: C2S slots before this were returned by the server
        std::vector<PacketHandle> slots;     // client: frame posted in each S2C slot
        std::vector<PacketHandle> inflight;  // client: frame sent in each C2S slot
        std::array<Descriptor, 64> segs;     // server tx: one packet's validated descriptor copies
        std::unique_ptr<FramePool> pool;
    };

    // ---- session hand-over between the control thread and the data path.
    //
    // The control thread retires a session by clearing session_ and then
    // waiting until no queue is busy; a queue marks itself busy before it
    // reads session_. Both sides store, then load the other's variable, with
    // seq_cst ordering (Dekker's pattern): either the queue sees nullptr, or
    // the control thread sees it busy and waits. The cost is one locked
    // store per burst, not per packet.
    Session* enter(Queue& q, std::uint16_t queue) noexcept {
        q.busy.store(1, std::memory_order_seq_cst);
        Session* s = session_.load(std::memory_order_seq_cst);
        if (KBNET_UNLIKELY(s == nullptr || s->generation != q.generation)) {
            begin_generation(q, queue, s);
        }
        if (KBNET_UNLIKELY(s != nullptr && s->fault.load(std::memory_order_relaxed) != Fault::none)) return nullptr;
        return s;
    }
    static void leave(Queue& q) noexcept { q.busy.store(0, std::memory_order_release); }

    // The connection changed under this queue: the frames it had in the old
    // rings are ours again (they live in our area, which outlives every
    // session), and the ring indices start over.
    void begin_generation(Queue& q, std::uint16_t queue, Session* s) noexcept {
        if (q.generation != 0 && !settings_.server) {
            // The slots were filled with the old session's mask (its ring
            // may have been smaller than ours).
            for (std::uint16_t i = q.rx_next; i != q.rx_posted; ++i) q.pool->free(q.slots[i & q.mask]);
            for (std::uint16_t i = q.tx_done; i != q.tx_next; ++i) q.pool->free(q.inflight[i & q.mask]);
        }
        q.rx_next = q.rx_posted = q.tx_next = q.tx_done = 0;
        q.generation = s != nullptr ? s->generation : 0;
        q.mask = s != nullptr && queue < s->s2c.size() ? s->s2c[queue].mask() : 0;
        if (s != nullptr && !settings_.server && queue < s->s2c.size()) client_refill(q, s->s2c[queue]);
    }

    void raise_fault(Session& s, Fault f, std::uint16_t queue) noexcept {
        Fault expected = Fault::none;
        if (s.fault.compare_exchange_strong(expected, f)) {
            ++counters_of(queue).rx_errors;
            wake();
        }
    }
    void wake() noexcept {
        const std::uint64_t one = 1;
        (void)!::write(wake_.get(), &one, sizeof one);
    }
    static void kick(const RingRef& r) noexcept {
        // The receiver polls (MASK_INT) in the common case: no syscall.
        if ((r.flags().load(std::memory_order_relaxed) & ring::kFlagMaskInterrupt) != 0 || r.eventfd < 0) return;
        const std::uint64_t one = 1;
        (void)!::write(r.eventfd, &one, sizeof one);
    }

    // ---- client data path: zero copy. S2C slots hold frames we posted; the
    // server fills them and moves tail. C2S slots point at frames we send;
    // the server copies them out and moves tail, which hands them back.

    std::uint16_t client_rx(Queue& q, std::uint16_t queue, Session& s, std::span<PacketHandle> out) noexcept {
        const RingRef& r = s.s2c[queue];
        // Acquire: the descriptors the server wrote before moving tail.
        const std::uint16_t tail = r.tail().load(std::memory_order_acquire);
        const auto avail = static_cast<std::uint16_t>(tail - q.rx_next);
        if (KBNET_UNLIKELY(avail > static_cast<std::uint16_t>(q.rx_posted - q.rx_next))) {
            raise_fault(s, Fault::bad_index, queue);
            return 0;
        }
        const std::uint16_t mask = r.mask();
        std::uint16_t n = 0;
        std::uint16_t used = 0;
        std::uint64_t bytes = 0;
        QueueCounters& c = counters_of(queue);
        while (used < avail && n < out.size()) {
            const std::uint16_t slot = static_cast<std::uint16_t>(q.rx_next + used);
            const Descriptor d = r.read(slot);
            if (KBNET_UNLIKELY((d.flags & kDescFlagNext) != 0)) {
                // A packet longer than our buffers, split by the server:
                // one handle cannot carry it. Drop the chain, count it.
                std::uint16_t len = 1;
                while ((r.read(static_cast<std::uint16_t>(slot + len - 1)).flags & kDescFlagNext) != 0) {
                    if (static_cast<std::uint16_t>(used + len) >= avail) {
                        raise_fault(s, Fault::bad_index, queue);  // tail moved inside a packet
                        break;
                    }
                    ++len;
                }
                if (s.fault.load(std::memory_order_relaxed) != Fault::none) break;
                for (std::uint16_t i = 0; i < len; ++i) q.pool->free(q.slots[(slot + i) & mask]);
                used = static_cast<std::uint16_t>(used + len);
                ++c.rx_dropped;
                KBNET_LOG_RATELIMITED(LogLevel::warn, 1'000'000'000,
                                      "memif {}: dropped a chained packet longer than our {}-byte buffers "
                                      "(raise buffer=)",
                                      settings_.socket, capacity_);
                continue;
            }
            if (KBNET_UNLIKELY(d.length > capacity_)) {
                raise_fault(s, Fault::bad_descriptor, queue);
                break;
            }
            PacketHandle h = q.slots[slot & mask];
            h.length = static_cast<std::uint16_t>(d.length);
            out[n++] = h;
            bytes += d.length;
            ++used;
        }
        q.rx_next = static_cast<std::uint16_t>(q.rx_next + used);
        c.rx_packets += n;
        c.rx_bytes += bytes;
        client_refill(q, r);
        return n;
    }

    void client_refill(Queue& q, const RingRef& r) noexcept {
        const std::uint32_t room = r.size() - static_cast<std::uint16_t>(q.rx_posted - q.rx_next);
        // Refill in bursts: a head update per burst, not per packet.
        if (room < kDefaultBurst && room != r.size()) return;
        std::array<PacketHandle, 256> fresh;
        std::uint32_t left = room;
        const std::uint16_t mask = r.mask();
        while (left > 0) {
            const std::uint32_t got =
                q.pool->alloc_burst(std::span<PacketHandle>(fresh.data(), std::min<std::uint32_t>(left, 256)));
            if (got == 0) break;
            for (std::uint32_t i = 0; i < got; ++i) {
                Descriptor* d = r.desc(q.rx_posted);
                d->flags = 0;
                d->region = kRegionBuffers;
                d->offset = static_cast<std::uint32_t>(area_.address(fresh[i]));
                d->length = capacity_;
                d->metadata = 0;
                q.slots[q.rx_posted & mask] = fresh[i];
                ++q.rx_posted;
            }
            left -= got;
        }
        // Release: the descriptors before the head that announces them.
        r.head().store(q.rx_posted, std::memory_order_release);
    }

    // Frees the frames of C2S slots the server has consumed. False on a fault.
    bool client_reclaim(Queue& q, std::uint16_t queue, Session& s, const RingRef& r) noexcept {
        const std::uint16_t tail = r.tail().load(std::memory_order_acquire);
        const auto done = static_cast<std::uint16_t>(tail - q.tx_done);
        if (KBNET_UNLIKELY(done > static_cast<std::uint16_t>(q.tx_next - q.tx_done))) {
            raise_fault(s, Fault::bad_index, queue);
            return false;
        }
        const std::uint16_t mask = r.mask();
        std::array<PacketHandle, kDefaultBurst> batch;
        std::size_t k = 0;
        for (std::uint16_t i = 0; i < done; ++i) {
            batch[k++] = q.inflight[(q.tx_done + i) & mask];
            if (k == batch.size()) {
                q.pool->free(std::span<const PacketHandle>(batch.data(), k));
                k = 0;
            }
        }
        if (k > 0) q.pool->free(std::span<const PacketHandle>(batch.data(), k));
        q.tx_done = tail;
        return true;
    }

    std::uint16_t client_tx(Queue& q, std::uint16_t queue, Session& s, std::span<const PacketHandle> pkts) noexcept {
        const RingRef& r = s.c2s[queue];
        if (!client_reclaim(q, queue, s, r)) return 0;
        const std::uint32_t space = r.size() - static_cast<std::uint16_t>(q.tx_next - q.tx_done);
        const std::uint32_t want = std::min<std::uint32_t>(space, static_cast<std::uint32_t>(pkts.size()));
        const std::uint16_t mask = r.mask();
        std::uint16_t n = 0;
        std::uint64_t bytes = 0;
        for (; n < want; ++n) {
            const PacketHandle h = pkts[n];
            // Only this queue's frames: the server reads them from region 1,
            // and they come back to this queue's pool.
            if (KBNET_UNLIKELY(!q.pool->owns(h.frame) || !area_.contains(h))) break;
            Descriptor* d = r.desc(q.tx_next);
            d->flags = 0;
            d->region = kRegionBuffers;
            d->offset = static_cast<std::uint32_t>(area_.address(h));
            d->length = h.length;
            d->metadata = 0;
            q.inflight[q.tx_next & mask] = h;
            ++q.tx_next;
            bytes += h.length;
        }
        if (n > 0) {
            // Release: descriptors before the head that publishes them.
            r.head().store(q.tx_next, std::memory_order_release);
            kick(r);
        }
        QueueCounters& c = counters_of(queue);
        c.tx_packets += n;
        c.tx_bytes += bytes;
        return n;
    }

    // ---- server data path: copies. C2S descriptors name the client's
    // buffers, read and validated here; S2C descriptors are empty buffers
    // the client posted (length = their capacity), filled here.

    std::uint16_t server_rx(Queue& q, std::uint16_t queue, Session& s, std::span<PacketHandle> out) noexcept {
        const RingRef& r = s.c2s[queue];
        const std::uint16_t head = r.head().load(std::memory_order_acquire);
        const auto avail = static_cast<std::uint16_t>(head - q.rx_next);
        if (KBNET_UNLIKELY(avail > r.size())) {
            raise_fault(s, Fault::bad_index, queue);
            return 0;
        }
        if (avail == 0) return 0;
        std::array<PacketHandle, 256> frames;
        const std::uint32_t want = std::min<std::uint32_t>({avail, static_cast<std::uint32_t>(out.size()), 256});
        const std::uint32_t got = q.pool->alloc_burst(std::span<PacketHandle>(frames.data(), want));
        QueueCounters& c = counters_of(queue);
        std::uint16_t n = 0;
        std::uint16_t used = 0;
        std::uint64_t bytes = 0;
        bool fault = false;
        while (n < got && used < avail && !fault) {
            PacketHandle h = frames[n];
            std::uint8_t* dst = area_.data(h);
            std::uint32_t len = 0;
            bool too_long = false;
            std::uint16_t segs = 0;
            for (;;) {
                if (static_cast<std::uint16_t>(used + segs) >= avail) {
                    fault = true;  // head moved inside a chained packet
                    raise_fault(s, Fault::bad_index, queue);
                    break;
                }
                const Descriptor d = r.read(static_cast<std::uint16_t>(q.rx_next + used + segs));
                ++segs;
                if (KBNET_UNLIKELY(!s.contains(d.region, d.offset, d.length))) {
                    fault = true;
                    raise_fault(s, Fault::bad_descriptor, queue);
                    break;
                }
                if (d.length > capacity_ - len) {  // (no u32 overflow: len <= capacity_)
                    too_long = true;
                } else if (!too_long) {
                    std::memcpy(dst + len, s.at(d.region, d.offset), d.length);
                    len += d.length;
                }
                if ((d.flags & kDescFlagNext) == 0) break;
            }
            if (fault) break;
            used = static_cast<std::uint16_t>(used + segs);
            if (KBNET_UNLIKELY(too_long)) {
                ++c.rx_dropped;
                KBNET_LOG_RATELIMITED(LogLevel::warn, 1'000'000'000,
                                      "memif {}: dropped a packet longer than our {}-byte frames (raise buffer=)",
                                      settings_.socket, capacity_);
                continue;  // the frame is reused for the next packet
            }
            h.length = static_cast<std::uint16_t>(len);
            out[n++] = h;
            bytes += len;
        }
        if (got > n) q.pool->free(std::span<const PacketHandle>(frames.data() + n, got - n));
        if (!fault) {
            q.rx_next = static_cast<std::uint16_t>(q.rx_next + used);
            // Release: we are done reading those buffers before the client
            // may reuse them.
            r.tail().store(q.rx_next, std::memory_order_release);
        }
        c.rx_packets += n;
        c.rx_bytes += bytes;
        // On a fault the packets copied before it are good and delivered; the
        // session is dead, so its ring indices no longer matter.
        return n;
    }

    std::uint16_t server_tx(Queue& q, std::uint16_t queue, Session& s, std::span<const PacketHandle> pkts) noexcept {
        const RingRef& r = s.s2c[queue];
        const std::uint16_t head = r.head().load(std::memory_order_acquire);
        const auto space = static_cast<std::uint16_t>(head - q.tx_next);
        if (KBNET_UNLIKELY(space > r.size())) {
            raise_fault(s, Fault::bad_index, queue);
            return 0;
        }
        std::uint16_t n = 0;
        std::uint16_t used = 0;
        std::uint64_t bytes = 0;
        bool fault = false;
        for (; n < pkts.size(); ++n) {
            const PacketHandle h = pkts[n];
            if (KBNET_UNLIKELY(!area_.contains(h))) break;
            // First pass: does the packet fit in the posted buffers left?
            // Each descriptor is read once into `segs_` and validated there;
            // the copy pass uses only those copies, so a client rewriting its
            // descriptors meanwhile cannot redirect our writes.
            std::uint32_t room = 0;
            std::uint16_t segs = 0;
            while (room < h.length || segs == 0) {
                if (static_cast<std::uint16_t>(used + segs) >= space) break;
                if (segs == kMaxSegments) {
                    fault = true;  // buffers too small to ever hold the packet
                    break;
                }
                const Descriptor d = r.read(static_cast<std::uint16_t>(q.tx_next + used + segs));
                if (KBNET_UNLIKELY(d.length == 0 || !s.contains(d.region, d.offset, d.length))) {
                    fault = true;
                    break;
                }
                q.segs[segs++] = d;
                room += d.length;
            }
            if (fault || room < h.length || segs == 0) break;
            // Second pass: copy, chaining with NEXT; only length and flags are
            // written back.
            const std::uint8_t* src = area_.data(h);
            std::uint32_t left = h.length;
            for (std::uint16_t i = 0; i < segs; ++i) {
                const Descriptor& d = q.segs[i];
                const std::uint32_t chunk = std::min(left, d.length);
                std::memcpy(s.at(d.region, d.offset), src, chunk);
                src += chunk;
                left -= chunk;
                Descriptor* shared = r.desc(static_cast<std::uint16_t>(q.tx_next + used + i));
                std::atomic_ref<std::uint32_t>(shared->length).store(chunk, std::memory_order_relaxed);
                std::atomic_ref<std::uint16_t>(shared->flags)
                    .store(i + 1 < segs ? kDescFlagNext : 0, std::memory_order_relaxed);
            }
            used = static_cast<std::uint16_t>(used + segs);
            bytes += h.length;
        }
        if (fault) raise_fault(s, Fault::bad_descriptor, queue);
        if (used > 0) {
            q.tx_next = static_cast<std::uint16_t>(q.tx_next + used);
            // Release: the copied bytes and descriptors before the tail.
            r.tail().store(q.tx_next, std::memory_order_release);
            kick(r);
        }
        // Copied: the frames are free again.
        counters_of(queue).rx_errors += q.pool->free_owned(pkts.first(n));
        QueueCounters& c = counters_of(queue);
        c.tx_packets += n;
        c.tx_bytes += bytes;
        return n;
    }

    // ---- control thread --------------------------------------------------

    void control_loop() noexcept {
        std::uint64_t last_refusal_log = 0;
        while (!stop_.load(std::memory_order_acquire)) {
            if (!settings_.server && !conn_.valid()) {
                conn_ = connect_control(settings_.socket);
                if (conn_.valid()) client_hs_ = std::make_unique<ClientHandshake>(settings_.handshake);
            }
            std::array<pollfd, 3> fds{};
            nfds_t nfds = 0;
            fds[nfds++] = {wake_.get(), POLLIN, 0};
            if (listen_.valid()) fds[nfds++] = {listen_.get(), POLLIN, 0};
            const nfds_t conn_index = nfds;
            if (conn_.valid()) fds[nfds++] = {conn_.get(), POLLIN, 0};
            const int timeout = conn_.valid() || settings_.server ? -1 : kRetryMs;
            if (::poll(fds.data(), nfds, timeout) < 0 && errno != EINTR) {
                KBNET_LOG_ERROR("memif {}: poll: {}", settings_.socket, std::strerror(errno));
                std::this_thread::sleep_for(std::chrono::milliseconds(kRetryMs));
                continue;
            }
            if ((fds[0].revents & POLLIN) != 0) {
                std::uint64_t v;
                (void)!::read(wake_.get(), &v, sizeof v);
                Session* s = session_.load(std::memory_order_acquire);
                if (s != nullptr && s->fault.load() != Fault::none) {
                    drop(fmt::format("protocol error in shared memory: {}", fault_reason(s->fault.load())), true);
                }
            }
            if (listen_.valid() && (fds[1].revents & POLLIN) != 0) accept_peer();
            if (conn_.valid() && conn_index < nfds && fds[conn_index].revents != 0) {
                read_peer(last_refusal_log);
            }
        }
    }

    void accept_peer() noexcept {
        Fd peer(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
        if (!peer.valid()) return;
        if (conn_.valid()) {
            KBNET_LOG_WARN("memif {}: refusing a second client: interface id {} is already connected",
                           settings_.socket, settings_.handshake.id);
            (void)send_message(peer.get(), make_disconnect("interface already connected"));
            return;
        }
        conn_ = std::move(peer);
        server_hs_ = std::make_unique<ServerHandshake>(settings_.handshake);
        if (!send_message(conn_.get(), server_hs_->hello())) drop("cannot send HELLO", false);
    }

    void read_peer(std::uint64_t& last_refusal_log) noexcept {
        // Drain every message queued (a client sends its setup back to back
        // only after each ACK, but DISCONNECT and close may follow quickly).
        for (;;) {
            Message m{};
            Fd fd;
            std::size_t size = 0;
            const RecvStatus st = recv_message(conn_.get(), m, fd, size);
            switch (st) {
                case RecvStatus::would_block: return;
                case RecvStatus::closed:
                    drop("the peer closed the connection", false);
                    return;
                case RecvStatus::error:
                    drop(fmt::format("control socket error: {}", std::strerror(errno)), false);
                    return;
                case RecvStatus::bad_size:
                    drop(fmt::format("control message of {} bytes (memif messages are {})", size, kMessageSize), true);
                    return;
                case RecvStatus::bad_fds:
                    drop("control message with more than one file descriptor", true);
                    return;
                case RecvStatus::ok: break;
            }
            Step step = settings_.server ? server_hs_->on_message(m, std::move(fd))
                                         : client_hs_->on_message(m, std::move(fd));
            for (const auto& [msg, attach] : step.send) {
                if (!send_message(conn_.get(), msg, attach)) {
                    drop(fmt::format("cannot send to the peer: {}", std::strerror(errno)), false);
                    return;
                }
            }
            if (!step.peer_said.empty()) {
                const std::uint64_t now = coarse_now_ns();
                if (step.peer_said.starts_with(kClosedReason)) {
                    KBNET_LOG_INFO("memif {}: the peer disconnected: {}", settings_.socket, step.peer_said);
                } else if (session_.load() != nullptr || step.peer_said != last_refusal_ ||
                           now - last_refusal_log > 5'000'000'000ull) {
                    // A refusal: the client retries, so a repeat of the same
                    // reason is said once in a while, a new reason at once.
                    KBNET_LOG_WARN("memif {}: the peer disconnected: {}", settings_.socket, step.peer_said);
                    last_refusal_log = now;
                    last_refusal_ = step.peer_said;
                }
                drop("", false);
                return;
            }
            if (!step.refuse.empty()) {
                drop(step.refuse, true);
                return;
            }
            if (step.connected) publish();
        }
    }

    void publish() noexcept {
        std::unique_ptr<Session> s = settings_.server ? server_hs_->take_session() : client_hs_->take_session();
        const std::size_t pairs = s->c2s.size();
        current_ = std::move(s);
        session_.store(current_.get(), std::memory_order_seq_cst);
        KBNET_LOG_INFO("memif {}: connected ({} as {}, {} queue pair(s))", settings_.socket,
                       settings_.server ? "server" : "client", settings_.handshake.id, pairs);
    }

    // Ends the connection: tells the peer why (if we are the one refusing),
    // logs it, and frees everything the connection held.
    void drop(const std::string& why, bool tell_peer) noexcept {
        if (!why.empty()) {
            if (tell_peer) {
                KBNET_LOG_WARN("memif {}: refusing the peer: {}", settings_.socket, why);
                (void)send_message(conn_.get(), make_disconnect(why));
            } else if (session_.load() != nullptr) {
                KBNET_LOG_WARN("memif {}: disconnected: {}", settings_.socket, why);
            }
        }
        const bool was_connected = session_.load() != nullptr;
        retire_session();
        conn_.reset();
        server_hs_.reset();
        client_hs_.reset();
        if (was_connected) {
            KBNET_LOG_INFO("memif {}: {}", settings_.socket,
                           settings_.server ? "waiting for a client" : "reconnecting");
        }
        // A client that was refused does not hammer the server.
        if (!settings_.server && !stop_.load()) {
            pollfd p{wake_.get(), POLLIN, 0};
            (void)::poll(&p, 1, kRetryMs * 4);
        }
    }

    // Unpublishes the session and waits until no queue still uses it; its
    // memory and descriptors go with it.
    void retire_session() noexcept {
        if (current_ == nullptr) return;
        session_.store(nullptr, std::memory_order_seq_cst);
        // Wake any queue asleep in wait_rx on this session's eventfds.
        for (const auto* rings : {&current_->c2s, &current_->s2c}) {
            for (const RingRef& r : *rings) {
                const std::uint64_t one = 1;
                if (r.eventfd >= 0) (void)!::write(r.eventfd, &one, sizeof one);
            }
        }
        for (auto& q : queues_) {
            while (q->busy.load(std::memory_order_seq_cst) != 0) cpu_relax();
        }
        current_.reset();
    }

    MemifSettings settings_;
    BufferArea area_;
    const std::uint32_t capacity_;  // bytes of packet a frame holds
    std::vector<std::unique_ptr<Queue>> queues_;
    std::atomic<Session*> session_{nullptr};
    std::unique_ptr<Session> current_;  // control thread: the session behind session_
    Fd wake_;                           // wakes the control thread (stop, data-path fault)
    Fd listen_;
    Fd conn_;
    std::unique_ptr<ServerHandshake> server_hs_;
    std::unique_ptr<ClientHandshake> client_hs_;
    std::string last_refusal_;  // control thread: the peer's last refusal reason, to log changes at once
    std::atomic<bool> stop_{false};
    std::thread control_;
};

}  // namespace

std::unique_ptr<Port> make_memif_port(const PortSpec& spec, const PortOptions& options) {
    MemifSettings settings = parse_settings(spec);
    BufferAreaConfig area = options.area;
    const std::uint64_t buffer = spec.uint_or("buffer", area.frame_size, 256, 65536);
    if ((buffer & (buffer - 1)) != 0) {
        throw PortError(fmt::format("port '{}': buffer={} must be a power of two (256 to 65536)", spec.text, buffer));
    }
    area.frame_size = static_cast<std::uint32_t>(buffer);
    const std::uint64_t total = std::uint64_t{area.frame_count} * settings.handshake.queues;
    if (total > (1u << 24)) throw PortError(fmt::format("port '{}': too many frames; lower queues=", spec.text));
    area.frame_count = static_cast<std::uint32_t>(total);
    // The client shares its area with the server; a server's stays private.
    area.shared = !settings.server;
    return std::make_unique<MemifPort>(spec, std::move(settings), area);
}

}  // namespace kbnet::port
