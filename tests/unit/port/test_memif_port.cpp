// memif: two kbnet ports (server and client) in one process over a real
// control socket and real shared memory; refusals; and a hand-driven fake
// client that breaks the protocol on the control channel and in shared
// memory, which the server must survive.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <atomic>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kbnet/core/log.hpp"
#include "kbnet/port/port.hpp"
#include "kbnet/port/spec.hpp"
#include "port/memif/memif_abi.hpp"
#include "port/memif/memif_handshake.hpp"
#include "port/memif/memif_socket.hpp"

using namespace kbnet;
using namespace kbnet::port;
namespace mi = kbnet::port::memif;

namespace {

// A socket name unique to this process and test (abstract: nothing to clean).
std::string socket_name(const char* tag) { return fmt::format("@kbnet-test-{}-{}", ::getpid(), tag); }

PortOptions options(std::uint32_t frames = 4096) {
    PortOptions o;
    o.area.frame_count = frames;
    o.area.hugepages = false;
    return o;
}

bool eventually(const std::function<bool()>& cond, int ms = 5000) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < end) {
        if (cond()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return cond();
}

// Sends n packets of `size` bytes from `from` (byte i of packet k = k + i)
// and returns the packets `to` receives, as byte vectors.
std::vector<std::vector<std::uint8_t>> send_and_receive(Port& from, Port& to, std::size_t n, std::uint16_t size) {
    std::vector<PacketHandle> pkts(n);
    EXPECT_EQ(from.alloc(0, pkts), n);
    for (std::size_t k = 0; k < n; ++k) {
        EXPECT_TRUE(from.area().append(pkts[k], size));
        std::uint8_t* p = from.area().data(pkts[k]);
        for (std::uint16_t i = 0; i < size; ++i) p[i] = static_cast<std::uint8_t>(k + i);
    }
    std::size_t sent = 0;
    std::vector<std::vector<std::uint8_t>> got;
    std::array<PacketHandle, 32> rx;
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while ((sent < n || got.size() < n) && std::chrono::steady_clock::now() < end) {
        if (sent < n) sent += from.tx_burst(0, std::span<const PacketHandle>(pkts).subspan(sent));
        const std::uint16_t r = to.rx_burst(0, rx);
        for (std::uint16_t i = 0; i < r; ++i) {
            auto b = to.bytes(rx[i]);
            got.emplace_back(b.begin(), b.end());
        }
        to.free(0, std::span<const PacketHandle>(rx.data(), r));
        from.flush(0);
        if (r == 0 && from.counters(0).rx_dropped + to.counters(0).rx_dropped > 0 && sent == n) break;
    }
    if (sent < n) from.free(0, std::span<const PacketHandle>(pkts).subspan(sent));
    return got;
}

void expect_pattern(const std::vector<std::vector<std::uint8_t>>& got, std::size_t n, std::uint16_t size) {
    ASSERT_EQ(got.size(), n);
    for (std::size_t k = 0; k < n; ++k) {
        ASSERT_EQ(got[k].size(), size) << "packet " << k;
        for (std::uint16_t i = 0; i < size; ++i) {
            ASSERT_EQ(got[k][i], static_cast<std::uint8_t>(k + i)) << "packet " << k << " byte " << i;
        }
    }
}

TEST(MemifPort, client_and_server_exchange_packets_both_ways_in_order) {
    const std::string sock = socket_name("both");
    auto server = open_port("memif:" + sock + ",role=server", options());
    auto client = open_port("memif:" + sock + ",role=client", options());
    ASSERT_TRUE(eventually([&] { return server->link_up() && client->link_up(); }));
    EXPECT_TRUE(client->capabilities().zero_copy);
    EXPECT_FALSE(server->capabilities().zero_copy);

    // More than a ring's worth each way, so indices wrap and frames recycle.
    expect_pattern(send_and_receive(*client, *server, 3000, 60), 3000, 60);
    expect_pattern(send_and_receive(*server, *client, 3000, 1500), 3000, 1500);
    EXPECT_EQ(client->counters(0).tx_packets, 3000u);
    EXPECT_EQ(server->counters(0).rx_packets, 3000u);
    EXPECT_EQ(server->counters(0).tx_packets, 3000u);
    EXPECT_EQ(client->counters(0).rx_packets, 3000u);
    EXPECT_EQ(server->counters(0).rx_errors + client->counters(0).rx_errors, 0u);
}

TEST(MemifPort, several_queue_pairs_carry_their_own_traffic_driven_by_their_own_threads) {
    const std::string sock = socket_name("multiq");
    auto server = open_port("memif:" + sock + ",queues=3", options(1024));
    auto client = open_port("memif:" + sock + ",role=client,queues=3,ring=8", options(1024));
    ASSERT_TRUE(eventually([&] { return server->link_up() && client->link_up(); }));
    ASSERT_EQ(server->queue_count(), 3);
    ASSERT_EQ(client->queue_count(), 3);
    // Queue q carries frames whose first byte is q; each queue on its own
    // thread on both sides (the threading contract: one thread per queue).
    constexpr std::size_t kPerQueue = 2000;
    std::array<std::size_t, 3> wrong{};
    std::array<std::size_t, 3> got{};
    std::vector<std::thread> threads;
    for (std::uint16_t q = 0; q < 3; ++q) {
        threads.emplace_back([&, q] {
            std::size_t sent = 0;
            std::array<PacketHandle, 32> burst;
            const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
            while ((sent < kPerQueue || got[q] < kPerQueue) && std::chrono::steady_clock::now() < end) {
                if (sent < kPerQueue) {
                    const std::uint16_t n = client->alloc(q, std::span<PacketHandle>(burst.data(), 16));
                    for (std::uint16_t i = 0; i < n; ++i) {
                        (void)client->area().append(burst[i], 60);
                        client->area().data(burst[i])[0] = static_cast<std::uint8_t>(q);
                    }
                    const std::uint16_t t = client->tx_burst(q, std::span<const PacketHandle>(burst.data(), n));
                    client->free(q, std::span<const PacketHandle>(burst.data() + t, n - t));
                    sent += t;
                }
                const std::uint16_t r = server->rx_burst(q, burst);
                for (std::uint16_t i = 0; i < r; ++i) wrong[q] += server->bytes(burst[i])[0] != q;
                got[q] += r;
                server->free(q, std::span<const PacketHandle>(burst.data(), r));
            }
        });
    }
    for (auto& t : threads) t.join();
    for (std::uint16_t q = 0; q < 3; ++q) {
        EXPECT_EQ(got[q], kPerQueue) << "queue " << q;
        EXPECT_EQ(wrong[q], 0u) << "queue " << q << " received another queue's frames";
        EXPECT_EQ(server->counters(q).rx_packets, kPerQueue);
    }
}

TEST(MemifPort, server_refuses_a_client_asking_for_more_queues_than_it_has) {
    const std::string sock = socket_name("toomanyq");
    testing::internal::CaptureStderr();
    {
        auto server = open_port("memif:" + sock + ",queues=1", options());
        auto client = open_port("memif:" + sock + ",role=client,queues=2", options());
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        EXPECT_FALSE(client->link_up());
    }
    EXPECT_THAT(testing::internal::GetCapturedStderr(), testing::HasSubstr("server offers 1 queue pair(s)"));
}

TEST(MemifPort, echo_of_received_frames_is_zero_copy_on_the_client) {
    const std::string sock = socket_name("echo");
    auto server = open_port("memif:" + sock, options());
    auto client = open_port("memif:" + sock + ",role=client", options());
    ASSERT_TRUE(eventually([&] { return server->link_up() && client->link_up(); }));
    // The client sends back the very frames it received (l2echo's loop).
    std::vector<PacketHandle> out(64);
    ASSERT_EQ(server->alloc(0, out), 64u);
    for (std::size_t k = 0; k < out.size(); ++k) {
        ASSERT_TRUE(server->area().append(out[k], 100));
        std::memset(server->area().data(out[k]), static_cast<int>(k), 100);
    }
    std::size_t sent = 0, echoed = 0, back = 0;
    std::array<PacketHandle, 32> rx;
    ASSERT_TRUE(eventually([&] {
        if (sent < out.size()) sent += server->tx_burst(0, std::span<const PacketHandle>(out).subspan(sent));
        const std::uint16_t n = client->rx_burst(0, rx);
        echoed += client->tx_burst(0, std::span<const PacketHandle>(rx.data(), n));
        const std::uint16_t m = server->rx_burst(0, rx);
        for (std::uint16_t i = 0; i < m; ++i) {
            EXPECT_EQ(server->bytes(rx[i])[0], static_cast<std::uint8_t>(back + i));
        }
        back += m;
        server->free(0, std::span<const PacketHandle>(rx.data(), m));
        return back == out.size();
    }));
    EXPECT_EQ(echoed, out.size());
}

TEST(MemifPort, packet_longer_than_client_buffers_is_dropped_and_counted) {
    const std::string sock = socket_name("long");
    auto server = open_port("memif:" + sock + ",buffer=8192", options());
    auto client = open_port("memif:" + sock + ",role=client", options());  // 2048-byte frames
    ASSERT_TRUE(eventually([&] { return server->link_up() && client->link_up(); }));
    // The server splits it over chained descriptors; one handle cannot hold it.
    EXPECT_TRUE(send_and_receive(*server, *client, 1, 4000).empty());
    EXPECT_TRUE(eventually([&] {
        std::array<PacketHandle, 8> rx;
        (void)client->rx_burst(0, rx);
        return client->counters(0).rx_dropped == 1;
    }));
    // And the queue goes on: a normal packet still arrives.
    expect_pattern(send_and_receive(*server, *client, 5, 64), 5, 64);
}

TEST(MemifPort, client_reconnects_after_the_server_restarts_without_losing_frames) {
    const std::string sock = socket_name("restart");
    auto client = open_port("memif:" + sock + ",role=client,ring=6", options(512));
    const std::uint32_t before = [&] {
        std::vector<PacketHandle> all(512);
        const std::uint16_t n = client->alloc(0, all);
        client->free(0, std::span<const PacketHandle>(all.data(), n));
        return n;
    }();
    for (int round = 0; round < 3; ++round) {
        auto server = open_port("memif:" + sock, options());
        ASSERT_TRUE(eventually([&] { return client->link_up(); })) << "round " << round;
        expect_pattern(send_and_receive(*server, *client, 100, 64), 100, 64);
        expect_pattern(send_and_receive(*client, *server, 100, 64), 100, 64);
        server.reset();
        ASSERT_TRUE(eventually([&] {
            std::array<PacketHandle, 8> rx;
            (void)client->rx_burst(0, rx);
            return !client->link_up();
        }));
    }
    // Every frame posted to or in flight on the old rings came back.
    std::array<PacketHandle, 8> rx;
    EXPECT_EQ(client->rx_burst(0, rx), 0);
    std::vector<PacketHandle> all(512);
    const std::uint16_t n = client->alloc(0, all);
    client->free(0, std::span<const PacketHandle>(all.data(), n));
    EXPECT_EQ(n, before);
}

TEST(MemifPort, server_accepts_a_new_client_after_the_first_goes) {
    const std::string sock = socket_name("reaccept");
    auto server = open_port("memif:" + sock, options());
    for (int round = 0; round < 3; ++round) {
        auto client = open_port("memif:" + sock + ",role=client", options());
        ASSERT_TRUE(eventually([&] { return server->link_up() && client->link_up(); })) << round;
        expect_pattern(send_and_receive(*client, *server, 50, 64), 50, 64);
        client.reset();
        ASSERT_TRUE(eventually([&] { return !server->link_up(); }));
    }
}

TEST(MemifPort, wrong_secret_or_id_is_refused_and_logged_on_both_sides) {
    for (const char* mismatch : {",secret=right|,secret=wrong", ",id=1|,id=2"}) {
        const std::string m = mismatch;
        const std::string sock = socket_name(m.substr(1, 2).c_str());
        testing::internal::CaptureStderr();
        {
            auto server = open_port("memif:" + sock + m.substr(0, m.find('|')), options());
            auto client = open_port("memif:" + sock + ",role=client" + m.substr(m.find('|') + 1), options());
            std::this_thread::sleep_for(std::chrono::milliseconds(600));
            EXPECT_FALSE(server->link_up());
            EXPECT_FALSE(client->link_up());
        }
        const std::string log = testing::internal::GetCapturedStderr();
        if (m.find("secret") != std::string::npos) {
            EXPECT_THAT(log, testing::HasSubstr("refusing the peer: wrong secret"));
            EXPECT_THAT(log, testing::HasSubstr("the peer disconnected: wrong secret"));
        } else {
            EXPECT_THAT(log, testing::HasSubstr("refusing the peer: no interface with id 2"));
            EXPECT_THAT(log, testing::HasSubstr("the peer disconnected: no interface with id 2"));
        }
    }
}

TEST(MemifPort, second_client_is_refused_while_one_is_connected) {
    const std::string sock = socket_name("second");
    auto server = open_port("memif:" + sock, options());
    auto first = open_port("memif:" + sock + ",role=client", options());
    ASSERT_TRUE(eventually([&] { return server->link_up() && first->link_up(); }));
    auto second = open_port("memif:" + sock + ",role=client", options());
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_FALSE(second->link_up());
    EXPECT_TRUE(first->link_up());
    expect_pattern(send_and_receive(*first, *server, 10, 64), 10, 64);
}

TEST(MemifPort, bad_options_are_errors_naming_the_fix) {
    EXPECT_THAT([] { (void)open_port("memif:@x,secret=0123456789012345678901234", options()); },
                testing::ThrowsMessage<PortError>(testing::HasSubstr("at most 24")));
    EXPECT_THAT([] { (void)open_port("memif:@x,buffer=3000", options()); },
                testing::ThrowsMessage<PortError>(testing::HasSubstr("power of two")));
    EXPECT_THAT([] { (void)open_port("memif:@x,role=client,ring=12", options(1024)); },
                testing::ThrowsMessage<PortError>(testing::HasSubstr("lower ring=")));
    EXPECT_THAT([] { (void)open_port("memif:@x,role=peer", options()); },
                testing::ThrowsMessage<PortError>(testing::HasSubstr("role")));
}

TEST(MemifPort, second_server_on_a_live_socket_path_is_refused_and_a_stale_file_is_replaced) {
    const std::string path = fmt::format("/tmp/kbnet-test-{}.sock", ::getpid());
    {
        auto server = open_port("memif:" + path, options());
        EXPECT_THAT([&] { (void)open_port("memif:" + path, options()); },
                    testing::ThrowsMessage<PortError>(testing::HasSubstr("in use by a running server")));
    }
    EXPECT_NE(::access(path.c_str(), F_OK), 0) << "the server removes its socket file";
    // A file left by a killed server (bound, never unlinked) is replaced.
    {
        mi::Fd stale = mi::listen_control(path);
    }
    ASSERT_EQ(::access(path.c_str(), F_OK), 0);
    auto server = open_port("memif:" + path, options());
    auto client = open_port("memif:" + path + ",role=client", options());
    EXPECT_TRUE(eventually([&] { return server->link_up() && client->link_up(); }));
}

TEST(MemifPort, interrupt_mode_receiver_sleeps_until_the_peer_sends) {
    const std::string sock = socket_name("irq");
    auto server = open_port("memif:" + sock + ",mode=interrupt", options());
    auto client = open_port("memif:" + sock + ",role=client,mode=interrupt", options());
    ASSERT_TRUE(eventually([&] { return server->link_up() && client->link_up(); }));
    std::array<PacketHandle, 8> rx;
    EXPECT_EQ(server->rx_burst(0, rx), 0);
    // The waiter blocks (the timeout is long) until the client's burst kicks it.
    std::atomic<bool> woke{false};
    std::thread waiter([&] {
        EXPECT_TRUE(server->wait_rx(0, 20000));
        woke = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_FALSE(woke.load()) << "nothing was sent yet";
    std::vector<PacketHandle> one(1);
    ASSERT_EQ(client->alloc(0, one), 1);
    ASSERT_TRUE(client->area().append(one[0], 64));
    ASSERT_EQ(client->tx_burst(0, one), 1);
    EXPECT_TRUE(eventually([&] { return woke.load(); }, 5000)) << "the peer's kick did not wake the receiver";
    waiter.join();
    EXPECT_EQ(server->rx_burst(0, rx), 1);
    server->free(0, std::span<const PacketHandle>(rx.data(), 1));
    // A waiter is also woken when the connection goes away.
    std::thread waiter2([&] { EXPECT_TRUE(server->wait_rx(0, 20000)); });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    client.reset();
    waiter2.join();
}

TEST(MemifPort, poll_mode_ports_do_not_wait) {
    const std::string sock = socket_name("nowait");
    auto server = open_port("memif:" + sock, options());
    EXPECT_FALSE(server->wait_rx(0, 20000));
}

// ---- a fake client driven by hand ------------------------------------------

struct FakeClient {
    mi::Fd fd;
    std::string disconnect_reason;  // what the server said when it refused us during handshake()
    explicit FakeClient(const std::string& sock) {
        EXPECT_TRUE(eventually([&] {
            fd = mi::connect_control(sock);
            return fd.valid();
        }));
    }
    // Waits for one message; false on close or timeout.
    bool receive(mi::Message& m, int ms = 3000) {
        pollfd p{fd.get(), POLLIN, 0};
        if (::poll(&p, 1, ms) <= 0) return false;
        mi::Fd ignored;
        std::size_t size = 0;
        return mi::recv_message(fd.get(), m, ignored, size) == mi::RecvStatus::ok;
    }
    // True if the server sent DISCONNECT whose reason contains `what`, then closed.
    bool refused_with(const std::string& what) {
        mi::Message m;
        if (!receive(m)) return false;
        if (mi::get<std::uint16_t>(m, 0) != static_cast<std::uint16_t>(mi::MsgType::disconnect)) return false;
        const std::string reason(mi::get_text(m, mi::disconnect::kString, mi::kDisconnectStringSize));
        EXPECT_THAT(reason, testing::HasSubstr(what));
        mi::Message after;
        return reason.find(what) != std::string::npos && !receive(after);
    }
};

// A real client handshake over the fake client's socket; returns the
// session (shared memory the test can then corrupt), or nullptr.
std::unique_ptr<mi::Session> handshake(FakeClient& c, BufferArea& area,
                                       const std::function<void(mi::Message&)>& tamper = {},
                                       bool interrupt = false) {
    mi::HandshakeConfig cfg;
    cfg.log2_ring = 6;
    cfg.interrupt = interrupt;
    cfg.buffer_fd = area.fd();
    cfg.buffer_base = area.base();
    cfg.buffer_size = area.size_bytes();
    mi::ClientHandshake hs(cfg);
    for (int i = 0; i < 16; ++i) {
        mi::Message m;
        if (!c.receive(m)) return nullptr;
        mi::Step s = hs.on_message(m, mi::Fd());
        if (s.connected) return hs.take_session();
        c.disconnect_reason = s.peer_said;
        if (!s.refuse.empty() || !s.peer_said.empty()) return nullptr;
        for (auto& [msg, attach] : s.send) {
            mi::Message out = msg;
            if (tamper) tamper(out);
            EXPECT_TRUE(mi::send_message(c.fd.get(), out, attach));
        }
    }
    return nullptr;
}

BufferArea shared_area() {
    BufferAreaConfig a;
    a.frame_count = 256;
    a.hugepages = false;
    a.shared = true;
    return BufferArea(a);
}

class MemifBadPeer : public testing::Test {
  protected:
    void SetUp() override {
        sock_ = socket_name(testing::UnitTest::GetInstance()->current_test_info()->name());
        server_ = open_port("memif:" + sock_, options());
    }
    // After each bad peer the server must still serve a good one.
    void TearDown() override {
        auto client = open_port("memif:" + sock_ + ",role=client", options());
        ASSERT_TRUE(eventually([&] { return server_->link_up() && client->link_up(); }))
            << "the server no longer accepts clients";
        expect_pattern(send_and_receive(*client, *server_, 10, 64), 10, 64);
    }
    std::string sock_;
    std::unique_ptr<Port> server_;
};

TEST_F(MemifBadPeer, message_of_the_wrong_size_drops_the_connection) {
    FakeClient c(sock_);
    mi::Message hello;
    ASSERT_TRUE(c.receive(hello));
    const std::array<std::uint8_t, 64> shorter{};
    ASSERT_EQ(::send(c.fd.get(), shorter.data(), shorter.size(), 0), 64);
    EXPECT_TRUE(c.refused_with("control message of 64 bytes"));
}

TEST_F(MemifBadPeer, message_of_an_unknown_or_unexpected_type_drops_the_connection) {
    {
        FakeClient c(sock_);
        mi::Message hello;
        ASSERT_TRUE(c.receive(hello));
        ASSERT_TRUE(mi::send_message(c.fd.get(), mi::make_message(static_cast<mi::MsgType>(77))));
        EXPECT_TRUE(c.refused_with("expected INIT, got unknown type 77"));
    }
    {
        FakeClient c(sock_);
        mi::Message hello;
        ASSERT_TRUE(c.receive(hello));
        ASSERT_TRUE(mi::send_message(c.fd.get(), mi::make_message(mi::MsgType::connect)));
        EXPECT_TRUE(c.refused_with("expected INIT, got CONNECT"));
    }
}

TEST_F(MemifBadPeer, region_larger_than_its_file_drops_the_connection) {
    FakeClient c(sock_);
    BufferArea area = shared_area();
    EXPECT_EQ(handshake(c, area,
                        [](mi::Message& m) {
                            if (mi::get<std::uint16_t>(m, 0) == static_cast<std::uint16_t>(mi::MsgType::add_region) &&
                                mi::get<std::uint16_t>(m, mi::add_region::kIndex) == 1) {
                                mi::put<std::uint64_t>(m, mi::add_region::kSize, std::uint64_t{1} << 32);
                            }
                        }),
              nullptr);
    EXPECT_THAT(c.disconnect_reason, testing::HasSubstr("region 1 claims 4294967296 bytes"));
}

TEST_F(MemifBadPeer, ring_outside_its_region_drops_the_connection) {
    FakeClient c(sock_);
    BufferArea area = shared_area();
    EXPECT_EQ(handshake(c, area,
                        [](mi::Message& m) {
                            if (mi::get<std::uint16_t>(m, 0) == static_cast<std::uint16_t>(mi::MsgType::add_ring)) {
                                mi::put<std::uint32_t>(m, mi::add_ring::kOffset, 0x7fff0000u);
                            }
                        }),
              nullptr);
    EXPECT_THAT(c.disconnect_reason, testing::HasSubstr("does not fit region 0"));
}

TEST_F(MemifBadPeer, descriptor_outside_a_region_drops_the_connection) {
    FakeClient c(sock_);
    BufferArea area = shared_area();
    std::unique_ptr<mi::Session> s = handshake(c, area);
    ASSERT_NE(s, nullptr);
    ASSERT_TRUE(eventually([&] { return server_->link_up(); }));
    // One C2S descriptor whose buffer lies past the end of region 1.
    const mi::RingRef& r = s->c2s[0];
    mi::Descriptor* d = r.desc(0);
    d->flags = 0;
    d->region = 1;
    d->offset = static_cast<std::uint32_t>(area.size_bytes() - 16);
    d->length = 64;
    r.head().store(1, std::memory_order_release);
    std::array<PacketHandle, 8> rx;
    EXPECT_EQ(server_->rx_burst(0, rx), 0);
    EXPECT_TRUE(c.refused_with("descriptor pointing outside its regions"));
    EXPECT_TRUE(eventually([&] { return !server_->link_up(); }));
}

TEST_F(MemifBadPeer, head_moved_past_the_ring_drops_the_connection) {
    FakeClient c(sock_);
    BufferArea area = shared_area();
    std::unique_ptr<mi::Session> s = handshake(c, area);
    ASSERT_NE(s, nullptr);
    ASSERT_TRUE(eventually([&] { return server_->link_up(); }));
    s->c2s[0].head().store(1000, std::memory_order_release);  // the ring holds 64
    std::array<PacketHandle, 8> rx;
    EXPECT_EQ(server_->rx_burst(0, rx), 0);
    EXPECT_TRUE(c.refused_with("moved a ring's head or tail"));
}

TEST_F(MemifBadPeer, chained_packet_from_a_client_is_gathered_into_one_frame) {
    FakeClient c(sock_);
    BufferArea area = shared_area();
    std::unique_ptr<mi::Session> s = handshake(c, area);
    ASSERT_NE(s, nullptr);
    ASSERT_TRUE(eventually([&] { return server_->link_up(); }));
    // 300 bytes in three chained 100-byte pieces, from three frames.
    const mi::RingRef& r = s->c2s[0];
    for (std::uint16_t i = 0; i < 3; ++i) {
        mi::Descriptor* d = r.desc(i);
        d->flags = i < 2 ? mi::kDescFlagNext : 0;
        d->region = 1;
        d->offset = static_cast<std::uint32_t>(area.address(area.fresh(10 + i)));
        d->length = 100;
        std::memset(area.data(area.fresh(10 + i)), 'a' + i, 100);
    }
    r.head().store(3, std::memory_order_release);
    std::array<PacketHandle, 8> rx;
    std::uint16_t n = 0;
    ASSERT_TRUE(eventually([&] { return (n = server_->rx_burst(0, rx)) > 0; }));
    ASSERT_EQ(n, 1);
    ASSERT_EQ(rx[0].length, 300);
    const auto b = server_->bytes(rx[0]);
    EXPECT_EQ(b[0], 'a');
    EXPECT_EQ(b[150], 'b');
    EXPECT_EQ(b[299], 'c');
    EXPECT_EQ(r.tail().load(), 3) << "the server hands the three buffers back";
    server_->free(0, std::span<const PacketHandle>(rx.data(), 1));
}

TEST_F(MemifBadPeer, server_masks_interrupts_on_its_receive_ring_and_kicks_only_unmasked_peers) {
    for (const bool peer_wants_kicks : {false, true}) {
        FakeClient c(sock_);
        BufferArea area = shared_area();
        std::unique_ptr<mi::Session> s = handshake(c, area, {}, peer_wants_kicks);
        ASSERT_NE(s, nullptr);
        ASSERT_TRUE(eventually([&] { return server_->link_up(); }));
        // The server polls (mode=poll): it masks the client's kicks on C2S.
        EXPECT_EQ(s->c2s[0].flags().load() & mi::ring::kFlagMaskInterrupt, mi::ring::kFlagMaskInterrupt);
        // Post one S2C buffer as a client would, then have the server send.
        const mi::RingRef& r = s->s2c[0];
        mi::Descriptor* d = r.desc(0);
        *d = {0, 1, 2048 - 256, static_cast<std::uint32_t>(area.address(area.fresh(5))), 0};
        r.head().store(1, std::memory_order_release);
        std::vector<PacketHandle> pkt(1);
        ASSERT_EQ(server_->alloc(0, pkt), 1);
        ASSERT_TRUE(server_->area().append(pkt[0], 60));
        ASSERT_TRUE(eventually([&] { return server_->tx_burst(0, pkt) == 1; }));
        EXPECT_EQ(r.tail().load(), 1);
        EXPECT_EQ(d->length, 60u);
        std::uint64_t v = 0;
        const bool kicked = ::read(r.eventfd, &v, sizeof v) == static_cast<ssize_t>(sizeof v);
        EXPECT_EQ(kicked, peer_wants_kicks) << "kick iff the client's ring is not masked";
        c.fd.reset();  // the fake client goes; the server waits for the next
        ASSERT_TRUE(eventually([&] { return !server_->link_up(); }));
    }
}

TEST_F(MemifBadPeer, seeded_random_messages_never_crash_the_server) {
    std::mt19937 rng(1234);
    BufferArea area = shared_area();
    const auto random_message = [&] {
        mi::Message m;
        for (auto& b : m) b = static_cast<std::uint8_t>(rng());
        // Mostly real types, some unknown ones; small indices now and then so
        // the checks past the first one are reached too.
        mi::put<std::uint16_t>(m, 0, static_cast<std::uint16_t>(rng() % 10));
        if (rng() % 2 == 0) mi::put<std::uint16_t>(m, 2, static_cast<std::uint16_t>(rng() % 3));
        if (rng() % 2 == 0) mi::put<std::uint16_t>(m, 4, static_cast<std::uint16_t>(rng() % 3));
        if (rng() % 2 == 0) mi::put<std::uint16_t>(m, 6, static_cast<std::uint16_t>(rng() % 3));
        return m;
    };
    for (int round = 0; round < 60; ++round) {
        FakeClient c(sock_);
        mi::Message hello;
        ASSERT_TRUE(c.receive(hello));
        if (round % 2 == 1) {
            // A valid INIT first, so the random messages meet the setup state.
            mi::Message init = mi::make_message(mi::MsgType::init);
            mi::put<std::uint16_t>(init, mi::init::kVersion, mi::kVersion);
            ASSERT_TRUE(mi::send_message(c.fd.get(), init));
            mi::Message ack;
            ASSERT_TRUE(c.receive(ack));
        }
        const int count = 1 + static_cast<int>(rng() % 6);
        for (int i = 0; i < count; ++i) {
            // Sometimes with a descriptor attached (the area's memfd).
            if (!mi::send_message(c.fd.get(), random_message(), rng() % 2 == 0 ? area.fd() : -1)) break;
            mi::Message reply;
            if (!c.receive(reply, 200)) break;
        }
    }
}

}  // namespace
