// Allocator throughput: seam::arena against jemalloc's own arenas (plain malloc/free) and
// Boost.Interprocess `managed_shared_memory`.
//
// Names are `<op>/<impl>/<size>` (Google Benchmark appends `/real_time/threads:N`), so
// bench/report.py can line the implementations up by op and size:
//   pair  — allocate, touch the first byte, free: the hot path of a thread cache.
//   batch — 1024 allocations, then 1024 frees in allocation order: overflows the thread cache,
//           so it measures the refill/flush path into the shared heap as well.
// One item is one allocation plus its free; items/s is the total over all threads (real time).
//
//   seam_bench_arena --benchmark_min_time=0.2 --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true --benchmark_enable_random_interleaving=true
//       --benchmark_out=arena.json --benchmark_out_format=json
//   bench/report.py arena.json [--png arena.png]
// On a shared machine, random interleaving spreads bursts of other load over all benchmarks
// instead of one, and `report.py --metric items_per_cpu_second` shows throughput per CPU-second.

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/interprocess/managed_shared_memory.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <new>
#include <string>

#include "bip_segment.hpp"
#include "seam/arena/arena.hpp"

namespace {

namespace bip = boost::interprocess;

constexpr std::size_t batch_size = 1024;
constexpr std::array<std::size_t, 7> sizes{16, 64, 256, 1024, 4096, 16384, 65536};

// Created in main before any benchmark thread starts, so every thread of a run shares them,
// as the threads of a real server would share one arena or one segment.
seam::arena* g_arena = nullptr;
bip::managed_shared_memory* g_segment = nullptr;

// Each implementation is used through its non-throwing entry points, so that all three pay for
// the same null check and a full heap ends a benchmark with an error instead of terminating.

struct seam_impl {
  static constexpr const char* name = "seam";
  static void* allocate(std::size_t size) noexcept {
    return g_arena->allocate(size, seam::arena::default_alignment, std::nothrow);
  }
  // Passing the size is what seam::allocator does; it lets jemalloc skip a size lookup.
  static void deallocate(void* p, std::size_t size) noexcept { g_arena->deallocate(p, size); }
};

struct malloc_impl {
  static constexpr const char* name = "malloc";
  static void* allocate(std::size_t size) noexcept { return std::malloc(size); }
  static void deallocate(void* p, std::size_t) noexcept { std::free(p); }
};

struct bip_impl {
  static constexpr const char* name = "bip";
  static void* allocate(std::size_t size) noexcept {
    return g_segment->allocate(size, std::nothrow);
  }
  static void deallocate(void* p, std::size_t) noexcept { g_segment->deallocate(p); }
};

// Writes the block's first byte: a block nobody touches could stay a virtual promise, and
// the store keeps the compiler from treating the allocation as dead.
inline void touch(void* p, std::size_t size) noexcept {
  *static_cast<unsigned char*>(p) = static_cast<unsigned char>(size);
  benchmark::DoNotOptimize(p);  // also a memory clobber: the store above must happen
}

template <class Impl>
void pair_bench(benchmark::State& state, std::size_t size) {
  for (auto _ : state) {
    void* p = Impl::allocate(size);
    if (p == nullptr) {
      state.SkipWithError("allocation failed");
      break;
    }
    touch(p, size);
    Impl::deallocate(p, size);
  }
  state.SetItemsProcessed(state.iterations());
}

template <class Impl>
void batch_bench(benchmark::State& state, std::size_t size) {
  std::array<void*, batch_size> blocks{};
  for (auto _ : state) {
    std::size_t n = 0;
    for (; n < batch_size; ++n) {
      void* p = Impl::allocate(size);
      if (p == nullptr) break;
      touch(p, size);
      blocks[n] = p;
    }
    benchmark::DoNotOptimize(blocks.data());
    // Allocation order, not reverse: a LIFO free order would flatter any cache.
    for (std::size_t i = 0; i < n; ++i) Impl::deallocate(blocks[i], size);
    if (n < batch_size) {
      state.SkipWithError("allocation failed (heap full?)");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch_size));
}

template <class Impl>
void register_impl() {
  for (std::size_t size : sizes) {
    const std::string suffix = std::string("/") + Impl::name + "/" + std::to_string(size);
    benchmark::RegisterBenchmark(("pair" + suffix).c_str(), pair_bench<Impl>, size)
        ->Threads(1)
        ->Threads(2)
        ->UseRealTime();
    benchmark::RegisterBenchmark(("batch" + suffix).c_str(), batch_bench<Impl>, size)
        ->Threads(1)
        ->Threads(2)
        ->UseRealTime();
  }
}

// A batch of the largest size on two threads holds 2 x 1024 x 64 KiB = 128 MiB at once, plus
// Boost's headers and fragmentation.
constexpr std::size_t wanted_segment_bytes = std::size_t{512} << 20;

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  try {
    seam::arena arena;
    g_arena = &arena;

    seam::bench::segment_name name("seam_bench_arena");
    const std::size_t bytes = seam::bench::segment_bytes(wanted_segment_bytes);
    bip::managed_shared_memory segment(bip::create_only, name.c_str(), bytes);
    g_segment = &segment;

    benchmark::AddCustomContext("malloc_provider", seam::bench::malloc_provider());
    benchmark::AddCustomContext("seam_arena_capacity", std::to_string(arena.capacity()));
    benchmark::AddCustomContext("bip_segment_bytes", std::to_string(bytes));

    register_impl<seam_impl>();
    register_impl<malloc_impl>();
    register_impl<bip_impl>();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();

    g_segment = nullptr;
    g_arena = nullptr;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "seam_bench_arena: %s\n", e.what());
    return 1;
  }
  return 0;
}
