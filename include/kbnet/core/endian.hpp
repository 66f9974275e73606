// Loads and stores of fixed-width integers at any alignment, in network
// (big-endian) or little-endian byte order. Wire formats are read through
// these rather than by casting buffers to structs: no alignment traps, no
// strict-aliasing questions, and the compiler emits a single movbe/bswap.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

namespace kbnet {

template <typename T>
[[nodiscard]] inline T load_native(const std::uint8_t* p) noexcept {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

template <typename T>
inline void store_native(std::uint8_t* p, T v) noexcept {
    std::memcpy(p, &v, sizeof v);
}

[[nodiscard]] inline std::uint16_t bswap16(std::uint16_t v) noexcept { return __builtin_bswap16(v); }
[[nodiscard]] inline std::uint32_t bswap32(std::uint32_t v) noexcept { return __builtin_bswap32(v); }
[[nodiscard]] inline std::uint64_t bswap64(std::uint64_t v) noexcept { return __builtin_bswap64(v); }

static_assert(std::endian::native == std::endian::little, "kbnet assumes a little-endian host (x86-64, arm64)");

[[nodiscard]] inline std::uint16_t load_be16(const std::uint8_t* p) noexcept {
    return bswap16(load_native<std::uint16_t>(p));
}
[[nodiscard]] inline std::uint32_t load_be32(const std::uint8_t* p) noexcept {
    return bswap32(load_native<std::uint32_t>(p));
}
[[nodiscard]] inline std::uint64_t load_be64(const std::uint8_t* p) noexcept {
    return bswap64(load_native<std::uint64_t>(p));
}
[[nodiscard]] inline std::uint16_t load_le16(const std::uint8_t* p) noexcept { return load_native<std::uint16_t>(p); }
[[nodiscard]] inline std::uint32_t load_le32(const std::uint8_t* p) noexcept { return load_native<std::uint32_t>(p); }
[[nodiscard]] inline std::uint64_t load_le64(const std::uint8_t* p) noexcept { return load_native<std::uint64_t>(p); }

inline void store_be16(std::uint8_t* p, std::uint16_t v) noexcept { store_native(p, bswap16(v)); }
inline void store_be32(std::uint8_t* p, std::uint32_t v) noexcept { store_native(p, bswap32(v)); }
inline void store_be64(std::uint8_t* p, std::uint64_t v) noexcept { store_native(p, bswap64(v)); }
inline void store_le16(std::uint8_t* p, std::uint16_t v) noexcept { store_native(p, v); }
inline void store_le32(std::uint8_t* p, std::uint32_t v) noexcept { store_native(p, v); }
inline void store_le64(std::uint8_t* p, std::uint64_t v) noexcept { store_native(p, v); }

}  // namespace kbnet
