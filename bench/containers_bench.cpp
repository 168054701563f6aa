// Containers: Seam's containers in a seam::arena against the std containers on the heap and
// Boost.Container / Boost.Unordered in a Boost.Interprocess `managed_shared_memory` segment.
//
// Names are `<op>/<impl>/<n>` so that bench/report.py lines the implementations up:
//   impl seam — seam::vector, string, map, unordered_map, hash_map, with an arena_scope active.
//   impl std  — std::vector, string, map, unordered_map with std::allocator, i.e. jemalloc's
//               malloc (Debian's jemalloc is linked unprefixed; see the malloc_provider context).
//   impl bip  — boost::container::vector / basic_string / map and boost::unordered_map with
//               `boost::interprocess::allocator<T, managed_shared_memory::segment_manager>`.
//   impl absl — hash_* rows only: absl::flat_hash_map on the heap (absl::Hash), the best flat
//               table seam::hash_map is measured against; built if CMake finds absl.
// Ops, each at n = 10^4 and 10^6 elements; keys are distinct pseudo-random 64-bit integers
// (fixed seed), looked up in another pseudo-random order:
//   vector_push_back — push_back n keys into an empty vector<uint64_t>.
//   map_insert       — try_emplace n keys into an empty map<uint64_t, uint64_t>.
//   unordered_insert — the same into an unordered_map (seam: Seam's node table in the arena).
//   hash_insert      — the same into seam::hash_map; std and bip have no flat table, so they
//                      run their unordered_map again (the comparison a user would make).
//   string_append    — n appends of 1..16 characters to an empty string.
//   nested_build     — map<string, vector<int>>: n/8 keys of 32 characters (longer than any
//                      short-string buffer) in random order, 8 push_backs each; n items.
//   map_find, unordered_find, hash_find — n successful finds on a container prebuilt (outside
//                      the timing) from the same keys; the found values are summed.
//   map_lower_bound  — n lower_bounds of absent keys (key + 1) in the prebuilt map.
//   set_find         — n successful finds in a set<uint64_t> of the keys.
//   iterate          — sum a prebuilt vector of n and a map of n by range-for; 2n items.
// Build ops time construction from empty up to the last insertion, no reserve; the container
// is destroyed with the timer paused (PauseTiming), for every impl alike, so a slow free path
// does not count. Container objects live on the stack; their elements live in the arena, the
// segment or the heap. Times are the benchmark thread's CPU time (the machine is shared: CPU
// time does not count the time others hold the core); items/s is what report.py compares.
//
//   seam_bench_containers --benchmark_min_time=0.3 --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true --benchmark_out=containers.json
//       --benchmark_out_format=json
//   bench/report.py containers.json

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/container/map.hpp>
#include <boost/container/set.hpp>
#include <boost/container/string.hpp>
#include <boost/container/vector.hpp>
#include <boost/container_hash/hash.hpp>
#include <boost/interprocess/allocators/allocator.hpp>
#include <boost/interprocess/managed_shared_memory.hpp>
#include <boost/unordered_map.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#ifdef SEAM_BENCH_ABSL
#include <absl/container/flat_hash_map.h>
#endif

#include "bip_segment.hpp"
#include "seam/arena/arena.hpp"
#include "seam/containers/hash_map.hpp"
#include "seam/containers/map.hpp"
#include "seam/containers/set.hpp"
#include "seam/containers/string.hpp"
#include "seam/containers/unordered.hpp"
#include "seam/containers/vector.hpp"

namespace {

namespace bip = boost::interprocess;

constexpr std::array<std::size_t, 2> sizes{10'000, 1'000'000};
constexpr std::size_t values_per_name = 8;  // nested_build: ints per map key
constexpr std::size_t name_length = 32;
constexpr std::size_t max_piece = 16;  // string_append: longest append

// Created in main before any benchmark runs.
seam::arena* g_arena = nullptr;
bip::managed_shared_memory* g_segment = nullptr;

// --- The three implementations: the same container shapes, different memory. ---
// Every container is built from `Impl::allocator<C>()`: a default std::allocator or
// seam::allocator (stateless), or a Boost.Interprocess allocator bound to the segment. Passing
// it costs the stateless ones nothing, and lets one body of code build all three.

struct std_impl {
  static constexpr const char* name = "std";
  template <class T>
  using vector = std::vector<T>;
  using string = std::string;
  template <class K, class V>
  using map = std::map<K, V>;
  template <class K>
  using set = std::set<K>;
  template <class K, class V>
  using unordered_map = std::unordered_map<K, V>;
  template <class K, class V>
  using hash_map = std::unordered_map<K, V>;

  template <class C>
  static typename C::allocator_type allocator() {
    return {};
  }
  struct scope {};
};

struct seam_impl {
  static constexpr const char* name = "seam";
  template <class T>
  using vector = seam::vector<T>;
  using string = seam::string;
  template <class K, class V>
  using map = seam::map<K, V>;
  template <class K>
  using set = seam::set<K>;
  template <class K, class V>
  using unordered_map = seam::unordered_map<K, V>;
  template <class K, class V>
  using hash_map = seam::hash_map<K, V>;

  template <class C>
  static typename C::allocator_type allocator() {
    return {};
  }
  // seam::allocator allocates in the thread's current arena: the scope covers building,
  // finding and destroying.
  struct scope {
    seam::arena_scope active{*g_arena};
  };
};

struct bip_impl {
  static constexpr const char* name = "bip";
  template <class T>
  using allocator_of = bip::allocator<T, bip::managed_shared_memory::segment_manager>;
  template <class T>
  using vector = boost::container::vector<T, allocator_of<T>>;
  using string = boost::container::basic_string<char, std::char_traits<char>, allocator_of<char>>;
  template <class K, class V>
  using map = boost::container::map<K, V, std::less<K>, allocator_of<std::pair<const K, V>>>;
  template <class K>
  using set = boost::container::set<K, std::less<K>, allocator_of<K>>;
  template <class K, class V>
  using unordered_map = boost::unordered_map<K, V, boost::hash<K>, std::equal_to<K>,
                                             allocator_of<std::pair<const K, V>>>;
  template <class K, class V>
  using hash_map = unordered_map<K, V>;

  template <class C>
  static typename C::allocator_type allocator() {
    return typename C::allocator_type(g_segment->get_segment_manager());
  }
  struct scope {};
};

#ifdef SEAM_BENCH_ABSL
// Only the flat table: registered on the hash_* rows alone.
struct absl_impl {
  static constexpr const char* name = "absl";
  template <class K, class V>
  using hash_map = absl::flat_hash_map<K, V>;

  template <class C>
  static typename C::allocator_type allocator() {
    return {};
  }
  struct scope {};
};
#endif

// --- Inputs: built once per n, outside every timing. ---

// splitmix64's finalizer: a bijection of 64-bit integers, so distinct inputs give distinct,
// well-scattered keys without a duplicate check.
constexpr std::uint64_t scramble(std::uint64_t x) noexcept {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

struct dataset {
  std::vector<std::uint64_t> keys;     // n distinct keys, in insertion order
  std::vector<std::uint64_t> lookups;  // the same keys in another order
  std::vector<std::string> names;      // n / values_per_name distinct keys of nested_build
  std::string text;                    // string_append copies pieces of it
  std::vector<std::pair<std::uint32_t, std::uint32_t>> pieces;  // (offset, length) in text
};

const dataset& data_for(std::size_t n) {
  static std::map<std::size_t, std::unique_ptr<dataset>> cache;
  auto& slot = cache[n];
  if (slot) return *slot;
  slot = std::make_unique<dataset>();
  dataset& d = *slot;
  constexpr std::uint64_t seed = 0x5ea3'0001;
  d.keys.resize(n);
  for (std::size_t i = 0; i < n; ++i) d.keys[i] = scramble(seed + i * 0x9e3779b97f4a7c15ull);
  d.lookups = d.keys;
  std::mt19937_64 shuffle_rng(seed + 1);
  std::shuffle(d.lookups.begin(), d.lookups.end(), shuffle_rng);

  d.names.reserve(n / values_per_name);
  for (std::size_t i = 0; i < n / values_per_name; ++i) {
    char name[name_length + 1];
    std::snprintf(name, sizeof name, "%016llx:%015llx", static_cast<unsigned long long>(d.keys[i]),
                  static_cast<unsigned long long>(scramble(d.keys[i]) >> 4));
    d.names.emplace_back(name, name_length);
  }

  std::mt19937_64 text_rng(seed + 2);
  d.text.resize(4096 + max_piece);
  for (char& c : d.text) c = static_cast<char>('a' + text_rng() % 26);
  d.pieces.resize(n);
  for (auto& [offset, length] : d.pieces) {
    offset = static_cast<std::uint32_t>(text_rng() % 4096);
    length = static_cast<std::uint32_t>(1 + text_rng() % max_piece);
  }
  return d;
}

// --- Benchmark bodies. ---

// Times `fill(container)` on a fresh container per iteration and destroys it untimed.
template <class Impl, class Container, class Fill>
void build_loop(benchmark::State& state, std::int64_t items, Fill fill) {
  [[maybe_unused]] typename Impl::scope scope;
  for (auto _ : state) {
    {
      Container c(Impl::template allocator<Container>());
      fill(c);
      benchmark::DoNotOptimize(&c);
      benchmark::ClobberMemory();
      state.PauseTiming();
    }  // destroyed here, not timed
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * items);
}

template <class Impl>
void vector_push_back(benchmark::State& state, std::size_t n) {
  const dataset& d = data_for(n);
  using vector = typename Impl::template vector<std::uint64_t>;
  build_loop<Impl, vector>(state, static_cast<std::int64_t>(n), [&](vector& v) {
    for (std::uint64_t k : d.keys) v.push_back(k);
  });
}

template <class Impl, class Map>
void insert_keys(benchmark::State& state, std::size_t n) {
  const dataset& d = data_for(n);
  build_loop<Impl, Map>(state, static_cast<std::int64_t>(n), [&](Map& m) {
    for (std::uint64_t k : d.keys) m.try_emplace(k, k);
  });
}

template <class Impl>
void map_insert(benchmark::State& state, std::size_t n) {
  insert_keys<Impl, typename Impl::template map<std::uint64_t, std::uint64_t>>(state, n);
}
template <class Impl>
void unordered_insert(benchmark::State& state, std::size_t n) {
  insert_keys<Impl, typename Impl::template unordered_map<std::uint64_t, std::uint64_t>>(state, n);
}
template <class Impl>
void hash_insert(benchmark::State& state, std::size_t n) {
  insert_keys<Impl, typename Impl::template hash_map<std::uint64_t, std::uint64_t>>(state, n);
}

template <class Impl>
void string_append(benchmark::State& state, std::size_t n) {
  const dataset& d = data_for(n);
  using string = typename Impl::string;
  build_loop<Impl, string>(state, static_cast<std::int64_t>(n), [&](string& s) {
    for (const auto& [offset, length] : d.pieces) s.append(d.text.data() + offset, length);
  });
}

template <class Impl>
void nested_build(benchmark::State& state, std::size_t n) {
  const dataset& d = data_for(n);
  using string = typename Impl::string;
  using values = typename Impl::template vector<int>;
  using map = typename Impl::template map<string, values>;
  const std::size_t names = d.names.size();
  build_loop<Impl, map>(state, static_cast<std::int64_t>(names * values_per_name), [&](map& m) {
    for (std::size_t i = 0; i < names; ++i) {
      const std::string& name = d.names[i];
      string key(name.data(), name.size(), Impl::template allocator<string>());
      auto& v = m.try_emplace(std::move(key), Impl::template allocator<values>()).first->second;
      for (std::size_t j = 0; j < values_per_name; ++j) {
        v.push_back(static_cast<int>(d.keys[i * values_per_name + j]));
      }
    }
  });
}

// Times n finds of present keys on a container built before the timing starts.
template <class Impl, class Map>
void find_keys(benchmark::State& state, std::size_t n) {
  const dataset& d = data_for(n);
  [[maybe_unused]] typename Impl::scope scope;
  Map m(Impl::template allocator<Map>());
  for (std::uint64_t k : d.keys) m.try_emplace(k, k);
  std::size_t found = 0;
  for (auto _ : state) {
    std::uint64_t sum = 0;
    found = 0;
    for (std::uint64_t k : d.lookups) {
      const auto it = m.find(k);
      if (it != m.end()) {
        sum += it->second;
        ++found;
      }
    }
    benchmark::DoNotOptimize(sum);
  }
  if (found != n) state.SkipWithError("a key was not found");
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
}

template <class Impl>
void map_find(benchmark::State& state, std::size_t n) {
  find_keys<Impl, typename Impl::template map<std::uint64_t, std::uint64_t>>(state, n);
}
template <class Impl>
void unordered_find(benchmark::State& state, std::size_t n) {
  find_keys<Impl, typename Impl::template unordered_map<std::uint64_t, std::uint64_t>>(state, n);
}
template <class Impl>
void hash_find(benchmark::State& state, std::size_t n) {
  find_keys<Impl, typename Impl::template hash_map<std::uint64_t, std::uint64_t>>(state, n);
}

// n lower_bounds of keys that are absent (each key + 1): a search that ends at a leaf.
template <class Impl>
void map_lower_bound(benchmark::State& state, std::size_t n) {
  const dataset& d = data_for(n);
  [[maybe_unused]] typename Impl::scope scope;
  using map = typename Impl::template map<std::uint64_t, std::uint64_t>;
  map m(Impl::template allocator<map>());
  for (std::uint64_t k : d.keys) m.try_emplace(k, k);
  for (auto _ : state) {
    std::uint64_t sum = 0;
    for (std::uint64_t k : d.lookups) {
      const auto it = m.lower_bound(k + 1);
      if (it != m.end()) sum += it->second;
    }
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
}

// n successful finds in a set of the keys.
template <class Impl>
void set_find(benchmark::State& state, std::size_t n) {
  const dataset& d = data_for(n);
  [[maybe_unused]] typename Impl::scope scope;
  using set = typename Impl::template set<std::uint64_t>;
  set s(Impl::template allocator<set>());
  for (std::uint64_t k : d.keys) s.insert(k);
  std::size_t found = 0;
  for (auto _ : state) {
    found = 0;
    for (std::uint64_t k : d.lookups) found += s.find(k) != s.end();
    benchmark::DoNotOptimize(found);
  }
  if (found != n) state.SkipWithError("a key was not found");
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
}

template <class Impl>
void iterate(benchmark::State& state, std::size_t n) {
  const dataset& d = data_for(n);
  [[maybe_unused]] typename Impl::scope scope;
  using vector = typename Impl::template vector<std::uint64_t>;
  using map = typename Impl::template map<std::uint64_t, std::uint64_t>;
  vector v(Impl::template allocator<vector>());
  map m(Impl::template allocator<map>());
  for (std::uint64_t k : d.keys) {
    v.push_back(k);
    m.try_emplace(k, k);
  }
  for (auto _ : state) {
    std::uint64_t sum = 0;
    for (std::uint64_t x : v) sum += x;
    for (const auto& [key, value] : m) sum += value;
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(2 * n));
}

using bench_fn = void (*)(benchmark::State&, std::size_t);

// One family per op, impls interleaved per size so that they run close together in time.
void register_op(const char* op, std::initializer_list<std::pair<const char*, bench_fn>> impls) {
  for (std::size_t n : sizes) {
    for (const auto& [impl, fn] : impls) {
      const std::string name = std::string(op) + "/" + impl + "/" + std::to_string(n);
      benchmark::RegisterBenchmark(name.c_str(), fn, n)->Unit(benchmark::kMicrosecond);
    }
  }
}

#define SEAM_BENCH_OP(op)                             \
  register_op(#op, {{seam_impl::name, op<seam_impl>}, \
                    {std_impl::name, op<std_impl>},   \
                    {bip_impl::name, op<bip_impl>}})
// The flat-table rows, with absl::flat_hash_map as a fourth impl when it is built in.
#ifdef SEAM_BENCH_ABSL
#define SEAM_BENCH_HASH_OP(op)                        \
  register_op(#op, {{seam_impl::name, op<seam_impl>}, \
                    {std_impl::name, op<std_impl>},   \
                    {bip_impl::name, op<bip_impl>},   \
                    {absl_impl::name, op<absl_impl>}})
#else
#define SEAM_BENCH_HASH_OP(op) SEAM_BENCH_OP(op)
#endif

void register_all() {
  SEAM_BENCH_OP(vector_push_back);
  SEAM_BENCH_OP(map_insert);
  SEAM_BENCH_OP(map_find);
  SEAM_BENCH_OP(map_lower_bound);
  SEAM_BENCH_OP(set_find);
  SEAM_BENCH_OP(unordered_insert);
  SEAM_BENCH_OP(unordered_find);
  SEAM_BENCH_HASH_OP(hash_insert);
  SEAM_BENCH_HASH_OP(hash_find);
  SEAM_BENCH_OP(string_append);
  SEAM_BENCH_OP(nested_build);
  SEAM_BENCH_OP(iterate);
}

// --- The Boost.Interprocess segment. ---

// The largest run (nested_build or a find at 10^6) holds well under 200 MiB in the segment;
// 2 GiB leaves room for Boost's headers and for fragmentation over repeated builds.
constexpr std::size_t wanted_segment_bytes = std::size_t{2} << 30;

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  try {
    seam::arena arena;
    g_arena = &arena;

    seam::bench::segment_name name("seam_bench_containers");
    const std::size_t bytes = seam::bench::segment_bytes(wanted_segment_bytes);
    bip::managed_shared_memory segment(bip::create_only, name.c_str(), bytes);
    g_segment = &segment;

    benchmark::AddCustomContext("malloc_provider", seam::bench::malloc_provider());
    benchmark::AddCustomContext("seam_arena_capacity", std::to_string(arena.capacity()));
    benchmark::AddCustomContext("bip_segment_bytes", std::to_string(bytes));

    register_all();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();

    g_segment = nullptr;
    g_arena = nullptr;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "seam_bench_containers: %s\n", e.what());
    return 1;
  }
  return 0;
}
