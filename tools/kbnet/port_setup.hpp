// Setup steps the kbnet subcommands share: opening a port for a stack,
// waiting for a port's peer, pinning the polling thread.
#pragma once

#include <memory>
#include <span>
#include <string>

#include "kbnet/port/port.hpp"
#include "kbnet/stack/stack.hpp"
#include "kbnet/wire/address.hpp"

namespace kbnet::tools {

// Blocks until a port with a peer (memif) has one, or a stop signal; says
// so on stderr first. Returns false if stopped before the peer came.
bool wait_for_link(port::Port& p, const char* tool, const std::string& spec);

// Pins the calling thread to core (nothing for -1); throws
// std::invalid_argument naming the option if it cannot.
void pin_to_core(int core);

// The address model (design.md, decision 4): with address (IP/PREFIX) the
// stack owns it (dedicated mode); without it the stack shares the address
// of the Linux interface under spec with the kernel (shared mode, afxdp and
// afpacket ports only). Throws std::invalid_argument naming the fix.
// Returns true for shared mode.
bool set_address_mode(stack::StackConfig& cfg, const std::string& address, const std::string& spec);

// A stack's link settings from the Linux interface under spec (afxdp,
// afpacket): frames must carry the interface's MAC to be delivered, and the
// IP MTU is the interface's (at most 1500). Other ports keep the defaults.
void apply_device_defaults(stack::StackConfig& cfg, const std::string& spec);

// Opens spec for a stack in dedicated mode: on a port that shares its
// device with the kernel (AF_XDP), the XDP program hands the stack every
// packet to each owned address (ARP, IPv4, fragments) and nothing else.
// Then waits for the port's peer.
std::unique_ptr<port::Port> open_stack_port(const std::string& spec, std::span<const wire::Ipv4Address> owned,
                                            const char* tool);

}  // namespace kbnet::tools
