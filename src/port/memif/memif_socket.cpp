#include "port/memif/memif_socket.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "kbnet/port/port.hpp"

namespace kbnet::port::memif {
namespace {

bool is_abstract(const std::string& name) { return !name.empty() && name[0] == '@'; }

// Fills addr for name; returns the address length, 0 if the name is too long.
socklen_t make_address(const std::string& name, sockaddr_un& addr) {
    std::memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    if (name.size() >= sizeof addr.sun_path) return 0;
    std::memcpy(addr.sun_path, name.data(), name.size());
    if (is_abstract(name)) {
        // Abstract namespace: a leading NUL, and the length says where the
        // name ends (no terminator).
        addr.sun_path[0] = '\0';
        return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    }
    return static_cast<socklen_t>(sizeof addr);
}

}  // namespace

void Fd::reset(int fd) noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
}

Fd listen_control(const std::string& name) {
    sockaddr_un addr;
    const socklen_t len = make_address(name, addr);
    if (len == 0) {
        throw PortError(fmt::format("memif: socket name '{}' is longer than {} bytes; use a shorter path", name,
                                    sizeof addr.sun_path - 1));
    }
    Fd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd.valid()) throw PortError(fmt::format("memif: socket(): {}", std::strerror(errno)));
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
        if (errno != EADDRINUSE) throw PortError(fmt::format("memif: cannot bind {}: {}", name, std::strerror(errno)));
        if (is_abstract(name)) {
            throw PortError(
                fmt::format("memif: abstract socket {} is in use by a running server; choose another name", name));
        }
        // A file is there. If a server answers on it, it is in use; if not,
        // it is what a killed server left behind, and we take its place.
        if (connect_control(name).valid()) {
            throw PortError(fmt::format(
                "memif: socket {} is in use by a running server; stop it or choose another socket path", name));
        }
        struct stat st;
        if (::lstat(name.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) {
            throw PortError(fmt::format("memif: {} exists and is not a socket; remove it or choose another path", name));
        }
        ::unlink(name.c_str());
        if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
            throw PortError(fmt::format("memif: cannot bind {}: {}", name, std::strerror(errno)));
        }
    }
    if (::listen(fd.get(), 4) != 0) {
        throw PortError(fmt::format("memif: cannot listen on {}: {}", name, std::strerror(errno)));
    }
    return fd;
}

void unlink_control(const std::string& name) noexcept {
    if (!is_abstract(name)) ::unlink(name.c_str());
}

Fd connect_control(const std::string& name) noexcept {
    sockaddr_un addr;
    const socklen_t len = make_address(name, addr);
    if (len == 0) {
        errno = ENAMETOOLONG;
        return Fd();
    }
    Fd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd.valid()) return fd;
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
        const int e = errno;
        fd.reset();
        errno = e;
    }
    return fd;
}

bool send_message(int fd, const Message& m, int attach) noexcept {
    iovec iov{const_cast<std::uint8_t*>(m.data()), m.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int))> control{};
    if (attach >= 0) {
        msg.msg_control = control.data();
        msg.msg_controllen = control.size();
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(c), &attach, sizeof(int));
    }
    // MSG_NOSIGNAL: a vanished peer is an error to handle, not a SIGPIPE.
    return ::sendmsg(fd, &msg, MSG_NOSIGNAL) == static_cast<ssize_t>(m.size());
}

RecvStatus recv_message(int fd, Message& out, Fd& fd_out, std::size_t& size) noexcept {
    // One byte more than a message, so a longer packet shows up as one
    // (with MSG_TRUNC as a second witness) instead of being cut silently.
    std::array<std::uint8_t, kMessageSize + 1> buf{};
    iovec iov{buf.data(), buf.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int) * 4)> control{};
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    const ssize_t n = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    size = n > 0 ? static_cast<std::size_t>(n) : 0;
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return RecvStatus::would_block;
        if (errno == ECONNRESET) return RecvStatus::closed;
        return RecvStatus::error;
    }
    // Every descriptor that arrived is owned now, whatever else is wrong.
    int fds_seen = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (std::size_t i = 0; i < count; ++i) {
            int received;
            std::memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (fds_seen++ == 0) {
                fd_out.reset(received);
            } else {
                ::close(received);
            }
        }
    }
    if (n == 0) return RecvStatus::closed;
    if (fds_seen > 1 || (msg.msg_flags & MSG_CTRUNC) != 0) return RecvStatus::bad_fds;
    if (static_cast<std::size_t>(n) != kMessageSize || (msg.msg_flags & MSG_TRUNC) != 0) return RecvStatus::bad_size;
    std::memcpy(out.data(), buf.data(), kMessageSize);
    return RecvStatus::ok;
}

}  // namespace kbnet::port::memif
