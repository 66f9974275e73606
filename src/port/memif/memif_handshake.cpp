#include "port/memif/memif_handshake.hpp"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "kbnet/core/log.hpp"

namespace kbnet::port::memif {
namespace {

std::atomic<std::uint64_t> g_generation{0};

// The 24-byte secret field as sent: the text, NUL-padded.
std::array<std::uint8_t, kSecretSize> padded_secret(std::string_view s) {
    std::array<std::uint8_t, kSecretSize> out{};
    std::memcpy(out.data(), s.data(), std::min(s.size(), out.size()));
    return out;
}

Step refuse(std::string why) {
    Step s;
    s.refuse = std::move(why);
    return s;
}

Step peer_disconnected(const Message& m) {
    Step s;
    const std::string_view text = get_text(m, disconnect::kString, kDisconnectStringSize);
    s.peer_said = fmt::format("{} (code {})", text.empty() ? "no reason given" : text,
                              get<std::uint32_t>(m, disconnect::kCode));
    return s;
}

std::string type_name(std::uint16_t type) {
    const std::string_view n = msg_type_name(type);
    return n.empty() ? fmt::format("unknown type {}", type) : std::string(n);
}

Message ack() { return make_message(MsgType::ack); }

std::uint64_t page_round(std::uint64_t v) { return (v + 4095) & ~std::uint64_t{4095}; }

}  // namespace

std::string_view msg_type_name(std::uint16_t type) noexcept {
    switch (static_cast<MsgType>(type)) {
        case MsgType::none: return "NONE";
        case MsgType::ack: return "ACK";
        case MsgType::hello: return "HELLO";
        case MsgType::init: return "INIT";
        case MsgType::add_region: return "ADD_REGION";
        case MsgType::add_ring: return "ADD_RING";
        case MsgType::connect: return "CONNECT";
        case MsgType::connected: return "CONNECTED";
        case MsgType::disconnect: return "DISCONNECT";
    }
    return {};
}

const char* fault_reason(Fault f) noexcept {
    switch (f) {
        case Fault::none: return "no fault";
        case Fault::bad_descriptor: return "the peer wrote a descriptor pointing outside its regions";
        case Fault::bad_index: return "the peer moved a ring's head or tail by more than the ring holds";
        case Fault::too_long: return "the peer sent a chained packet longer than our buffers (raise buffer=)";
    }
    return "unknown fault";
}

Message make_disconnect(std::string_view reason) noexcept {
    Message m = make_message(MsgType::disconnect);
    put<std::uint32_t>(m, disconnect::kCode, 1);
    put_text(m, disconnect::kString, kDisconnectStringSize, reason);
    return m;
}

// ---- server ----------------------------------------------------------------

Message ServerHandshake::hello() const {
    Message m = make_message(MsgType::hello);
    put_text(m, hello::kName, kNameSize, config_.name);
    put<std::uint16_t>(m, hello::kMinVersion, kVersion);
    put<std::uint16_t>(m, hello::kMaxVersion, kVersion);
    put<std::uint16_t>(m, hello::kMaxRegion, kMaxRegions - 1);
    put<std::uint16_t>(m, hello::kMaxS2CRing, static_cast<std::uint16_t>(config_.queues - 1));
    put<std::uint16_t>(m, hello::kMaxC2SRing, static_cast<std::uint16_t>(config_.queues - 1));
    put<std::uint8_t>(m, hello::kMaxLog2RingSize, kMaxLog2Ring);
    return m;
}

Step ServerHandshake::on_message(const Message& m, Fd fd) {
    const std::uint16_t type = get<std::uint16_t>(m, 0);
    if (type == static_cast<std::uint16_t>(MsgType::disconnect)) {
        state_ = State::failed;
        return peer_disconnected(m);
    }
    Step s;
    switch (state_) {
        case State::want_init:
            if (type == static_cast<std::uint16_t>(MsgType::init)) {
                s = on_init(m);
            } else {
                s = refuse(fmt::format("expected INIT, got {}", type_name(type)));
            }
            break;
        case State::want_setup:
            if (type == static_cast<std::uint16_t>(MsgType::add_region)) {
                s = on_add_region(m, std::move(fd));
            } else if (type == static_cast<std::uint16_t>(MsgType::add_ring)) {
                s = on_add_ring(m, std::move(fd));
            } else if (type == static_cast<std::uint16_t>(MsgType::connect)) {
                s = on_connect();
            } else {
                s = refuse(fmt::format("expected ADD_REGION, ADD_RING or CONNECT, got {}", type_name(type)));
            }
            break;
        case State::connected:
            s = refuse(fmt::format("unexpected {} on a connected interface", type_name(type)));
            break;
        case State::failed:
            s = refuse("connection already refused");
            break;
    }
    if (!s.refuse.empty()) state_ = State::failed;
    return s;
}

Step ServerHandshake::on_init(const Message& m) {
    const auto version = get<std::uint16_t>(m, init::kVersion);
    if (version != kVersion) {
        return refuse(fmt::format("memif version {}.{} not supported (we speak 2.0)", version >> 8, version & 0xff));
    }
    const auto id = get<std::uint32_t>(m, init::kId);
    if (id != config_.id) return refuse(fmt::format("no interface with id {} here (this one is id {})", id, config_.id));
    if (get<std::uint8_t>(m, init::kMode) != kModeEthernet) return refuse("only ethernet mode is supported");
    const auto ours = padded_secret(config_.secret);
    if (std::memcmp(ours.data(), m.data() + init::kSecret, kSecretSize) != 0) {
        return refuse(fmt::format("wrong secret for interface id {}", id));
    }
    have_c2s_.assign(config_.queues, false);
    have_s2c_.assign(config_.queues, false);
    session_->c2s.assign(config_.queues, RingRef{});
    session_->s2c.assign(config_.queues, RingRef{});
    KBNET_LOG_DEBUG("memif: client '{}' asks for interface id {}", get_text(m, init::kName, kNameSize), id);
    state_ = State::want_setup;
    Step s;
    s.send.emplace_back(ack(), -1);
    return s;
}

Step ServerHandshake::on_add_region(const Message& m, Fd fd) {
    const auto index = get<std::uint16_t>(m, add_region::kIndex);
    const auto size = get<std::uint64_t>(m, add_region::kSize);
    if (index != session_->regions.size()) {
        return refuse(fmt::format("region {} added out of order (expected {})", index, session_->regions.size()));
    }
    if (index >= kMaxRegions) return refuse(fmt::format("too many regions (at most {})", kMaxRegions));
    if (!fd.valid()) return refuse(fmt::format("region {} came without its memory file descriptor", index));
    // Descriptors address a region with 32-bit offsets and lengths, so a
    // larger region is never needed; refusing it keeps every offset + length
    // sum within 33 bits.
    if (size == 0 || size > (std::uint64_t{1} << 32)) {
        return refuse(fmt::format("region {} has an unusable size of {} bytes", index, size));
    }
    // The file must really be that large: mapping past its end would turn
    // the first access there into SIGBUS.
    struct stat st;
    if (::fstat(fd.get(), &st) != 0 || static_cast<std::uint64_t>(st.st_size) < size) {
        return refuse(fmt::format("region {} claims {} bytes but its file holds {}", index, size,
                                  static_cast<long long>(st.st_size)));
    }
    // A region the client can still shrink could turn our next copy into
    // SIGBUS. DPDK and kbnet seal theirs (F_SEAL_SHRINK); say so when a peer
    // does not.
    const int seals = ::fcntl(fd.get(), F_GET_SEALS);
    if (seals < 0 || (seals & F_SEAL_SHRINK) == 0) {
        KBNET_LOG_WARN("memif: the client's region {} is not sealed against shrinking; a client that shrinks it "
                       "can crash this process (SIGBUS)",
                       index);
    }
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    if (p == MAP_FAILED) return refuse(fmt::format("cannot map region {}: {}", index, std::strerror(errno)));
    session_->regions.push_back({static_cast<std::uint8_t*>(p), size, true});
    session_->fds.push_back(std::move(fd));
    Step s;
    s.send.emplace_back(ack(), -1);
    return s;
}

Step ServerHandshake::on_add_ring(const Message& m, Fd fd) {
    const auto flags = get<std::uint16_t>(m, add_ring::kFlags);
    const auto index = get<std::uint16_t>(m, add_ring::kIndex);
    const auto region = get<std::uint16_t>(m, add_ring::kRegion);
    const auto offset = get<std::uint32_t>(m, add_ring::kOffset);
    const auto log2 = get<std::uint8_t>(m, add_ring::kLog2RingSize);
    const bool c2s = (flags & kAddRingFlagC2S) != 0;
    const char* dir = c2s ? "C2S" : "S2C";
    if (index >= config_.queues) {
        return refuse(fmt::format("{} ring {} beyond our {} queue(s)", dir, index, config_.queues));
    }
    std::vector<bool>& have = c2s ? have_c2s_ : have_s2c_;
    if (have[index]) return refuse(fmt::format("{} ring {} added twice", dir, index));
    if (log2 > kMaxLog2Ring || log2 == 0) {
        return refuse(fmt::format("{} ring {} has log2 size {} (1 to {} allowed)", dir, index, log2, kMaxLog2Ring));
    }
    if (region >= session_->regions.size()) {
        return refuse(fmt::format("{} ring {} is in region {}, which was not added", dir, index, region));
    }
    if (offset % 8 != 0 || std::uint64_t{offset} + ring::bytes(log2) > session_->regions[region].size) {
        return refuse(fmt::format("{} ring {} at offset {} does not fit region {} ({} bytes)", dir, index, offset,
                                  region, session_->regions[region].size));
    }
    RingRef r;
    r.header = session_->regions[region].base + offset;
    r.log2 = log2;
    r.eventfd = fd.get();
    if (fd.valid()) session_->fds.push_back(std::move(fd));
    (c2s ? session_->c2s : session_->s2c)[index] = r;
    have[index] = true;
    Step s;
    s.send.emplace_back(ack(), -1);
    return s;
}

Step ServerHandshake::on_connect() {
    // Queue pairs 0..n-1, both directions, n at least one: a C2S ring
    // without its S2C partner would leave a queue half there.
    std::uint16_t n = 0;
    while (n < config_.queues && have_c2s_[n] && have_s2c_[n]) ++n;
    if (n == 0) return refuse("CONNECT before any complete queue pair (C2S and S2C ring 0)");
    for (std::uint16_t q = n; q < config_.queues; ++q) {
        if (have_c2s_[q] || have_s2c_[q]) {
            return refuse(fmt::format("rings of queue {} given without those of queue {}", q, n));
        }
    }
    session_->c2s.resize(n);
    session_->s2c.resize(n);
    for (std::uint16_t q = 0; q < n; ++q) {
        for (const RingRef* r : {&session_->c2s[q], &session_->s2c[q]}) {
            if (r->cookie() != kCookie) {
                return refuse(fmt::format("ring of queue {} has cookie {:#x}, not {:#x}", q, r->cookie(), kCookie));
            }
        }
        // Our receive ring: poll mode masks the peer's wakeups.
        session_->c2s[q].flags().store(config_.interrupt ? 0 : ring::kFlagMaskInterrupt, std::memory_order_relaxed);
    }
    session_->generation = ++g_generation;
    state_ = State::connected;
    Step s;
    Message m = make_message(MsgType::connected);
    put_text(m, connect::kIfName, kNameSize, config_.name);
    s.send.emplace_back(m, -1);
    s.connected = true;
    return s;
}

// ---- client ----------------------------------------------------------------

Step ClientHandshake::on_message(const Message& m, Fd fd) {
    (void)fd;  // the server sends no descriptors
    const std::uint16_t type = get<std::uint16_t>(m, 0);
    if (type == static_cast<std::uint16_t>(MsgType::disconnect)) {
        state_ = State::failed;
        return peer_disconnected(m);
    }
    Step s;
    switch (state_) {
        case State::want_hello:
            s = type == static_cast<std::uint16_t>(MsgType::hello)
                    ? on_hello(m)
                    : refuse(fmt::format("expected HELLO, got {}", type_name(type)));
            break;
        case State::want_ack:
            if (type != static_cast<std::uint16_t>(MsgType::ack)) {
                s = refuse(fmt::format("expected ACK, got {}", type_name(type)));
            } else {
                s.send.push_back(pending_[next_++]);
                if (next_ == pending_.size()) state_ = State::want_connected;
            }
            break;
        case State::want_connected:
            if (type != static_cast<std::uint16_t>(MsgType::connected)) {
                s = refuse(fmt::format("expected CONNECTED, got {}", type_name(type)));
            } else {
                session_->generation = ++g_generation;
                state_ = State::connected;
                s.connected = true;
            }
            break;
        case State::connected:
            s = refuse(fmt::format("unexpected {} on a connected interface", type_name(type)));
            break;
        case State::failed:
            s = refuse("connection already refused");
            break;
    }
    if (!s.refuse.empty()) state_ = State::failed;
    return s;
}

Step ClientHandshake::on_hello(const Message& m) {
    const auto min_v = get<std::uint16_t>(m, hello::kMinVersion);
    const auto max_v = get<std::uint16_t>(m, hello::kMaxVersion);
    if (kVersion < min_v || kVersion > max_v) {
        return refuse(fmt::format("server speaks memif {}.{} to {}.{}, we speak 2.0", min_v >> 8, min_v & 0xff,
                                  max_v >> 8, max_v & 0xff));
    }
    if (get<std::uint16_t>(m, hello::kMaxRegion) < 1) return refuse("server accepts one region; we need two");
    const auto max_c2s = get<std::uint16_t>(m, hello::kMaxC2SRing);
    const auto max_s2c = get<std::uint16_t>(m, hello::kMaxS2CRing);
    const auto pairs = std::min<std::uint32_t>(max_c2s, max_s2c) + 1u;
    if (pairs < config_.queues) {
        return refuse(fmt::format("server offers {} queue pair(s), we asked for {}; use queues={}", pairs,
                                  config_.queues, pairs));
    }
    const auto max_log2 = get<std::uint8_t>(m, hello::kMaxLog2RingSize);
    log2_ = std::min<std::uint8_t>(config_.log2_ring, max_log2);
    if (log2_ == 0) return refuse("server allows no ring size above 1");
    if (log2_ < config_.log2_ring) {
        KBNET_LOG_INFO("memif: server limits rings to {} slots; using that", 1u << log2_);
    }
    try {
        build_shared_memory();
    } catch (const std::exception& e) {
        return refuse(e.what());
    }

    Message init = make_message(MsgType::init);
    put<std::uint16_t>(init, init::kVersion, kVersion);
    put<std::uint32_t>(init, init::kId, config_.id);
    put<std::uint8_t>(init, init::kMode, kModeEthernet);
    const auto secret = padded_secret(config_.secret);
    std::memcpy(init.data() + init::kSecret, secret.data(), secret.size());
    put_text(init, init::kName, kNameSize, config_.name);

    // Then, one per ACK: the two regions, the rings, CONNECT.
    pending_.clear();
    next_ = 0;
    for (std::uint16_t r = 0; r < 2; ++r) {
        Message a = make_message(MsgType::add_region);
        put<std::uint16_t>(a, add_region::kIndex, r);
        put<std::uint64_t>(a, add_region::kSize, session_->regions[r].size);
        pending_.emplace_back(a, session_->fds[r].get());
    }
    const std::uint32_t ring_bytes = static_cast<std::uint32_t>(ring::bytes(log2_));
    for (std::uint16_t dir = 0; dir < 2; ++dir) {
        for (std::uint16_t q = 0; q < config_.queues; ++q) {
            const RingRef& r = dir == 0 ? session_->c2s[q] : session_->s2c[q];
            Message a = make_message(MsgType::add_ring);
            put<std::uint16_t>(a, add_ring::kFlags, dir == 0 ? kAddRingFlagC2S : 0);
            put<std::uint16_t>(a, add_ring::kIndex, q);
            put<std::uint16_t>(a, add_ring::kRegion, 0);
            put<std::uint32_t>(a, add_ring::kOffset, (std::uint32_t{dir} * config_.queues + q) * ring_bytes);
            put<std::uint8_t>(a, add_ring::kLog2RingSize, log2_);
            put<std::uint16_t>(a, add_ring::kPrivateHdrSize, 0);
            pending_.emplace_back(a, r.eventfd);
        }
    }
    Message c = make_message(MsgType::connect);
    put_text(c, connect::kIfName, kNameSize, config_.name);
    pending_.emplace_back(c, -1);

    state_ = State::want_ack;
    Step s;
    s.send.emplace_back(init, -1);
    return s;
}

void ClientHandshake::build_shared_memory() {
    // Region 0: every ring, C2S 0..n-1 then S2C 0..n-1, each a 128-byte
    // header and its descriptors. Region 1: the port's buffer area itself,
    // so the frames our handles name are the buffers the server reads and
    // writes (zero copy on this side).
    const std::uint64_t ring_bytes = ring::bytes(log2_);
    const std::uint64_t size = page_round(ring_bytes * 2 * config_.queues);
    Fd mem(::memfd_create("kbnet-memif-rings", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!mem.valid()) throw std::runtime_error(fmt::format("memfd_create: {}", std::strerror(errno)));
    if (::ftruncate(mem.get(), static_cast<off_t>(size)) != 0) {
        throw std::runtime_error(fmt::format("cannot size the ring region: {}", std::strerror(errno)));
    }
    (void)::fcntl(mem.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, mem.get(), 0);
    if (p == MAP_FAILED) throw std::runtime_error(fmt::format("cannot map the ring region: {}", std::strerror(errno)));
    session_->regions.push_back({static_cast<std::uint8_t*>(p), size, true});
    session_->regions.push_back({config_.buffer_base, config_.buffer_size, false});
    session_->fds.push_back(std::move(mem));
    session_->fds.emplace_back(::fcntl(config_.buffer_fd, F_DUPFD_CLOEXEC, 0));
    if (!session_->fds.back().valid()) throw std::runtime_error("cannot dup the buffer area's memfd");

    auto* base = static_cast<std::uint8_t*>(p);
    for (std::uint16_t dir = 0; dir < 2; ++dir) {
        auto& rings = dir == 0 ? session_->c2s : session_->s2c;
        rings.clear();
        for (std::uint16_t q = 0; q < config_.queues; ++q) {
            RingRef r;
            r.header = base + (std::uint32_t{dir} * config_.queues + q) * ring_bytes;
            r.log2 = log2_;
            Fd ev(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
            if (!ev.valid()) throw std::runtime_error(fmt::format("eventfd: {}", std::strerror(errno)));
            r.eventfd = ev.get();
            session_->fds.push_back(std::move(ev));
            std::memcpy(r.header + ring::kCookie, &kCookie, sizeof kCookie);
            // S2C is our receive ring: in poll mode the server need not kick.
            const std::uint16_t flags = dir == 1 && !config_.interrupt ? ring::kFlagMaskInterrupt : 0;
            r.flags().store(flags, std::memory_order_relaxed);
            r.head().store(0, std::memory_order_relaxed);
            r.tail().store(0, std::memory_order_relaxed);
            rings.push_back(r);
        }
    }
}

}  // namespace kbnet::port::memif
