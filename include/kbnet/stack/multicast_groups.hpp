// The IPv4 multicast groups one stack (one interface) has joined, counted
// per socket membership (RFC 1112 §7.2: "JoinHostGroup"/"LeaveHostGroup" at
// the IP service interface; the interface stays a member while any socket
// is).
//
// IGMP lives on top of this, not inside it: the stack calls a
// MulticastMembershipObserver when a group gets its first member and when it
// loses its last, which is exactly when RFC 2236 §3 / RFC 3376 §5.1 send an
// unsolicited report or a leave. With no observer the stack still accepts
// the group's traffic (fine on links without IGMP snooping, and in tests).
//
// Fixed capacity, no allocation; control path only (join/leave), while
// contains() is on the receive path (a short linear scan: a stack joins few
// groups).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "kbnet/core/result.hpp"
#include "kbnet/wire/address.hpp"

namespace kbnet::stack {

class MulticastMembershipObserver {
  public:
    virtual ~MulticastMembershipObserver() = default;
    // The group's first member joined: send an unsolicited report (and make
    // the group's traffic come here). An error refuses the join: the
    // membership is taken back and join() returns it.
    [[nodiscard]] virtual Status on_first_join(wire::Ipv4Address group) noexcept = 0;
    // The group's last member left: send a leave.
    virtual void on_last_leave(wire::Ipv4Address group) noexcept = 0;
};

class MulticastGroups {
  public:
    // Linux's default IP_MAX_MEMBERSHIPS is 20 per socket; a stack serving a
    // few sockets needs a few times that at most.
    static constexpr std::size_t kCapacity = 64;

    // Adds one membership. invalid_argument for a non-multicast address or
    // 224.0.0.1 (RFC 1112 §4: every host is a member of all-systems, it is
    // never joined); no_buffers when kCapacity groups are joined; the
    // observer's error for a first join it refused.
    [[nodiscard]] Status join(wire::Ipv4Address group) noexcept;
    // Removes one membership; invalid_argument if the group has none.
    [[nodiscard]] Status leave(wire::Ipv4Address group) noexcept;

    // True for a joined group and for 224.0.0.1 (all-systems, RFC 1112 §4),
    // which IGMP queries are sent to.
    [[nodiscard]] bool contains(wire::Ipv4Address group) const noexcept;
    // True when the Ethernet destination is the mapped address (RFC 1112
    // §6.4) of a group contains() accepts. 32 groups share each mapped
    // address, so the IP layer still checks the group itself.
    [[nodiscard]] bool accepts_mac(const wire::MacAddress& mac) const noexcept;
    // Memberships of a group (0 if not joined).
    [[nodiscard]] std::uint32_t members(wire::Ipv4Address group) const noexcept;

    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] wire::Ipv4Address group(std::size_t i) const noexcept { return entries_[i].group; }

    // nullptr to remove. The observer must outlive the stack or be removed.
    void set_observer(MulticastMembershipObserver* observer) noexcept { observer_ = observer; }

  private:
    struct Entry {
        wire::Ipv4Address group;
        std::uint32_t members = 0;
    };
    std::array<Entry, kCapacity> entries_{};
    std::size_t size_ = 0;
    MulticastMembershipObserver* observer_ = nullptr;
};

}  // namespace kbnet::stack
