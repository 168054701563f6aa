// The perf demo's client: asks the server for files of several sizes, by handle over Seam (zero
// copy) and copied through a Unix stream socket, times each round trip, checks every byte it
// got, and reports the medians as a table, a JSON file and a plot.
//
//   seam_perf_demo_client [--app NAME] [--sizes 100K,1M,10M,100M,1G] [--round-trips N]
//                         [--json FILE] [--plot FILE.png] [--pings N]
//                         [--transport socket|ring]
//
// A round trip is timed from just before the request is sent to having the root of the
// response in hand; the check of every part's hash comes after the timer, and a mismatch fails
// the run. Both paths carry the very same Cap'n Proto message, which the server built once.

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "payload.hpp"
#include "report.hpp"
#include "seam/seam.hpp"

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

// Untimed round trips before the timed ones: they map the server's pages into this process,
// warm the caches and the allocators' thread caches of both sides.
constexpr std::size_t seam_warmups = 3;
constexpr std::size_t copy_warmups = 1;
// Copying 1 GiB takes about half a second per round trip; from this size on the copy path runs
// at most `max_big_copy_round_trips` timed round trips to keep the demo short.
constexpr std::size_t big_copy_bytes = 100 * perf_demo::MiB;
constexpr std::size_t max_big_copy_round_trips = 5;

struct options {
  std::string app{perf_demo::default_app};
  std::vector<std::size_t> sizes;
  std::size_t round_trips = 20;
  std::string json, plot;
  std::size_t pings = 512;
  seam::transport transport = seam::transport::socket;  // of the zero-copy path's channel
};

int usage() {
  std::fprintf(stderr,
               "usage: seam_perf_demo_client [--app NAME] [--sizes 100K,1M,10M,100M,1G]\n"
               "                             [--round-trips N] [--json FILE] [--plot FILE.png]\n"
               "                             [--pings N] [--transport socket|ring]\n");
  return 2;
}

bool parse_sizes(std::string_view list, std::vector<std::size_t>& out) {
  out.clear();
  while (!list.empty()) {
    const auto comma = list.find(',');
    const auto size = perf_demo::parse_size(list.substr(0, comma));
    if (!size) return false;
    out.push_back(*size);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return !out.empty();
}

struct check_failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Asks the server to build the file of `size` bytes, untimed.
void prepare(seam::session& session, seam::capnp::channel& ch, std::size_t size) {
  seam::capnp::message_builder request(session);
  auto ask = request.initRoot<FileRequest>();
  ask.setSize(size);
  ask.setPrepare(true);
  auto response = ch.request<File>(request, 300s);
  auto file = response.root();
  if (file.hasError())
    throw check_failure("server refused " + perf_demo::format_size(size) + ": " +
                        file.getError().cStr());
  if (file.getSize() != size) throw check_failure("server prepared the wrong size");
}

// Waits until the server has dropped every request this client lent it, so that the session
// threads' release messages of one round trip do not run into the next one's timer. Over a
// ring channel there are none: the server's releases ride ahead of its next response (see
// `seam::release_carrier`), so nothing is waited for. Spins
// (yielding: the session thread that takes the release in may need this core) rather than
// sleeps, so that the CPU does not drop into an idle state just before a timed round trip.
void settle(seam::session& session) {
  const auto give_up = clock_type::now() + 5s;
  while (session.lent_count() != 0 && clock_type::now() < give_up) std::this_thread::yield();
}

// Runs `warmups` untimed then `count` timed round trips for a file of `size` bytes; returns
// the timed ones in microseconds. Each round trip follows `pings` tiny ones (requests of size
// 0) on the same channel: checking the previous response read up to 1 GiB, which evicts the
// caches and leaves the server idle for up to a quarter of a second, and on this VM a CPU that
// has idled takes a while to answer at full speed again (measured in quiet runs: over a socket
// channel, with one ping a 1 GiB round trip took ~1.6x a 100 KiB one, with eight ~1.2x; over
// a ring channel, whose pings take ~1 µs, 8 or 64 pings left the 1 GiB round trip at 3–100 µs
// from run to run, 512 at 3–4 µs). The pings take that recovery off the clock, on both paths
// alike.
std::vector<double> measure(seam::session& session, seam::capnp::channel& ch, std::size_t size,
                            std::size_t warmups, std::size_t count, std::size_t pings,
                            bool settles) {
  seam::capnp::message_builder request(session);  // built once, sent every round trip
  request.initRoot<FileRequest>().setSize(size);
  seam::capnp::message_builder ping_request(session);
  ping_request.initRoot<FileRequest>();
  const char* path = ch.zero_copy() ? "seam" : "copy";
  std::vector<double> samples;
  samples.reserve(count);
  for (std::size_t i = 0; i < warmups + count; ++i) {
    seam::capnp::response<File> pong;
    for (std::size_t k = 0; k < pings; ++k) {
      // The previous pong goes before the next ping, not during it: a release in flight (a
      // message and two thread wake-ups on each side) measured ~30 µs on a round trip here.
      pong.message = {};
      pong = ch.request<File>(ping_request, 10s);
      if (pong.root().getSize() != 0 || pong.root().hasParts()) throw check_failure("bad pong");
      if (settles) settle(session);
    }
    const auto start = clock_type::now();
    auto response = ch.request<File>(request, 120s);
    const File::Reader file = response.root();
    const auto stop = clock_type::now();

    const std::string error = perf_demo::check_file(file, size);
    if (!error.empty() || response.message.zero_copy() != ch.zero_copy()) {
      throw check_failure(perf_demo::format_size(size) + " via " + path + ", round trip " +
                          std::to_string(i + 1) + ": " +
                          (error.empty() ? "wrong transport" : error));
    }
    // Done reading (the last pong was kept until now so that its release, too, stays out of
    // the timed round trip): the server may reuse what it lent.
    response.message = {};
    pong.message = {};
    if (settles) settle(session);
    if (i >= warmups)
      samples.push_back(std::chrono::duration<double, std::micro>(stop - start).count());
  }
  return samples;
}

// The copying path's channel: one end of a stream socket pair, the other end passed to the
// server over a seam channel (the server reads it from the second channel it accepts).
seam::capnp::channel copying_channel(seam::session& session) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    throw std::system_error(errno, std::system_category(), "socketpair");
  }
  seam::unique_fd mine{pair[0]}, theirs{pair[1]};
  auto carrier = session.open_channel();
  const int raw = theirs.get();
  carrier.send({}, {&raw, 1});
  return seam::capnp::channel::copying(std::move(mine));
}

int run(const options& opt) {
  auto session = seam::session::connect(opt.app, 10s);
  seam::capnp::channel zero_copy(session, session.open_channel(opt.transport));
  seam::capnp::channel copying = copying_channel(session);

  std::printf("client: connected to '%s' (server pid %d)\n", opt.app.c_str(),
              static_cast<int>(session.peer_pid()));
  std::printf(
      "client: %zu timed round trips per size and path (copy path: at most %zu from %s on), "
      "after %zu (Seam) / %zu (copy) untimed warm-ups; %zu untimed pings on the same channel "
      "before each round trip; every part's hash checked after each round trip, untimed\n",
      opt.round_trips, max_big_copy_round_trips, perf_demo::format_size(big_copy_bytes).c_str(),
      seam_warmups, copy_warmups, opt.pings);
  std::fflush(stdout);

  std::vector<perf_demo::result> results;
  for (std::size_t size : opt.sizes) {
    prepare(session, zero_copy, size);
    auto seam = perf_demo::summarize(
        size, "seam",
        measure(session, zero_copy, size, seam_warmups, opt.round_trips, opt.pings,
                opt.transport == seam::transport::socket));
    const std::size_t copy_count = size >= big_copy_bytes
                                       ? std::min(opt.round_trips, max_big_copy_round_trips)
                                       : opt.round_trips;
    auto copy = perf_demo::summarize(
        size, "copy", measure(session, copying, size, copy_warmups, copy_count, opt.pings, false));
    std::printf("client: %-8s Seam median %10.1f us   copy median %12.1f us   (copy/Seam %.2fx)\n",
                perf_demo::format_size(size).c_str(), seam.median_us, copy.median_us,
                copy.median_us / seam.median_us);
    std::fflush(stdout);
    results.push_back(std::move(copy));
    results.push_back(std::move(seam));
  }
  perf_demo::print_table(results);
  if (!opt.json.empty()) {
    perf_demo::write_json(opt.json, results);
    std::printf("client: wrote %s\n", opt.json.c_str());
  }
  if (!opt.plot.empty()) {
    if (!perf_demo::write_plot(opt.plot, results)) return 1;
    if (::access(opt.plot.c_str(), F_OK) == 0) std::printf("client: wrote %s\n", opt.plot.c_str());
  }
  // Leaving closes the session: the server sees it and exits.
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  options opt;
  parse_sizes("100K,1M,10M,100M,1G", opt.sizes);
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (i + 1 >= argc) return usage();
    const std::string_view value = argv[++i];
    if (arg == "--app") {
      opt.app = value;
    } else if (arg == "--sizes") {
      if (!parse_sizes(value, opt.sizes)) {
        std::fprintf(stderr, "client: bad --sizes '%s' (e.g. 100K,1M,1G; at most 4G each)\n",
                     argv[i]);
        return 2;
      }
    } else if (arg == "--round-trips") {
      const long n = std::strtol(argv[i], nullptr, 10);
      if (n < 1 || n > 100000) return usage();
      opt.round_trips = static_cast<std::size_t>(n);
    } else if (arg == "--pings") {
      const long n = std::strtol(argv[i], nullptr, 10);
      if (n < 0 || n > 1000) return usage();
      opt.pings = static_cast<std::size_t>(n);
    } else if (arg == "--json") {
      opt.json = value;
    } else if (arg == "--plot") {
      opt.plot = value;
    } else if (arg == "--transport" && (value == "socket" || value == "ring")) {
      opt.transport = value == "ring" ? seam::transport::ring : seam::transport::socket;
    } else {
      return usage();
    }
  }
  try {
    return run(opt);
  } catch (const check_failure& e) {
    std::fprintf(stderr, "client: FAILED: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "client: error: %s\n", e.what());
    return 1;
  }
}
