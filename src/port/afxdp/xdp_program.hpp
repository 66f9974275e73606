// kbnet's XDP program on one interface: loaded from the bytes embedded in
// the library, attached through libxdp, detached by the destructor.
//
// libxdp attaches it through its dispatcher when it can, so it runs next
// to other XDP programs on the same interface (the dispatcher needs bpffs
// at /sys/fs/bpf and a kernel that allows freplace programs); otherwise
// libxdp falls back to attaching it alone, and the log says so.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "port/afxdp/xdp_maps.hpp"

struct bpf_object;
struct xdp_program;

namespace kbnet::port::afxdp {

// The compiled program (bpf/kbnet_xdp.bpf.c), generated at build time.
[[nodiscard]] std::span<const std::uint8_t> kbnet_xdp_object() noexcept;

// Sends libbpf's and libxdp's messages to kbnet's log at debug level
// (KBNET_LOG=debug shows them), keeping the last "Kernel error message"
// so a PortError can quote it. Idempotent.
void route_bpf_logging();
// The kernel's last extended error message seen by libbpf ("veth: Peer MTU
// is too large to set XDP"), or "".
[[nodiscard]] std::string last_kernel_message();
void clear_kernel_message();

struct BpfObjectClose {
    void operator()(bpf_object* obj) const noexcept;
};
using BpfObjectPtr = std::unique_ptr<bpf_object, BpfObjectClose>;
// Opens (does not load) the embedded object. Throws PortError.
[[nodiscard]] BpfObjectPtr open_kbnet_object();

// The largest MTU a veth peer may have while a program without multi-buffer
// support is attached in native mode (drivers/net/veth.c, veth_xdp_set():
// a page minus XDP headroom, skb_shared_info and the Ethernet header).
[[nodiscard]] unsigned veth_native_xdp_max_mtu() noexcept;

enum class AttachMode : std::uint8_t { native, skb };

class XdpProgram {
  public:
    // Attaches to the interface in native mode, falling back to SKB
    // (generic) mode when the driver has no native XDP. A kbnet program
    // left on the interface by a process that is gone is detached first
    // (and logged); one owned by a live process is a PortError. The mode
    // starts as SteerMode::filtered with no filters: everything still goes
    // to the kernel until the port says otherwise.
    XdpProgram(std::string ifname, int ifindex);
    ~XdpProgram();
    XdpProgram(const XdpProgram&) = delete;
    XdpProgram& operator=(const XdpProgram&) = delete;

    [[nodiscard]] XdpMaps& maps() noexcept { return maps_; }
    [[nodiscard]] const XdpMaps& maps() const noexcept { return maps_; }
    [[nodiscard]] AttachMode attach_mode() const noexcept { return mode_; }
    [[nodiscard]] bool dispatcher() const noexcept { return dispatcher_; }
    [[nodiscard]] std::uint32_t id() const noexcept;

  private:
    void detach() noexcept;

    std::string ifname_;
    int ifindex_;
    BpfObjectPtr obj_;
    xdp_program* prog_ = nullptr;
    AttachMode mode_ = AttachMode::native;
    bool dispatcher_ = false;
    XdpMaps maps_;
};

// Detaches the kbnet programs on an interface whose owner is gone (or all
// of them with include_live), logging each. Returns how many. Used at
// attach time and by `kbnet xdp unload`.
unsigned remove_kbnet_programs(std::string_view ifname, int ifindex, bool include_live);

}  // namespace kbnet::port::afxdp
