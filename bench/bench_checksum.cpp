// Internet checksum: the fast sum against the byte-wise definition, over a
// minimum frame, a mid-size packet, a full Ethernet MTU and a jumbo frame.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "kbnet/wire/checksum.hpp"

namespace {

const std::vector<std::uint8_t>& payload() {
    static const std::vector<std::uint8_t> data = [] {
        std::vector<std::uint8_t> v(9000);
        std::mt19937_64 rng(1071);
        for (auto& b : v) b = static_cast<std::uint8_t>(rng());
        return v;
    }();
    return data;
}

template <std::uint32_t (*Sum)(std::span<const std::uint8_t>, std::uint32_t) noexcept>
void run_checksum(benchmark::State& state) {
    const std::span<const std::uint8_t> data(payload().data(), static_cast<std::size_t>(state.range(0)));
    for (auto _ : state) {
        benchmark::DoNotOptimize(data.data());
        std::uint32_t sum = Sum(data, 0);
        benchmark::DoNotOptimize(sum);
    }
    state.SetBytesProcessed(state.iterations() * state.range(0));
}

void BM_checksum_kbnet(benchmark::State& state) { run_checksum<kbnet::wire::checksum_sum>(state); }
void BM_checksum_reference(benchmark::State& state) { run_checksum<kbnet::wire::checksum_sum_reference>(state); }

}  // namespace

BENCHMARK(BM_checksum_kbnet)->Arg(64)->Arg(512)->Arg(1500)->Arg(9000);
BENCHMARK(BM_checksum_reference)->Arg(64)->Arg(512)->Arg(1500)->Arg(9000);
