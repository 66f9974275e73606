// The memif control socket: AF_UNIX SOCK_SEQPACKET, one fixed-size message
// per packet, file descriptors (regions, eventfds) passed with SCM_RIGHTS.
//
// A socket name starting with '@' is in the abstract namespace (no file;
// DPDK's socket-abstract=yes); anything else is a filesystem path.
#pragma once

#include <cstddef>
#include <string>
#include <utility>

#include "port/memif/memif_abi.hpp"

namespace kbnet::port::memif {

// An owned file descriptor, closed on destruction.
class Fd {
  public:
    Fd() noexcept = default;
    explicit Fd(int fd) noexcept : fd_(fd) {}
    Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    Fd& operator=(Fd&& o) noexcept {
        if (this != &o) reset(std::exchange(o.fd_, -1));
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { reset(); }

    [[nodiscard]] int get() const noexcept { return fd_; }
    [[nodiscard]] bool valid() const noexcept { return fd_ >= 0; }
    [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }
    void reset(int fd = -1) noexcept;

  private:
    int fd_ = -1;
};

// Listens on name. A leftover socket file nobody answers on (a server that
// was killed) is replaced; one a live server answers on is an error, as is
// any other failure (the message names the path and the fix). Throws PortError.
[[nodiscard]] Fd listen_control(const std::string& name);
// Removes the socket file of a filesystem name (nothing for abstract names).
void unlink_control(const std::string& name) noexcept;

// Connects to name without blocking the caller for long (local connect
// either succeeds or fails at once). Invalid Fd and errno set on failure.
[[nodiscard]] Fd connect_control(const std::string& name) noexcept;

// Sends one message, with attach (if valid) as its SCM_RIGHTS payload.
// False (errno set) if the peer is gone or the send failed.
[[nodiscard]] bool send_message(int fd, const Message& m, int attach = -1) noexcept;

enum class RecvStatus {
    ok,         // one message of exactly kMessageSize bytes in out
    closed,     // orderly close by the peer (or a reset)
    bad_size,   // a packet of another size: a protocol violation
    bad_fds,    // more than one descriptor attached, or the control data was cut
    would_block,
    error,      // errno says why
};
// Receives one message and the descriptor sent with it (if any) into fd_out.
[[nodiscard]] RecvStatus recv_message(int fd, Message& out, Fd& fd_out, std::size_t& size) noexcept;

}  // namespace kbnet::port::memif
