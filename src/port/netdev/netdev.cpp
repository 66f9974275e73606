#include "port/netdev/netdev.hpp"

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "kbnet/port/port.hpp"

namespace kbnet::port::netdev {
namespace {

// An AF_INET datagram socket: the handle the interface ioctls need. It
// lives in the caller's network namespace, so the answers do too (unlike
// /sys, which shows the namespace it was mounted in).
class IoctlSocket {
  public:
    IoctlSocket() : fd_(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {}
    ~IoctlSocket() {
        if (fd_ >= 0) ::close(fd_);
    }
    IoctlSocket(const IoctlSocket&) = delete;
    IoctlSocket& operator=(const IoctlSocket&) = delete;
    [[nodiscard]] int fd() const noexcept { return fd_; }

  private:
    int fd_;
};

ifreq make_ifreq(std::string_view ifname) {
    ifreq ifr{};
    const std::size_t n = std::min(ifname.size(), sizeof ifr.ifr_name - 1);
    std::memcpy(ifr.ifr_name, ifname.data(), n);
    return ifr;
}

bool ethtool(std::string_view ifname, void* cmd) {
    IoctlSocket s;
    if (s.fd() < 0) return false;
    ifreq ifr = make_ifreq(ifname);
    ifr.ifr_data = static_cast<char*>(cmd);
    return ::ioctl(s.fd(), SIOCETHTOOL, &ifr) == 0;
}

}  // namespace

int interface_index(std::string_view ifname) {
    if (ifname.empty() || ifname.size() >= IF_NAMESIZE) {
        throw PortError(fmt::format("no interface '{}' (interface names are 1 to {} characters; see `ip link`)", ifname,
                                    IF_NAMESIZE - 1));
    }
    const unsigned index = ::if_nametoindex(std::string(ifname).c_str());
    if (index == 0) throw PortError(fmt::format("no interface '{}' (see `ip link`)", ifname));
    return static_cast<int>(index);
}

QueueCount rx_queue_count(std::string_view ifname, int ifindex) {
    // /sys/class/net/X/queues/rx-N lists exactly the real rx queues, but
    // only if this /sys belongs to our namespace: check the ifindex.
    namespace fs = std::filesystem;
    const fs::path dir = fs::path("/sys/class/net") / std::string(ifname);
    std::ifstream idx_file(dir / "ifindex");
    int sys_index = -1;
    if (idx_file >> sys_index && sys_index == ifindex) {
        std::error_code ec;
        unsigned n = 0;
        for (const auto& e : fs::directory_iterator(dir / "queues", ec)) {
            if (e.path().filename().string().starts_with("rx-")) ++n;
        }
        if (!ec && n > 0) return {n, fmt::format("/sys/class/net/{}/queues", ifname)};
    }
    // ethtool channels: drivers report rx-only and combined channels, and an
    // XDP socket binds to a channel index.
    ethtool_channels ch{};
    ch.cmd = ETHTOOL_GCHANNELS;
    if (ethtool(ifname, &ch)) {
        const unsigned n = std::max(ch.rx_count, ch.combined_count);
        if (n > 0) return {n, "ethtool channels"};
    }
    return {1, "default (no queue information)"};
}

unsigned interface_mtu(std::string_view ifname) {
    IoctlSocket s;
    ifreq ifr = make_ifreq(ifname);
    if (s.fd() < 0 || ::ioctl(s.fd(), SIOCGIFMTU, &ifr) != 0) {
        throw PortError(fmt::format("cannot read the MTU of '{}': {}", ifname, std::strerror(errno)));
    }
    return static_cast<unsigned>(ifr.ifr_mtu);
}

LinkState link_state(std::string_view ifname) {
    IoctlSocket s;
    ifreq ifr = make_ifreq(ifname);
    if (s.fd() < 0 || ::ioctl(s.fd(), SIOCGIFFLAGS, &ifr) != 0) {
        throw PortError(fmt::format("cannot read the flags of '{}': {}", ifname, std::strerror(errno)));
    }
    const auto flags = static_cast<unsigned>(static_cast<unsigned short>(ifr.ifr_flags));
    return {(flags & IFF_UP) != 0, (flags & IFF_RUNNING) != 0};
}

unsigned link_type(std::string_view ifname) {
    IoctlSocket s;
    ifreq ifr = make_ifreq(ifname);
    if (s.fd() < 0 || ::ioctl(s.fd(), SIOCGIFHWADDR, &ifr) != 0) {
        throw PortError(fmt::format("cannot read the link type of '{}': {}", ifname, std::strerror(errno)));
    }
    return ifr.ifr_hwaddr.sa_family;
}

std::string driver_name(std::string_view ifname) {
    ethtool_drvinfo info{};
    info.cmd = ETHTOOL_GDRVINFO;
    if (!ethtool(ifname, &info)) return {};
    info.driver[sizeof info.driver - 1] = '\0';
    return info.driver;
}

std::optional<std::uint64_t> effective_capabilities() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (!line.starts_with("CapEff:")) continue;
        std::uint64_t eff = 0;
        std::istringstream in(line.substr(7));
        if (in >> std::hex >> eff) return eff;
        return std::nullopt;
    }
    return std::nullopt;
}

}  // namespace kbnet::port::netdev
