// Toeplitz RSS hash of an IPv4 4-tuple (12 input bytes): the per-byte table
// against the bit-by-bit definition, over a rotating set of tuples so the
// compiler cannot hoist the hash out of the loop.
#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <random>
#include <vector>

#include "kbnet/core/endian.hpp"
#include "kbnet/wire/toeplitz.hpp"

namespace {

struct Tuple {
    std::uint32_t src, dst;
    std::uint16_t sport, dport;
    std::array<std::uint8_t, 12> bytes;  // the same tuple in RSS input layout
};

constexpr std::size_t kTuples = 1024;  // power of two: index by mask

const std::vector<Tuple>& tuples() {
    static const std::vector<Tuple> v = [] {
        std::vector<Tuple> t(kTuples);
        std::mt19937_64 rng(5);
        for (auto& x : t) {
            x.src = static_cast<std::uint32_t>(rng());
            x.dst = static_cast<std::uint32_t>(rng());
            x.sport = static_cast<std::uint16_t>(rng());
            x.dport = static_cast<std::uint16_t>(rng());
            kbnet::store_be32(x.bytes.data(), x.src);
            kbnet::store_be32(x.bytes.data() + 4, x.dst);
            kbnet::store_be16(x.bytes.data() + 8, x.sport);
            kbnet::store_be16(x.bytes.data() + 10, x.dport);
        }
        return t;
    }();
    return v;
}

void BM_toeplitz_kbnet(benchmark::State& state) {
    const kbnet::wire::ToeplitzHasher hasher;
    const auto& t = tuples();
    std::size_t i = 0;
    for (auto _ : state) {
        const Tuple& x = t[i++ & (kTuples - 1)];
        benchmark::DoNotOptimize(hasher.hash_ipv4_l4(x.src, x.dst, x.sport, x.dport));
    }
    state.SetItemsProcessed(state.iterations());
}

void BM_toeplitz_reference(benchmark::State& state) {
    const auto& t = tuples();
    std::size_t i = 0;
    for (auto _ : state) {
        const Tuple& x = t[i++ & (kTuples - 1)];
        benchmark::DoNotOptimize(kbnet::wire::toeplitz_hash_reference(kbnet::wire::kRssDefaultKey, x.bytes));
    }
    state.SetItemsProcessed(state.iterations());
}

}  // namespace

BENCHMARK(BM_toeplitz_kbnet);
BENCHMARK(BM_toeplitz_reference);
