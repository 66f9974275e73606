#include "kbnet/wire/checksum.hpp"

namespace kbnet::wire {

std::uint32_t checksum_sum_reference(std::span<const std::uint8_t> data, std::uint32_t initial) noexcept {
    std::uint64_t sum = initial;
    std::size_t i = 0;
    for (; i + 1 < data.size(); i += 2) sum += static_cast<std::uint32_t>(data[i] << 8 | data[i + 1]);
    if (i < data.size()) sum += static_cast<std::uint32_t>(data[i] << 8);
    while (sum >> 32) sum = (sum & 0xffffffffu) + (sum >> 32);
    return static_cast<std::uint32_t>(sum);
}

// Placeholder until the fast path lands: same results, reference speed.
std::uint32_t checksum_sum(std::span<const std::uint8_t> data, std::uint32_t initial) noexcept {
    return checksum_sum_reference(data, initial);
}

}  // namespace kbnet::wire
