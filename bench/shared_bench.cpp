// Shared writers: several processes writing one arena, against Boost.Interprocess.
//
// Names are `<op>/<impl>/<n>`:
//   shared_insert/<impl>/<procs> — `procs` processes each insert their share of 10^6 distinct
//       keys into one map under one process-shared lock (one lock per insert). seam: writer
//       processes attached to one arena (`arena::attach`), a `seam::synchronized<seam::map>`
//       (its `seam::mutex`: robust, process-shared); bip: `managed_shared_memory`, `boost::container::map` over its
//       allocator, `interprocess_mutex`. Time is wall time from the start signal to the last
//       process's "done" (manual time: the work happens in child processes); the children's
//       CPU time per run is the `child_cpu_s` counter.
//   pair/<impl>/64 — 64 B allocate + touch + free on one thread: `attached` is a writer that
//       attached to an arena (`arena::attach`), `malloc` is jemalloc's malloc.
//   remote_free/seam/64 — one writer frees 64 B blocks another writer allocated (each free is
//       a push onto the owner's lock-free remote-free list); items are blocks.
//
//   seam_bench_shared --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true
//       --benchmark_report_aggregates_only=true --benchmark_out=shared.json
//       --benchmark_out_format=json
//   bench/report.py shared.json

#include <benchmark/benchmark.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/container/map.hpp>
#include <boost/interprocess/allocators/allocator.hpp>
#include <boost/interprocess/managed_shared_memory.hpp>
#include <boost/interprocess/sync/interprocess_mutex.hpp>
#include <boost/interprocess/sync/scoped_lock.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <new>
#include <vector>

#include "bip_segment.hpp"
#include "seam/arena/arena.hpp"
#include "seam/arena/synchronized.hpp"
#include "seam/containers/map.hpp"

namespace {

namespace bip = boost::interprocess;

constexpr std::int64_t total_keys = 1000000;

// Distinct keys in a scattered order (multiplying by an odd constant is a bijection).
inline std::int64_t key_of(std::int64_t i) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(i) * 0x9E3779B97F4A7C15ull >> 1);
}

// ---- processes: start them, release them together, wait for them -----------------------------

struct pipe_fds {
  int read_end = -1, write_end = -1;
  pipe_fds() {
    int fds[2];
    if (::pipe(fds) != 0) std::abort();
    read_end = fds[0];
    write_end = fds[1];
  }
  ~pipe_fds() {
    ::close(read_end);
    ::close(write_end);
  }
};

double children_cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_CHILDREN, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Forks `procs` children running `body(i)` (after attaching or whatever it does up front, each
// writes a byte to `ready`, then waits for a byte on `go`, works, and writes to `done`).
// Returns the wall time from "go" to the last "done".
template <class Prepare, class Work>
double run_children(int procs, Prepare prepare, Work work) {
  pipe_fds ready, go, done;
  std::vector<pid_t> pids;
  for (int i = 0; i < procs; ++i) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      auto state = prepare(i);
      char c = 0;
      if (::write(ready.write_end, &c, 1) != 1 || ::read(go.read_end, &c, 1) != 1) ::_exit(2);
      const int r = work(i, state);
      if (::write(done.write_end, &c, 1) != 1) ::_exit(3);
      ::_exit(r);
    }
    pids.push_back(pid);
  }
  char c = 0;
  for (int i = 0; i < procs; ++i) {
    if (::read(ready.read_end, &c, 1) != 1) std::abort();
  }
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < procs; ++i) {
    if (::write(go.write_end, &c, 1) != 1) std::abort();
  }
  for (int i = 0; i < procs; ++i) {
    if (::read(done.read_end, &c, 1) != 1) std::abort();
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (pid_t pid : pids) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
  }
  return seconds;
}

// ---- seam: writers attached to one arena -------------------------------------------------------

using seam_table = seam::synchronized<seam::map<std::int64_t, std::int64_t>>;

void shared_insert_seam(benchmark::State& state, int procs) {
  double cpu = 0;
  for (auto _ : state) {
    seam::arena a({.capacity = std::size_t{8} << 30, .name = "bench-shared",
                   .isolation = seam::isolation::trust_same_uid});
    auto* table = a.make_named<seam_table>("table");
    const double before = children_cpu_seconds();
    const double seconds = run_children(
        procs,
        [&](int) {
          // `arena` does not move: built in place from attach's result.
          return std::unique_ptr<seam::arena>(new seam::arena(seam::arena::attach(a.share_writable())));
        },
        [&](int i, std::unique_ptr<seam::arena>& w) {
          auto* t = w->find<seam_table>("table");
          if (t == nullptr) return 1;
          seam::arena_scope scope{*w};
          for (std::int64_t k = i; k < total_keys; k += procs) t->lock()->emplace(key_of(k), k);
          return 0;
        });
    cpu += children_cpu_seconds() - before;
    if (seconds < 0 || table->lock()->size() != static_cast<std::size_t>(total_keys)) {
      state.SkipWithError("a writer failed");
      return;
    }
    state.SetIterationTime(seconds);
  }
  state.SetItemsProcessed(state.iterations() * total_keys);
  state.counters["child_cpu_s"] = cpu / static_cast<double>(state.iterations());
}

// ---- bip: managed_shared_memory -----------------------------------------------------------------

using bip_allocator = bip::allocator<std::pair<const std::int64_t, std::int64_t>,
                                     bip::managed_shared_memory::segment_manager>;
using bip_map =
    boost::container::map<std::int64_t, std::int64_t, std::less<std::int64_t>, bip_allocator>;
struct bip_table {
  explicit bip_table(const bip_allocator& a) : map(a) {}
  bip::interprocess_mutex lock;
  bip_map map;
};

void shared_insert_bip(benchmark::State& state, int procs) {
  double cpu = 0;
  for (auto _ : state) {
    seam::bench::segment_name name("seam_bench_shared");
    bip::managed_shared_memory segment(bip::create_only, name.c_str(),
                                       seam::bench::segment_bytes(std::size_t{512} << 20));
    auto* table = segment.construct<bip_table>("table")(bip_allocator(segment.get_segment_manager()));
    const double before = children_cpu_seconds();
    // The children use the segment their parent mapped (a fork inherits it at the same address).
    const double seconds = run_children(
        procs, [&](int) { return 0; },
        [&](int i, int) {
          for (std::int64_t k = i; k < total_keys; k += procs) {
            bip::scoped_lock<bip::interprocess_mutex> lock(table->lock);
            table->map.emplace(key_of(k), k);
          }
          return 0;
        });
    cpu += children_cpu_seconds() - before;
    if (seconds < 0 || table->map.size() != static_cast<std::size_t>(total_keys)) {
      state.SkipWithError("a writer failed");
      return;
    }
    state.SetIterationTime(seconds);
  }
  state.SetItemsProcessed(state.iterations() * total_keys);
  state.counters["child_cpu_s"] = cpu / static_cast<double>(state.iterations());
}

// ---- allocation in an attached writer ------------------------------------------------------------

// The creator and one attached writer of one arena, made in main before any benchmark. The
// writer attaches from this same process (a second mapping, its own slot and jemalloc arena):
// its allocation path is exactly that of a writer in another process.
seam::arena* g_creator = nullptr;
seam::arena* g_attached = nullptr;

inline void touch(void* p) noexcept {
  *static_cast<unsigned char*>(p) = 1;
  benchmark::DoNotOptimize(p);
}

void pair_attached(benchmark::State& state) {
  for (auto _ : state) {
    void* p = g_attached->allocate(64, seam::arena::default_alignment, std::nothrow);
    touch(p);
    g_attached->deallocate(p, 64);
  }
  state.SetItemsProcessed(state.iterations());
}

void pair_malloc(benchmark::State& state) {
  for (auto _ : state) {
    void* p = std::malloc(64);
    touch(p);
    std::free(p);
  }
  state.SetItemsProcessed(state.iterations());
}

// Blocks of the creator freed by the attached writer, 4096 at a time; the creator takes them
// back (outside the timing) after each batch.
void remote_free_seam(benchmark::State& state) {
  constexpr std::size_t batch = 4096;
  std::vector<std::size_t> offsets(batch);
  for (auto _ : state) {
    state.PauseTiming();
    for (auto& at : offsets) {
      at = static_cast<std::size_t>(static_cast<std::byte*>(g_creator->allocate(64)) -
                                    g_creator->base());
    }
    state.ResumeTiming();
    for (std::size_t at : offsets) g_attached->deallocate(g_attached->base() + at, 64);
    state.PauseTiming();
    g_creator->collect();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * batch);
}

}  // namespace

int main(int argc, char** argv) {
  for (int procs : {1, 2}) {
    const std::string n = "/" + std::to_string(procs);
    benchmark::RegisterBenchmark(("shared_insert/seam" + n).c_str(),
                                 [procs](benchmark::State& s) { shared_insert_seam(s, procs); })
        ->Iterations(1)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("shared_insert/bip" + n).c_str(),
                                 [procs](benchmark::State& s) { shared_insert_bip(s, procs); })
        ->Iterations(1)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  }
  benchmark::RegisterBenchmark("pair/attached/64", pair_attached);
  benchmark::RegisterBenchmark("pair/malloc/64", pair_malloc);
  benchmark::RegisterBenchmark("remote_free/seam/64", remote_free_seam)->Iterations(2000);

  seam::arena creator({.capacity = std::size_t{4} << 30, .name = "bench-writers",
                         .isolation = seam::isolation::trust_same_uid});
  seam::arena attached = seam::arena::attach(creator.share_writable());
  g_creator = &creator;
  g_attached = &attached;

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
