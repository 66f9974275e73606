// Fuzzes the memif control channel: the messages an untrusted peer sends over
// the AF_UNIX socket, fed to a fresh ServerHandshake or ClientHandshake (the
// parsers and state machines of memif_handshake.cpp), with real descriptors
// attached where the protocol passes them, and the shared memory the peer
// controls. Properties checked (a violation aborts, so libFuzzer reports it):
//   - every step either refuses with a non-empty reason (and sends nothing),
//     reports the peer's DISCONNECT (non-empty, and only for DISCONNECT), or
//     moves the handshake on by sending something or connecting;
//   - nothing is accepted after a refusal or after connecting;
//   - each message accepted is valid by the message layout alone (checked
//     here from memif_abi.hpp, not by asking the state machine): INIT only
//     first and with our version, id, mode and secret; regions in order, with
//     their memfd, no larger than the file; rings in a region added before,
//     inside it, of a legal size, once each, within our queues; CONNECT /
//     CONNECTED only once the INIT, the regions and a complete queue pair are
//     there (the client: only after it sent its whole setup and CONNECT);
//   - a connected session holds exactly what was accepted: every ring where
//     its ADD_RING put it, inside a mapped region, with the memif cookie; and
//     Session::contains() agrees with the region bounds for the descriptors
//     the peer wrote (the first 256 slots of each ring; each one in bounds is
//     then touched at both ends: no SIGSEGV/SIGBUS);
//   - as the client, everything our client sends for a HELLO it accepted is
//     accepted by our own ServerHandshake too (fed alongside), and the two
//     sessions see the same shared memory;
//   - no file descriptor outlives a run (/proc/self/fd is counted before and
//     after each one).
// Not reachable here: the data path that uses a session (server_rx/tx,
// client_rx/tx in memif_port.cpp) is private to MemifPort, which needs its
// control thread and a listening socket; this target stops at the session
// and its own validation (Session::contains, RingRef). recv_message (message
// size and descriptor count checks) reads a live socket and is not fuzzed.
//
// Input layout:
//   byte 0  bit 0: 0 = we are the server (the records are a client's messages),
//                  1 = we are the client (the records are a server's messages)
//           bits 1-2: queue pairs - 1; bit 3: a secret is set ("kbnet-fuzz");
//           bit 4: interrupt mode; bit 5: the memfd is sealed against shrinking
//   byte 1  the run's memfd size: (1 + low 5 bits) x 4 KiB. As the server it
//           is the peer's memory (every memfd the peer passes is a dup of it);
//           as the client it is our buffer area (region 1).
//   byte 2  our interface id
//   byte 3  the client's ring size: log2 = 1 + byte % 14
//   then 129-byte records (a trailing partial one is ignored):
//     byte 0 & 3: 0 = the message alone, 1 = with the memfd (a dup, as
//                 SCM_RIGHTS delivers it), 2 = with a fresh eventfd,
//                 3 = not a message: the peer writes its memory, u32 offset
//                 (modulo the memfd size) then 124 bytes, cut at the end
//     bytes 1..128: the 128-byte control message
//
// Seeds (tests/fuzz/corpus/fuzz_memif_control) are written by this target:
//   KBNET_FUZZ_MEMIF_SEEDS=DIR build/fuzz/tests/fuzz/fuzz_memif_control
// drives our ClientHandshake against our ServerHandshake (as the unit tests'
// fake peer does), records one side's input as above, checks that each seed
// connects, and exits.
#include <dirent.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "kbnet/core/log.hpp"
#include "port/memif/memif_abi.hpp"
#include "port/memif/memif_handshake.hpp"
#include "port/memif/memif_session.hpp"
#include "port/memif/memif_socket.hpp"

namespace {

using namespace kbnet::port::memif;

#define REQUIRE(cond)                                                                                \
    do {                                                                                             \
        if (!(cond)) {                                                                               \
            std::fprintf(stderr, "fuzz_memif_control:%d: property violated: %s\n", __LINE__, #cond); \
            std::abort();                                                                            \
        }                                                                                            \
    } while (0)

constexpr std::size_t kHeaderSize = 4;
constexpr std::size_t kRecordSize = 1 + kMessageSize;
constexpr std::size_t kWriteData = kMessageSize - 4;
constexpr char kFuzzSecret[] = "kbnet-fuzz";

enum class Attach : std::uint8_t { none = 0, memfd = 1, eventfd = 2, write = 3 };

struct Header {
    bool client = false;
    std::uint16_t queues = 1;
    bool secret = false;
    bool interrupt = false;
    bool seal = false;
    std::uint64_t memfd_size = 0;
    std::uint32_t id = 0;
    std::uint8_t log2 = 1;

    static Header parse(const std::uint8_t* b) {
        Header h;
        h.client = (b[0] & 1) != 0;
        h.queues = static_cast<std::uint16_t>(1 + ((b[0] >> 1) & 3));
        h.secret = (b[0] & 8) != 0;
        h.interrupt = (b[0] & 16) != 0;
        h.seal = (b[0] & 32) != 0;
        h.memfd_size = (1 + (b[1] & 31)) * std::uint64_t{4096};
        h.id = b[2];
        h.log2 = static_cast<std::uint8_t>(1 + b[3] % kMaxLog2Ring);
        return h;
    }
    HandshakeConfig config() const {
        HandshakeConfig c;
        c.id = id;
        c.secret = secret ? kFuzzSecret : "";
        c.queues = queues;
        c.log2_ring = log2;
        c.interrupt = interrupt;
        c.name = "fuzz";
        return c;
    }
};

// One run's memfd, mapped. Everything it holds goes with it.
struct SharedMemory {
    Fd fd;
    std::uint8_t* base = nullptr;
    std::uint64_t size = 0;

    SharedMemory() = default;
    SharedMemory(const SharedMemory&) = delete;
    SharedMemory& operator=(const SharedMemory&) = delete;
    ~SharedMemory() {
        if (base != nullptr) ::munmap(base, size);
    }
    bool open(std::uint64_t bytes, bool seal) {
        fd.reset(::memfd_create("fuzz_memif", MFD_CLOEXEC | MFD_ALLOW_SEALING));
        if (!fd.valid() || ::ftruncate(fd.get(), static_cast<off_t>(bytes)) != 0) return false;
        if (seal) (void)::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW);
        void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
        if (p == MAP_FAILED) return false;
        base = static_cast<std::uint8_t*>(p);
        size = bytes;
        return true;
    }
    // What the peer would receive with SCM_RIGHTS: a new descriptor of the same file.
    Fd dup() const { return Fd(::fcntl(fd.get(), F_DUPFD_CLOEXEC, 0)); }
    // The peer writes its memory: a u32 offset, then the rest of the record.
    void write(const Message& m) const {
        const std::uint64_t at = get<std::uint32_t>(m, 0) % size;
        std::memcpy(base + at, m.data() + 4, std::min<std::uint64_t>(kWriteData, size - at));
    }
};

Fd dup_fd(int fd) { return Fd(fd >= 0 ? ::fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1); }

Fd attachment(Attach kind, const SharedMemory& mem) {
    if (kind == Attach::memfd) return mem.dup();
    if (kind == Attach::eventfd) return Fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    return Fd();
}

int open_fd_count() {
    DIR* d = ::opendir("/proc/self/fd");
    if (d == nullptr) return -1;
    int n = 0;
    while (const dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
    ::closedir(d);
    return n;
}

std::uint16_t type_of(const Message& m) { return get<std::uint16_t>(m, 0); }
bool is(const Message& m, MsgType t) { return type_of(m) == static_cast<std::uint16_t>(t); }

std::array<std::uint8_t, kSecretSize> padded(const std::string& s) {
    std::array<std::uint8_t, kSecretSize> out{};
    std::memcpy(out.data(), s.data(), std::min(s.size(), out.size()));
    return out;
}

// What every step must look like, whichever the role. Returns true if the
// step accepted the message (the handshake moved on).
bool check_step(const Message& m, const Step& s) {
    const bool disconnect = is(m, MsgType::disconnect);
    REQUIRE(s.peer_said.empty() != disconnect);  // the peer's reason, for DISCONNECT and only for it
    if (!s.refuse.empty() || !s.peer_said.empty()) {
        REQUIRE(s.refuse.empty() || s.peer_said.empty());
        REQUIRE(s.send.empty() && !s.connected);  // a refusal says nothing but its DISCONNECT
        return false;
    }
    REQUIRE(!s.send.empty() || s.connected);  // accepted: never silent
    return true;
}

// Session::contains against the region bounds for the descriptors the peer
// can write (at most 256 per ring), and each one in bounds touched.
volatile std::uint8_t g_sink;
void walk_descriptors(const Session& s) {
    for (const auto* rings : {&s.c2s, &s.s2c}) {
        for (const RingRef& r : *rings) {
            const std::uint32_t slots = std::min<std::uint32_t>(r.size(), 256);
            for (std::uint32_t i = 0; i < slots; ++i) {
                const Descriptor d = r.read(i);
                const bool inside =
                    d.region < s.regions.size() && std::uint64_t{d.offset} + d.length <= s.regions[d.region].size;
                REQUIRE(s.contains(d.region, d.offset, d.length) == inside);
                if (inside && d.length > 0) {
                    const std::uint8_t* p = s.at(d.region, d.offset);
                    g_sink = static_cast<std::uint8_t>(p[0] + p[d.length - 1]);
                }
            }
        }
    }
}

// True if ring r lies inside one of the session's regions.
bool ring_inside(const Session& s, const RingRef& r) {
    for (const Region& g : s.regions) {
        if (r.header >= g.base && r.header + ring::bytes(r.log2) <= g.base + g.size) return true;
    }
    return false;
}

// ---- the server: the records are a client's messages --------------------------

struct AddedRing {
    bool have = false;
    std::uint16_t region = 0;
    std::uint32_t offset = 0;
    std::uint8_t log2 = 0;
    bool fd = false;
};

enum class Outcome { refused, connected, unfinished };

Outcome run_server(const Header& h, const std::uint8_t* rec, std::size_t count, SharedMemory& mem) {
    const HandshakeConfig cfg = h.config();
    ServerHandshake hs(cfg);
    (void)hs.hello();
    bool got_init = false, connected = false;
    int refusals = 0;
    std::vector<std::uint64_t> regions;  // sizes, by index, as accepted
    std::vector<AddedRing> c2s(h.queues), s2c(h.queues);
    std::unique_ptr<Session> session;

    for (std::size_t i = 0; i < count; ++i, rec += kRecordSize) {
        const auto kind = static_cast<Attach>(rec[0] & 3);
        Message m;
        std::memcpy(m.data(), rec + 1, kMessageSize);
        if (kind == Attach::write) {
            mem.write(m);
            continue;
        }
        const Step s = hs.on_message(m, attachment(kind, mem));
        if (!check_step(m, s)) {
            if (++refusals == 2) break;  // refused twice: once refused, it stays refused
            continue;
        }
        REQUIRE(refusals == 0 && !connected);  // nothing is accepted after a refusal or once connected
        const bool ack =
            !s.connected && s.send.size() == 1 && is(s.send[0].first, MsgType::ack) && s.send[0].second == -1;
        if (is(m, MsgType::init)) {
            REQUIRE(!got_init && ack);
            REQUIRE(get<std::uint16_t>(m, init::kVersion) == kVersion);
            REQUIRE(get<std::uint32_t>(m, init::kId) == cfg.id);
            REQUIRE(get<std::uint8_t>(m, init::kMode) == kModeEthernet);
            REQUIRE(std::memcmp(m.data() + init::kSecret, padded(cfg.secret).data(), kSecretSize) == 0);
            got_init = true;
        } else if (is(m, MsgType::add_region)) {
            const auto size = get<std::uint64_t>(m, add_region::kSize);
            REQUIRE(got_init && ack);
            REQUIRE(get<std::uint16_t>(m, add_region::kIndex) == regions.size() && regions.size() < kMaxRegions);
            REQUIRE(kind == Attach::memfd);  // its memory came with it (an eventfd holds no bytes)
            REQUIRE(size > 0 && size <= mem.size && size <= (std::uint64_t{1} << 32));
            regions.push_back(size);
        } else if (is(m, MsgType::add_ring)) {
            const auto index = get<std::uint16_t>(m, add_ring::kIndex);
            const auto region = get<std::uint16_t>(m, add_ring::kRegion);
            const auto offset = get<std::uint32_t>(m, add_ring::kOffset);
            const auto log2 = get<std::uint8_t>(m, add_ring::kLog2RingSize);
            REQUIRE(got_init && ack);
            REQUIRE(index < h.queues);
            AddedRing& r = ((get<std::uint16_t>(m, add_ring::kFlags) & kAddRingFlagC2S) != 0 ? c2s : s2c)[index];
            REQUIRE(!r.have);
            REQUIRE(log2 >= 1 && log2 <= kMaxLog2Ring);
            REQUIRE(region < regions.size());
            REQUIRE(offset % 8 == 0 && std::uint64_t{offset} + ring::bytes(log2) <= regions[region]);
            r = {true, region, offset, log2, kind != Attach::none};
        } else if (is(m, MsgType::connect)) {
            REQUIRE(got_init && s.connected && s.send.size() == 1 && is(s.send[0].first, MsgType::connected));
            // A complete queue pair 0..n-1, n >= 1, and no ring beyond it.
            std::uint16_t n = 0;
            while (n < h.queues && c2s[n].have && s2c[n].have) ++n;
            REQUIRE(n >= 1);
            for (std::uint16_t q = n; q < h.queues; ++q) REQUIRE(!c2s[q].have && !s2c[q].have);
            session = hs.take_session();
            REQUIRE(session != nullptr && session->generation != 0);
            REQUIRE(session->regions.size() == regions.size());
            for (std::size_t g = 0; g < regions.size(); ++g) {
                REQUIRE(session->regions[g].base != nullptr && session->regions[g].size == regions[g]);
            }
            REQUIRE(session->c2s.size() == n && session->s2c.size() == n);
            for (std::uint16_t q = 0; q < n; ++q) {
                for (int dir = 0; dir < 2; ++dir) {
                    const AddedRing& a = (dir == 0 ? c2s : s2c)[q];
                    const RingRef& r = (dir == 0 ? session->c2s : session->s2c)[q];
                    REQUIRE(r.header == session->regions[a.region].base + a.offset && r.log2 == a.log2);
                    REQUIRE(ring_inside(*session, r));
                    REQUIRE(r.cookie() == kCookie);
                    REQUIRE((r.eventfd >= 0) == a.fd);
                }
                // Our receive ring: masked in poll mode.
                REQUIRE(((session->c2s[q].flags().load() & ring::kFlagMaskInterrupt) != 0) == !h.interrupt);
            }
            connected = true;
        } else {
            REQUIRE(false && "the server accepted a message of another type");
        }
    }
    if (session != nullptr) walk_descriptors(*session);
    return connected ? Outcome::connected : refusals > 0 ? Outcome::refused : Outcome::unfinished;
}

// ---- the client: the records are a server's messages --------------------------

Outcome run_client(const Header& h, const std::uint8_t* rec, std::size_t count, SharedMemory& mem) {
    HandshakeConfig cfg = h.config();
    cfg.buffer_fd = mem.fd.get();
    cfg.buffer_base = mem.base;
    cfg.buffer_size = mem.size;
    ClientHandshake hs(cfg);
    // Our own server, fed what our client sends: it must accept all of it.
    ServerHandshake peer(h.config());
    const std::size_t setup = 2 + 2u * h.queues + 1;  // ADD_REGION x2, ADD_RING x 2 per queue, CONNECT
    bool got_hello = false, connected = false;
    std::size_t sent = 0;  // setup messages sent so far
    int refusals = 0;
    std::uint8_t max_log2 = 0;
    std::unique_ptr<Session> session, peer_session;

    const auto to_peer = [&](const std::pair<Message, int>& out) {
        const Step p = peer.on_message(out.first, dup_fd(out.second));
        if (!p.refuse.empty()) {
            std::fprintf(stderr, "fuzz_memif_control: our server refused our client's %.*s: %s\n",
                         static_cast<int>(msg_type_name(type_of(out.first)).size()),
                         msg_type_name(type_of(out.first)).data(), p.refuse.c_str());
        }
        REQUIRE(p.refuse.empty() && p.peer_said.empty() && p.send.size() == 1);
        if (is(out.first, MsgType::connect)) {
            REQUIRE(p.connected && is(p.send[0].first, MsgType::connected));
            peer_session = peer.take_session();
        } else {
            REQUIRE(!p.connected && is(p.send[0].first, MsgType::ack));
        }
    };

    for (std::size_t i = 0; i < count; ++i, rec += kRecordSize) {
        const auto kind = static_cast<Attach>(rec[0] & 3);
        Message m;
        std::memcpy(m.data(), rec + 1, kMessageSize);
        if (kind == Attach::write) {
            mem.write(m);
            continue;
        }
        const Step s = hs.on_message(m, attachment(kind, mem));
        if (!check_step(m, s)) {
            if (++refusals == 2) break;
            continue;
        }
        REQUIRE(refusals == 0 && !connected);
        if (is(m, MsgType::hello)) {
            REQUIRE(!got_hello && s.send.size() == 1 && !s.connected);
            const auto min_v = get<std::uint16_t>(m, hello::kMinVersion);
            const auto max_v = get<std::uint16_t>(m, hello::kMaxVersion);
            REQUIRE(min_v <= kVersion && kVersion <= max_v);
            REQUIRE(get<std::uint16_t>(m, hello::kMaxRegion) >= 1);  // two regions allowed
            REQUIRE(get<std::uint16_t>(m, hello::kMaxC2SRing) + 1u >= h.queues);
            REQUIRE(get<std::uint16_t>(m, hello::kMaxS2CRing) + 1u >= h.queues);
            max_log2 = get<std::uint8_t>(m, hello::kMaxLog2RingSize);
            REQUIRE(hs.log2_ring() >= 1 && hs.log2_ring() <= max_log2 && hs.log2_ring() <= cfg.log2_ring);
            const Message& out = s.send[0].first;
            REQUIRE(is(out, MsgType::init) && s.send[0].second == -1);
            REQUIRE(get<std::uint16_t>(out, init::kVersion) == kVersion);
            REQUIRE(get<std::uint32_t>(out, init::kId) == cfg.id);
            REQUIRE(std::memcmp(out.data() + init::kSecret, padded(cfg.secret).data(), kSecretSize) == 0);
            to_peer(s.send[0]);
            got_hello = true;
        } else if (is(m, MsgType::ack)) {
            REQUIRE(got_hello && sent < setup && s.send.size() == 1 && !s.connected);
            const auto& [out, fd] = s.send[0];
            if (sent < 2) {
                REQUIRE(is(out, MsgType::add_region) && get<std::uint16_t>(out, add_region::kIndex) == sent);
                REQUIRE(fd >= 0);
            } else if (sent < setup - 1) {
                const std::size_t k = sent - 2;
                const bool c2s = k < h.queues;
                REQUIRE(is(out, MsgType::add_ring));
                REQUIRE(((get<std::uint16_t>(out, add_ring::kFlags) & kAddRingFlagC2S) != 0) == c2s);
                REQUIRE(get<std::uint16_t>(out, add_ring::kIndex) == k % h.queues);
                REQUIRE(get<std::uint8_t>(out, add_ring::kLog2RingSize) == hs.log2_ring());
                REQUIRE(get<std::uint8_t>(out, add_ring::kLog2RingSize) <= max_log2);
                REQUIRE(get<std::uint16_t>(out, add_ring::kRegion) == 0 && fd >= 0);  // its eventfd
            } else {
                REQUIRE(is(out, MsgType::connect) && fd == -1);
            }
            to_peer(s.send[0]);
            ++sent;
        } else if (is(m, MsgType::connected)) {
            REQUIRE(sent == setup && s.connected && s.send.empty());  // only after the whole setup and CONNECT
            session = hs.take_session();
            REQUIRE(session != nullptr && session->generation != 0);
            REQUIRE(session->regions.size() == 2);
            REQUIRE(session->regions[1].base == mem.base && session->regions[1].size == mem.size);
            REQUIRE(session->c2s.size() == h.queues && session->s2c.size() == h.queues);
            REQUIRE(peer_session != nullptr && peer_session->c2s.size() == h.queues);
            for (std::uint16_t q = 0; q < h.queues; ++q) {
                for (int dir = 0; dir < 2; ++dir) {
                    const RingRef& r = (dir == 0 ? session->c2s : session->s2c)[q];
                    const RingRef& p = (dir == 0 ? peer_session->c2s : peer_session->s2c)[q];
                    REQUIRE(ring_inside(*session, r) && r.cookie() == kCookie && r.log2 == hs.log2_ring());
                    // The same memory on both sides: what one writes, the other reads.
                    r.head().store(static_cast<std::uint16_t>(0x1234 + q + dir), std::memory_order_relaxed);
                    REQUIRE(p.head().load(std::memory_order_relaxed) == 0x1234 + q + dir);
                    r.head().store(0, std::memory_order_relaxed);
                }
                // Our receive ring (S2C): masked in poll mode.
                REQUIRE(((session->s2c[q].flags().load() & ring::kFlagMaskInterrupt) != 0) == !h.interrupt);
            }
            connected = true;
        } else {
            REQUIRE(false && "the client accepted a message of another type");
        }
    }
    if (session != nullptr) walk_descriptors(*session);
    return connected ? Outcome::connected : refusals > 0 ? Outcome::refused : Outcome::unfinished;
}

Outcome run(const std::uint8_t* data, std::size_t size) {
    if (size < kHeaderSize) return Outcome::unfinished;
    const Header h = Header::parse(data);
    SharedMemory mem;
    if (!mem.open(h.memfd_size, h.seal)) return Outcome::unfinished;
    const std::size_t count = (size - kHeaderSize) / kRecordSize;
    return h.client ? run_client(h, data + kHeaderSize, count, mem) : run_server(h, data + kHeaderSize, count, mem);
}

// ---- seeds ------------------------------------------------------------------------

struct SeedWriter {
    std::vector<std::uint8_t> bytes;
    explicit SeedWriter(const std::array<std::uint8_t, kHeaderSize>& header) : bytes(header.begin(), header.end()) {}
    void message(const Message& m, Attach kind) {
        bytes.push_back(static_cast<std::uint8_t>(kind));
        bytes.insert(bytes.end(), m.begin(), m.end());
    }
    void write(std::uint32_t offset, const std::uint8_t* data, std::size_t n) {
        Message m{};
        put<std::uint32_t>(m, 0, offset);
        std::memcpy(m.data() + 4, data, std::min(n, kWriteData));
        message(m, Attach::write);
    }
};

// Runs our client against our server, configured by the header, and
// records one side's input. hello_max_log2: the server's HELLO is changed to
// allow rings of at most that size (as a server with smaller rings would).
std::vector<std::uint8_t> make_seed(const std::array<std::uint8_t, kHeaderSize>& header, std::uint8_t hello_max_log2,
                                    bool with_descriptors) {
    const Header h = Header::parse(header.data());
    SharedMemory buffers;
    if (!buffers.open(h.memfd_size, true)) std::abort();
    HandshakeConfig ccfg = h.config();
    ccfg.buffer_fd = buffers.fd.get();
    ccfg.buffer_base = buffers.base;
    ccfg.buffer_size = buffers.size;
    ClientHandshake client(ccfg);
    ServerHandshake server(h.config());
    SeedWriter seed(header);

    Message greeting = server.hello();
    put<std::uint8_t>(greeting, hello::kMaxLog2RingSize, hello_max_log2);
    std::vector<Message> to_client{greeting};
    std::uint32_t c2s0 = 0;
    bool done = false;
    for (int round = 0; round < 64 && !done; ++round) {
        REQUIRE(!to_client.empty());
        const Message m = to_client.front();
        to_client.erase(to_client.begin());
        if (h.client) seed.message(m, Attach::none);
        const Step cs = client.on_message(m, Fd());
        REQUIRE(cs.refuse.empty() && cs.peer_said.empty());
        done = cs.connected;
        for (const auto& [out, fd] : cs.send) {
            if (!h.client) {
                const bool ring = is(out, MsgType::add_ring);
                seed.message(out, fd < 0 ? Attach::none : ring ? Attach::eventfd : Attach::memfd);
                if (ring) {
                    // The cookie the client wrote at the head of the ring, in
                    // the memory the fuzzed server will map.
                    const std::uint32_t at = get<std::uint32_t>(out, add_ring::kOffset);
                    if ((get<std::uint16_t>(out, add_ring::kFlags) & kAddRingFlagC2S) != 0 &&
                        get<std::uint16_t>(out, add_ring::kIndex) == 0) {
                        c2s0 = at;
                    }
                    std::uint8_t head[8] = {};
                    std::memcpy(head, &kCookie, sizeof kCookie);
                    seed.write(at, head, sizeof head);
                }
            }
            const Step ss = server.on_message(out, dup_fd(fd));
            REQUIRE(ss.refuse.empty());
            for (const auto& sent : ss.send) to_client.push_back(sent.first);
        }
    }
    REQUIRE(done);
    if (!h.client && with_descriptors) {
        // The client posts three descriptors on C2S ring 0: one in region 1,
        // one running past its end, one naming a region that does not exist.
        const Descriptor d[3] = {
            {0, 1, 64, 4096, 0}, {0, 1, 64, static_cast<std::uint32_t>(h.memfd_size - 16), 0}, {0, 7, 1, 0, 0}};
        seed.write(c2s0 + ring::kDescs, reinterpret_cast<const std::uint8_t*>(d), sizeof d);
    }
    return seed.bytes;
}

void write_seeds(const char* dir) {
    struct Spec {
        const char* name;
        std::array<std::uint8_t, kHeaderSize> header;
        std::uint8_t hello_max_log2;
        bool descriptors;
    };
    // byte 0: role | (queues - 1) << 1 | secret 8 | interrupt 16 | sealed 32;
    // byte 1: 15 = 64 KiB; byte 2: id; byte 3: 5 -> rings of 2^6, 9 -> 2^10.
    const Spec specs[] = {
        {"server_one_queue", {0x20, 15, 0, 5}, kMaxLog2Ring, true},
        {"server_two_queues_secret_id_interrupt", {0x02 | 0x08 | 0x10, 15, 7, 7}, kMaxLog2Ring, false},
        {"client_one_queue", {0x21, 15, 0, 5}, kMaxLog2Ring, false},
        {"client_two_queues_secret_id_server_limits_ring", {0x01 | 0x02 | 0x08 | 0x20, 15, 7, 9}, 8, false},
    };
    for (const Spec& s : specs) {
        const std::vector<std::uint8_t> seed = make_seed(s.header, s.hello_max_log2, s.descriptors);
        REQUIRE(run(seed.data(), seed.size()) == Outcome::connected);
        const std::string path = std::string(dir) + "/" + s.name;
        FILE* f = std::fopen(path.c_str(), "wb");
        REQUIRE(f != nullptr);
        REQUIRE(std::fwrite(seed.data(), 1, seed.size(), f) == seed.size());
        std::fclose(f);
        std::printf("%s: %zu bytes\n", path.c_str(), seed.size());
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    kbnet::set_log_level(kbnet::LogLevel::error);  // an unsealed region is a warning per run
    if (const char* dir = std::getenv("KBNET_FUZZ_MEMIF_SEEDS")) {
        write_seeds(dir);
        std::exit(0);
    }
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const int fds_before = open_fd_count();
    (void)run(data, size);
    // Every memfd, dup, eventfd and mapping of the run is closed by now.
    REQUIRE(open_fd_count() == fds_before);
    return 0;
}
