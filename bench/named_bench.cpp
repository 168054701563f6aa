// Named objects: looking up one name among <names> (owner and read-only view), and making then
// destroying a named object, against Boost.Interprocess's named objects
// (`managed_shared_memory::find` / `construct` / `destroy`) in the same run.
//
// Rows: <op>/<impl>/<names>, op in {find, view_find, make_destroy}, impl in {seam, bip}.
// The name looked up is a different one on each iteration (cycling through all of them), so
// the rows show the average cost over the directory, not its best case.
//
//   seam_bench_named --benchmark_enable_random_interleaving=true --benchmark_repetitions=5

#include <benchmark/benchmark.h>

#include <boost/interprocess/managed_shared_memory.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "bip_segment.hpp"
#include "seam/arena.hpp"

namespace {

namespace bip = boost::interprocess;

std::vector<std::string> names_of(std::size_t n) {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < n; ++i) names.push_back("object/" + std::to_string(i * 7919));
  return names;
}

struct seam_impl {
  seam::arena arena{{.capacity = std::size_t{1} << 30, .name = "named-bench"}};
  seam::unique_fd fd;
  seam::arena_view view;
  explicit seam_impl(const std::vector<std::string>& names) {
    for (std::size_t i = 0; i < names.size(); ++i) arena.make_named<std::uint64_t>(names[i], i);
    fd = arena.share();
    view = seam::arena_view::open(fd.get());
  }
  const std::uint64_t* find(const std::string& name) { return arena.find<std::uint64_t>(name); }
  const std::uint64_t* view_find(const std::string& name) { return view.find<std::uint64_t>(name); }
  void make_destroy(const std::string& name) {
    arena.make_named<std::uint64_t>(name, 1u);
    arena.destroy_named<std::uint64_t>(name);
  }
};

struct bip_impl {
  seam::bench::segment_name segment{"seam-named-bench"};
  bip::managed_shared_memory memory{bip::create_only, segment.c_str(),
                                    seam::bench::segment_bytes(std::size_t{64} << 20)};
  explicit bip_impl(const std::vector<std::string>& names) {
    for (std::size_t i = 0; i < names.size(); ++i) {
      memory.construct<std::uint64_t>(names[i].c_str())(i);
    }
  }
  const std::uint64_t* find(const std::string& name) {
    return memory.find<std::uint64_t>(name.c_str()).first;
  }
  // bip has no read-only view: a reader opens the segment and finds the same way.
  const std::uint64_t* view_find(const std::string& name) { return find(name); }
  void make_destroy(const std::string& name) {
    memory.construct<std::uint64_t>(name.c_str())(1u);
    memory.destroy<std::uint64_t>(name.c_str());
  }
};

enum class op { find, view_find, make_destroy };

template <class Impl, op Op>
void named_bench(benchmark::State& state, std::size_t count) {
  const auto names = names_of(count);
  Impl impl(names);
  const std::string fresh = "fresh";
  std::size_t i = 0;
  for (auto _ : state) {
    if constexpr (Op == op::find) {
      benchmark::DoNotOptimize(impl.find(names[i]));
    } else if constexpr (Op == op::view_find) {
      benchmark::DoNotOptimize(impl.view_find(names[i]));
    } else {
      impl.make_destroy(fresh);
    }
    if (++i == names.size()) i = 0;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

template <class Impl>
void register_impl(const char* impl) {
  for (std::size_t n : {std::size_t{16}, std::size_t{1000}, std::size_t{10000}}) {
    const std::string suffix = std::string("/") + impl + "/" + std::to_string(n);
    benchmark::RegisterBenchmark(("find" + suffix).c_str(), named_bench<Impl, op::find>, n);
    benchmark::RegisterBenchmark(("view_find" + suffix).c_str(), named_bench<Impl, op::view_find>,
                                 n);
    benchmark::RegisterBenchmark(("make_destroy" + suffix).c_str(),
                                 named_bench<Impl, op::make_destroy>, n);
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_impl<seam_impl>("seam");
  register_impl<bip_impl>("bip");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
