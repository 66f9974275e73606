// The memif connection handshake as two state machines, one per role, fed
// one control message at a time; the port's control thread does the socket
// I/O around them, so tests can drive every step and every refusal directly.
//
//   server                              client
//   HELLO (limits)             ->
//                              <-       INIT (version, id, secret)
//   ACK                        ->
//                              <-       ADD_REGION (memfd) ... each ACKed
//                              <-       ADD_RING (eventfd) ... each ACKed
//                              <-       CONNECT
//   CONNECTED                  ->
//
// Anything else (a wrong secret or id, a region or ring that does not fit,
// a message out of order) refuses the connection with a reason, which the
// port logs and sends to the peer in DISCONNECT.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "port/memif/memif_abi.hpp"
#include "port/memif/memif_session.hpp"
#include "port/memif/memif_socket.hpp"

namespace kbnet::port::memif {

inline constexpr std::uint16_t kMaxRegions = 16;
inline constexpr std::uint8_t kMaxLog2Ring = 14;  // u16 ring indices: a ring must hold under 2^16 slots

struct HandshakeConfig {
    std::uint32_t id = 0;
    std::string secret;  // up to 24 bytes; empty: none
    std::uint16_t queues = 1;
    std::uint8_t log2_ring = 10;
    bool interrupt = false;  // false: our receive rings are polled, so the peer need not kick
    std::string name = "kbnet";
    // Client only: the buffer area, shared as region 1.
    int buffer_fd = -1;
    std::uint8_t* buffer_base = nullptr;
    std::uint64_t buffer_size = 0;
};

// What to do after a message.
struct Step {
    std::vector<std::pair<Message, int>> send;  // messages in order, each with an fd to attach (-1: none)
    bool connected = false;                     // the session is ready: take_session()
    std::string refuse;     // non-empty: we refuse the peer for this reason (send DISCONNECT, close)
    std::string peer_said;  // non-empty: the peer disconnected with this reason (close)
};

[[nodiscard]] Message make_disconnect(std::string_view reason) noexcept;

class ServerHandshake {
  public:
    explicit ServerHandshake(HandshakeConfig config) : config_(std::move(config)) {}
    [[nodiscard]] Message hello() const;
    [[nodiscard]] Step on_message(const Message& m, Fd fd);
    [[nodiscard]] std::unique_ptr<Session> take_session() { return std::move(session_); }

  private:
    Step on_init(const Message& m);
    Step on_add_region(const Message& m, Fd fd);
    Step on_add_ring(const Message& m, Fd fd);
    Step on_connect();

    enum class State { want_init, want_setup, connected, failed } state_ = State::want_init;
    HandshakeConfig config_;
    std::unique_ptr<Session> session_ = std::make_unique<Session>();
    std::vector<bool> have_c2s_, have_s2c_;
};

class ClientHandshake {
  public:
    explicit ClientHandshake(HandshakeConfig config) : config_(std::move(config)) {}
    [[nodiscard]] Step on_message(const Message& m, Fd fd);
    [[nodiscard]] std::unique_ptr<Session> take_session() { return std::move(session_); }
    // The ring size agreed (ours, or the server's limit if lower).
    [[nodiscard]] std::uint8_t log2_ring() const noexcept { return log2_; }

  private:
    Step on_hello(const Message& m);
    void build_shared_memory();

    enum class State { want_hello, want_ack, want_connected, connected, failed } state_ = State::want_hello;
    HandshakeConfig config_;
    std::uint8_t log2_ = 0;
    std::unique_ptr<Session> session_ = std::make_unique<Session>();
    std::vector<std::pair<Message, int>> pending_;  // to send, one per ACK
    std::size_t next_ = 0;
};

}  // namespace kbnet::port::memif
