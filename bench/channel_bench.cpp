// Round trips between two processes: seam::channel over its transports against a plain
// SOCK_SEQPACKET socketpair and bare shared-memory ping-pongs, and lending a structure of
// growing size over a channel.
//
// Names are `<op>/<impl>/<bytes>` (Google Benchmark appends `/real_time`) so that
// bench/report.py lines the implementations up:
//   rtt/seam/<bytes>      — `channel::send` of <bytes>, the peer `receive`s and sends them back.
//   rtt/uds/<bytes>       — the same ping-pong written directly with send/recv on a socketpair:
//                           what a channel costs on top of the kernel.
//   rtt/ring/<bytes>      — `channel::send` over the ring transport, default waiting
//                           (`spin_adaptive`: spins while spinning catches the answer).
//   rtt/ring_sleep/<bytes> — the ring with `spin = 0`: every wait sleeps on a futex.
//   rtt/ring_spin/<bytes> — the ring transport with a long spin (1 ms: both sides poll while
//                           the benchmark runs, then sleep, so that an idle peer does not take
//                           a core from the next benchmark).
//   rtt/raw_spin/64       — the physical limit: a bare ping-pong of a counter in shared memory,
//                           both sides spinning.
//   rtt/raw_futex/64      — the same, both sides sleeping on a futex: the limit with sleeping.
//   rtt/raw_futex_ro/64   — the futex ping-pong as a ring channel shares memory: each side
//                           writes only its own page of a memfd and maps the other's read-only
//                           (a FUTEX_WAIT through a read-only mapping costs more: the kernel
//                           first tries to pin the page for writing).
//   stream/ring_spin/64   — one way: batches of 1000 messages, the peer acknowledges each
//                           batch; items are messages. stream/ring/64: the same, default waiting.
//   rtt_lend/seam/<bytes> — the parent lends a seam::vector<std::byte> of <bytes> (built once
//                           per size in its session arena) and sends the handle; the child
//                           borrows it, reads the first and last byte, drops the borrow (the
//                           release goes back asynchronously, batched) and answers. The time
//                           should not depend on <bytes>: nothing is copied.
// One item is one round trip; bytes/s counts the payload both ways (rtt) or the bytes lent.
//
// The peer is a child forked in main before any benchmark runs and before any thread exists
// (the session threads start after the fork). It serves the channel on its main thread and
// the socketpair on a second thread, each blocked in its own receive, so neither path pays for
// multiplexing. It exits when the parent closes the channel and the socketpair.
//
//   seam_bench_channel --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//       --benchmark_out=channel.json --benchmark_out_format=json
//   bench/report.py channel.json

#include <benchmark/benchmark.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "seam/channel.hpp"
#include "seam/containers/vector.hpp"
#include "seam/session.hpp"

namespace {

using namespace std::chrono_literals;
using blob = seam::vector<std::byte>;

constexpr std::array<std::size_t, 3> message_sizes{64, 4096, 65536};
constexpr std::array<std::size_t, 3> lend_sizes{std::size_t{1} << 10, std::size_t{1} << 20,
                                                std::size_t{100} << 20};
// Sends give up on a peer that stopped reading. Receives wait forever, as the blocking recv of
// the socketpair baseline does: a dead peer still ends them at once (EOF).
constexpr auto io_timeout = 10s;
constexpr std::size_t max_uds_message = 65536;

// The parent's side of the peer, set up in main before the benchmarks run.
seam::session* g_session = nullptr;
seam::channel* g_channel = nullptr;
seam::channel* g_ring = nullptr;
seam::channel* g_ring_spin = nullptr;
seam::channel* g_ring_sleep = nullptr;
seam::channel* g_ring_stream = nullptr;
seam::channel* g_ring_stream_sleep = nullptr;
int g_uds = -1;

constexpr auto long_spin = std::chrono::milliseconds(1);
constexpr std::uint64_t stream_batch = 1000;

// The bare shared-memory ping-pong: a page shared by the fork (the baseline only, not Seam).
struct raw_page {
  alignas(64) std::atomic<std::uint32_t> ping;  // the parent's counter
  alignas(64) std::atomic<std::uint32_t> pong;  // the child's answer
  alignas(64) std::atomic<std::uint32_t> mode;  // 0 idle (child sleeps), 1 spin, 2 futex, 3 stop
};
raw_page* g_raw = nullptr;

void futex_wait(const std::atomic<std::uint32_t>& word, std::uint32_t expected) {
  ::syscall(SYS_futex, &word, FUTEX_WAIT, expected, nullptr, nullptr, 0);
}
void futex_wake(const std::atomic<std::uint32_t>& word) {
  ::syscall(SYS_futex, &word, FUTEX_WAKE, INT32_MAX, nullptr, nullptr, 0);
}

// The child's side of the bare ping-pong: answers each ping, spinning or sleeping as `mode`
// says; sleeps while idle.
void serve_raw(raw_page& page) {
  // Only the parent counts pings, from 0: a count read here could already include the first
  // ping if this thread started late, which would then never be answered.
  std::uint32_t seen = 0;
  for (;;) {
    const std::uint32_t mode = page.mode.load();
    if (mode == 3) return;
    if (mode == 0) {
      futex_wait(page.mode, 0);
      continue;
    }
    const std::uint32_t ping = page.ping.load(std::memory_order_acquire);
    if (ping == seen) {
      if (mode == 2) futex_wait(page.ping, seen);
      continue;
    }
    seen = ping;
    page.pong.store(ping, std::memory_order_release);
    if (mode == 2) futex_wake(page.pong);
  }
}

// The read-only variant: each side's own counter (read-write) and the other's (read-only), in
// two pages of a memfd that each process maps after the fork.
struct ro_words {
  std::atomic<std::uint32_t>* mine = nullptr;
  const std::atomic<std::uint32_t>* theirs = nullptr;
};
int g_ro_fd = -1;
ro_words g_ro;
constexpr std::uint32_t stop_ping = ~std::uint32_t{0};

// Maps page `own` of the memfd read-write and the other page read-only.
bool map_ro_words(int own) {
  const long page = ::sysconf(_SC_PAGESIZE);
  void* mine =
      ::mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_SHARED, g_ro_fd, own * page);
  const void* theirs = ::mmap(nullptr, page, PROT_READ, MAP_SHARED, g_ro_fd, (1 - own) * page);
  if (mine == MAP_FAILED || theirs == MAP_FAILED) return false;
  g_ro.mine = static_cast<std::atomic<std::uint32_t>*>(mine);
  g_ro.theirs = static_cast<const std::atomic<std::uint32_t>*>(theirs);
  return true;
}

// The child's side: answers each ping, sleeping on the futex between them, until `stop_ping`.
void serve_raw_ro() {
  for (std::uint32_t seen = 0;;) {
    const std::uint32_t ping = g_ro.theirs->load(std::memory_order_acquire);
    if (ping == stop_ping) return;
    if (ping == seen) {
      futex_wait(*g_ro.theirs, seen);
      continue;
    }
    seen = ping;
    g_ro.mine->store(ping, std::memory_order_release);
    futex_wake(*g_ro.mine);
  }
}

// ----------------------------------------------------------------------------------------------
// The child: echoes until the parent closes.

// Echoes every packet on `fd` until EOF or an error.
void serve_uds(int fd) {
  std::vector<std::byte> buffer(max_uds_message);
  for (;;) {
    const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    if (::send(fd, buffer.data(), static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) return;
  }
}

// Echoes byte messages; answers a message carrying a handle with the first and last byte of the
// lent vector, read through a borrow that is dropped before answering.
void serve_channel(seam::session& session, seam::channel& channel) {
  seam::message m;
  std::error_code ec;
  while (channel.receive(m, seam::channel::forever, ec)) {
    if (m.handles.empty()) {
      channel.send(m.bytes, {}, {}, seam::channel::default_send_timeout, ec);
    } else {
      std::array<std::byte, 2> ends{};
      try {
        auto lent = session.borrow(m.handles.front().as<blob>());
        if (!lent->empty()) ends = {lent->front(), lent->back()};
      } catch (const std::system_error& e) {  // a bad handle: zeros, which the parent reports
        std::fprintf(stderr, "channel_bench child: %s\n", e.what());
      }  // the borrow ends here: its release is queued for the session thread
      channel.send(ends, {}, {}, seam::channel::default_send_timeout, ec);
    }
    if (ec) break;
  }
}

// Acknowledges every `stream_batch` messages with one.
void serve_stream(seam::channel& channel) {
  seam::message m;
  std::error_code ec;
  std::uint64_t count = 0;
  while (channel.receive(m, seam::channel::forever, ec)) {
    if (++count % stream_batch == 0) channel.send(m.bytes, {}, {}, io_timeout, ec);
    if (ec) break;
  }
}

int run_child(const std::string& app, int uds) {
  try {
    auto session = seam::session::connect(app, 10s);
    auto channel = session.accept_channel(10s);
    auto ring = session.accept_channel(10s);
    auto ring_spin = session.accept_channel(10s);
    auto ring_sleep = session.accept_channel(10s);
    auto ring_stream = session.accept_channel(10s);
    auto ring_stream_sleep = session.accept_channel(10s);
    std::thread uds_thread(serve_uds, uds);
    std::thread raw_thread(serve_raw, std::ref(*g_raw));
    std::thread raw_ro_thread(serve_raw_ro);
    std::thread ring_thread(serve_channel, std::ref(session), std::ref(ring));
    std::thread spin_thread(serve_channel, std::ref(session), std::ref(ring_spin));
    std::thread sleep_thread(serve_channel, std::ref(session), std::ref(ring_sleep));
    std::thread stream_thread(serve_stream, std::ref(ring_stream));
    std::thread stream_sleep_thread(serve_stream, std::ref(ring_stream_sleep));
    serve_channel(session, channel);
    uds_thread.join();
    raw_thread.join();
    raw_ro_thread.join();
    ring_thread.join();
    spin_thread.join();
    sleep_thread.join();
    stream_thread.join();
    stream_sleep_thread.join();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "channel_bench child: %s\n", e.what());
    return 1;
  }
}

// ----------------------------------------------------------------------------------------------
// The benchmarks (parent).

void set_round_trip_counters(benchmark::State& state, std::size_t payload) {
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(payload));
}

void rtt_channel(benchmark::State& state, seam::channel* channel, std::size_t size) {
  std::vector<std::byte> payload(size, std::byte{0x5a});
  seam::message reply;
  std::error_code ec;
  for (auto _ : state) {
    channel->send(payload, {}, {}, io_timeout, ec);
    if (ec || !channel->receive(reply, seam::channel::forever, ec) || reply.bytes.size() != size) {
      state.SkipWithError(ec ? ec.message().c_str() : "short echo");
      break;
    }
  }
  set_round_trip_counters(state, 2 * size);
}

void rtt_seam(benchmark::State& state, std::size_t size) { rtt_channel(state, g_channel, size); }
void rtt_ring(benchmark::State& state, std::size_t size) { rtt_channel(state, g_ring, size); }
void rtt_ring_spin(benchmark::State& state, std::size_t size) {
  rtt_channel(state, g_ring_spin, size);
}
void rtt_ring_sleep(benchmark::State& state, std::size_t size) {
  rtt_channel(state, g_ring_sleep, size);
}

void stream_ring(benchmark::State& state, seam::channel* channel, std::size_t size) {
  std::vector<std::byte> payload(size, std::byte{0x5a});
  seam::message ack;
  std::error_code ec;
  for (auto _ : state) {
    for (std::uint64_t i = 0; i < stream_batch && !ec; ++i) {
      channel->send(payload, {}, {}, io_timeout, ec);
    }
    if (ec || !channel->receive(ack, seam::channel::forever, ec)) {
      state.SkipWithError(ec.message().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(stream_batch));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(stream_batch * size));
}

void stream_ring_spin(benchmark::State& state, std::size_t size) {
  stream_ring(state, g_ring_stream, size);
}
void stream_ring_sleep(benchmark::State& state, std::size_t size) {
  stream_ring(state, g_ring_stream_sleep, size);
}

// The bare ping-pong; `mode` 1 spins, 2 sleeps on futexes.
void rtt_raw(benchmark::State& state, std::uint32_t mode) {
  raw_page& page = *g_raw;
  page.mode.store(mode);
  futex_wake(page.mode);
  std::uint32_t ping = page.ping.load();
  for (auto _ : state) {
    page.ping.store(++ping, std::memory_order_release);
    if (mode == 2) {
      futex_wake(page.ping);
      while (page.pong.load(std::memory_order_acquire) != ping) futex_wait(page.pong, ping - 1);
    } else {
      while (page.pong.load(std::memory_order_acquire) != ping) {
        __builtin_ia32_pause();
      }
    }
  }
  page.mode.store(0);
  futex_wake(page.ping);
  set_round_trip_counters(state, 2 * 4);
}

void rtt_raw_ro(benchmark::State& state) {
  std::uint32_t ping = g_ro.mine->load();
  for (auto _ : state) {
    g_ro.mine->store(++ping, std::memory_order_release);
    futex_wake(*g_ro.mine);
    while (g_ro.theirs->load(std::memory_order_acquire) != ping) futex_wait(*g_ro.theirs, ping - 1);
  }
  set_round_trip_counters(state, 2 * 4);
}

void rtt_uds(benchmark::State& state, std::size_t size) {
  std::vector<std::byte> payload(size, std::byte{0x5a});
  std::vector<std::byte> reply(max_uds_message);
  for (auto _ : state) {
    if (::send(g_uds, payload.data(), size, MSG_NOSIGNAL) != static_cast<ssize_t>(size) ||
        ::recv(g_uds, reply.data(), reply.size(), 0) != static_cast<ssize_t>(size)) {
      state.SkipWithError(std::strerror(errno));
      break;
    }
  }
  set_round_trip_counters(state, 2 * size);
}

// The lent structures, built once per size and kept until the session closes: Google Benchmark
// calls a benchmark function several times (to size the run, and per repetition).
blob& lent_blob(std::size_t size) {
  static std::map<std::size_t, blob*> built;
  auto& slot = built[size];
  if (slot == nullptr) {
    auto& arena = g_session->arena();
    slot = arena.make<blob>();
    seam::arena_scope scope{arena};
    slot->resize(size);  // value-initialised: every page is written, as real data would be
    slot->front() = std::byte{0x11};
    slot->back() = std::byte{0x22};
  }
  return *slot;
}

void rtt_lend(benchmark::State& state, std::size_t size) {
  blob& data = lent_blob(size);
  seam::message reply;
  std::error_code ec;
  for (auto _ : state) {
    // The session keeps no copy; a no-op release leaves the vector alive for the next lend.
    const auto h = g_session->lend(&data, [] {}).as<std::byte>();
    g_channel->send({}, {}, {&h, 1}, io_timeout, ec);
    if (ec || !g_channel->receive(reply, seam::channel::forever, ec)) {
      state.SkipWithError(ec.message().c_str());
      break;
    }
    if (reply.bytes.size() != 2 || reply.bytes[0] != std::byte{0x11} ||
        reply.bytes[1] != std::byte{0x22}) {
      state.SkipWithError("the child read other bytes than those lent");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(size));
  state.counters["outstanding_lends"] = static_cast<double>(g_session->lent_count());
}

// The size is part of the name rather than an `Arg`, which would append it a second time.
// Names are built with `append`: gcc 12 flags `"literal" + std::string&&` with a false
// -Wrestrict at -O3.
std::string bench_name(const char* prefix, std::size_t size) {
  return std::string(prefix).append(std::to_string(size));
}

void register_benchmarks() {
  benchmark::RegisterBenchmark("rtt/raw_spin/64", rtt_raw, 1)->UseRealTime();
  benchmark::RegisterBenchmark("rtt/raw_futex/64", rtt_raw, 2)->UseRealTime();
  benchmark::RegisterBenchmark("rtt/raw_futex_ro/64", rtt_raw_ro)->UseRealTime();
  benchmark::RegisterBenchmark("stream/ring_spin/64", stream_ring_spin, 64)->UseRealTime();
  benchmark::RegisterBenchmark("stream/ring/64", stream_ring_sleep, 64)->UseRealTime();
  for (std::size_t size : {std::size_t{64}, std::size_t{4096}}) {
    benchmark::RegisterBenchmark(bench_name("rtt/ring/", size).c_str(), rtt_ring, size)
        ->UseRealTime();
    benchmark::RegisterBenchmark(bench_name("rtt/ring_spin/", size).c_str(), rtt_ring_spin, size)
        ->UseRealTime();
    benchmark::RegisterBenchmark(bench_name("rtt/ring_sleep/", size).c_str(), rtt_ring_sleep,
                                 size)
        ->UseRealTime();
  }
  for (std::size_t size : message_sizes) {
    benchmark::RegisterBenchmark(bench_name("rtt/seam/", size).c_str(), rtt_seam, size)
        ->UseRealTime();
    benchmark::RegisterBenchmark(bench_name("rtt/uds/", size).c_str(), rtt_uds, size)
        ->UseRealTime();
  }
  for (std::size_t size : lend_sizes) {
    benchmark::RegisterBenchmark(bench_name("rtt_lend/seam/", size).c_str(), rtt_lend, size)
        ->UseRealTime();
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  // The pid makes the name unique, so that two runs (or a stale peer) never meet.
  const std::string app = "seam-bench-channel-" + std::to_string(::getpid());
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    std::perror("socketpair");
    return 1;
  }
  void* raw =
      ::mmap(nullptr, sizeof(raw_page), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) {
    std::perror("mmap");
    return 1;
  }
  g_raw = ::new (raw) raw_page{};
  g_ro_fd = ::memfd_create("seam-bench-raw", MFD_CLOEXEC);
  if (g_ro_fd < 0 || ::ftruncate(g_ro_fd, 2 * ::sysconf(_SC_PAGESIZE)) != 0) {
    std::perror("memfd");
    return 1;
  }
  // Listening before the fork: the child's connect cannot arrive too early.
  std::optional<seam::session_server> server;
  server.emplace(app);

  std::fflush(nullptr);
  const pid_t child = ::fork();
  if (child < 0) {
    std::perror("fork");
    return 1;
  }
  if (child == 0) {
    server.reset();  // closes only this process's copy of the listener
    ::close(pair[0]);
    if (!map_ro_words(1)) std::_Exit(1);
    const int rc = run_child(app, pair[1]);
    ::close(pair[1]);
    std::_Exit(rc);  // no atexit handlers or buffers inherited from the parent
  }
  ::close(pair[1]);
  g_uds = pair[0];
  if (!map_ro_words(0)) {
    std::perror("mmap");
    return 1;
  }

  int rc = 0;
  try {
    auto session = server->accept(10s);
    server.reset();
    auto channel = session.open_channel();
    auto ring = session.open_channel(seam::transport::ring);
    seam::channel_options spinning{.transport = seam::transport::ring};
    spinning.spin = long_spin;
    auto ring_spin = session.open_channel(spinning);
    seam::channel_options sleeping{.transport = seam::transport::ring};
    sleeping.spin = std::chrono::nanoseconds(0);
    auto ring_sleep = session.open_channel(sleeping);
    auto ring_stream = session.open_channel(spinning);
    auto ring_stream_sleep = session.open_channel(seam::transport::ring);
    g_session = &session;
    g_channel = &channel;
    g_ring = &ring;
    g_ring_spin = &ring_spin;
    g_ring_sleep = &ring_sleep;
    g_ring_stream = &ring_stream;
    g_ring_stream_sleep = &ring_stream_sleep;
    register_benchmarks();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    // Closing the channel and the socketpair is the child's signal to stop.
    channel.close();
    ring.close();
    ring_spin.close();
    ring_sleep.close();
    ring_stream.close();
    ring_stream_sleep.close();
    g_channel = nullptr;
    g_session = nullptr;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "channel_bench: %s\n", e.what());
    rc = 1;
  }
  // The bare ping-pongs' signal to stop (their threads do not watch the session).
  g_raw->mode.store(3);
  futex_wake(g_raw->mode);
  futex_wake(g_raw->ping);
  g_ro.mine->store(stop_ping);
  futex_wake(*g_ro.mine);
  ::close(g_uds);
  int status = 0;
  if (::waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "channel_bench: the child peer failed (status %d)\n", status);
    rc = 1;
  }
  return rc;
}
