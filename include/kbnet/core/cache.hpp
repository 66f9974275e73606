#pragma once

#include <cstddef>

namespace kbnet {

// x86-64 and most arm64 parts; std::hardware_destructive_interference_size
// is not usable in headers shared between g++ and clang without warnings.
inline constexpr std::size_t kCacheLine = 64;

#define KBNET_LIKELY(x) __builtin_expect(!!(x), 1)
#define KBNET_UNLIKELY(x) __builtin_expect(!!(x), 0)

}  // namespace kbnet
