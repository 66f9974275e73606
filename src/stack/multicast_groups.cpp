#include "kbnet/stack/multicast_groups.hpp"

#include "kbnet/wire/igmp.hpp"

namespace kbnet::stack {

Status MulticastGroups::join(wire::Ipv4Address group) noexcept {
    if (!group.is_multicast() || group == wire::kIpv4AllSystems) {
        return Error{Errc::invalid_argument, "not a joinable multicast group (224.0.0.0/4, not 224.0.0.1)"};
    }
    for (std::size_t i = 0; i < size_; ++i) {
        if (entries_[i].group == group) {
            ++entries_[i].members;
            return {};
        }
    }
    if (size_ == kCapacity) return Error{Errc::no_buffers, "too many multicast groups joined on this stack"};
    entries_[size_++] = {group, 1};
    if (observer_ != nullptr) {
        if (Status st = observer_->on_first_join(group); !st) {
            --size_;  // the entry just added is the last one
            return st;
        }
    }
    return {};
}

Status MulticastGroups::leave(wire::Ipv4Address group) noexcept {
    for (std::size_t i = 0; i < size_; ++i) {
        if (entries_[i].group != group) continue;
        if (--entries_[i].members == 0) {
            entries_[i] = entries_[--size_];
            if (observer_ != nullptr) observer_->on_last_leave(group);
        }
        return {};
    }
    return Error{Errc::invalid_argument, "multicast group not joined"};
}

bool MulticastGroups::contains(wire::Ipv4Address group) const noexcept {
    if (group == wire::kIpv4AllSystems) return true;
    for (std::size_t i = 0; i < size_; ++i) {
        if (entries_[i].group == group) return true;
    }
    return false;
}

bool MulticastGroups::accepts_mac(const wire::MacAddress& mac) const noexcept {
    if (mac == wire::MacAddress::for_ipv4_multicast(wire::kIpv4AllSystems.value)) return true;
    for (std::size_t i = 0; i < size_; ++i) {
        if (mac == wire::MacAddress::for_ipv4_multicast(entries_[i].group.value)) return true;
    }
    return false;
}

std::uint32_t MulticastGroups::members(wire::Ipv4Address group) const noexcept {
    for (std::size_t i = 0; i < size_; ++i) {
        if (entries_[i].group == group) return entries_[i].members;
    }
    return 0;
}

}  // namespace kbnet::stack
