// Live updates to readers in other processes, with `seam::published<T>`.
//
//   seam_live_prices
//
// The owner keeps a table of 1,000 instrument prices in a `seam::map` in an arena and publishes
// a new version for every update: a copy of the current table with 10 prices moved, whose
// total stays the same. A reader process (this program again, `--reader`) acquires the current
// version in a loop and checks each one whole: 1,000 prices adding up to the total. Then the
// owner kills the reader with SIGKILL while it holds a version, and shows that the versions it
// held are gone as soon as the session saw the death.

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "seam/containers.hpp"
#include "seam/seam.hpp"

extern char** environ;

namespace {

using namespace std::chrono_literals;

constexpr std::int64_t instruments = 1000;
constexpr std::int64_t start_price = 10'000;  // in cents

/// One version: instrument id -> price in cents. Prices move, their total does not.
struct price_table {
  seam::map<std::int64_t, std::int64_t> prices;
  std::int64_t total = 0;
};

// The reader: checks every version it acquires; says how many it saw, then holds one.
int reader(const char* app) {
  auto session = seam::session::connect(app, 10s);
  auto go = session.accept_channel(10s);  // the owner added this reader
  seam::published_reader<price_table> table(session, "prices");
  std::uint64_t acquires = 0, torn = 0, versions = 0, last = 0;
  const auto until = std::chrono::steady_clock::now() + 1s;
  while (std::chrono::steady_clock::now() < until) {
    auto v = table.acquire();
    ++acquires;
    std::int64_t sum = 0;
    for (const auto& [id, price] : v->prices) sum += price;
    if (sum != v->total || static_cast<std::int64_t>(v->prices.size()) != instruments) ++torn;
    if (v.version() != last) ++versions;
    last = v.version();
  }
  auto held = table.acquire();
  std::printf("reader: %llu acquires, %llu versions seen, %llu torn; holding version %llu\n",
              static_cast<unsigned long long>(acquires), static_cast<unsigned long long>(versions),
              static_cast<unsigned long long>(torn),
              static_cast<unsigned long long>(held.version()));
  std::fflush(stdout);
  go.send("holding");
  go.receive();  // killed here
  return 0;
}

price_table* next_version(seam::arena& arena, seam::published<price_table>& pub,
                          std::uint64_t step) {
  price_table* next = pub.make(*pub.current());  // a copy, built beside the current one
  seam::arena_scope scope{arena};
  for (std::int64_t i = 0; i < 10; ++i) {
    // Move money between two instruments: the total stays.
    const std::int64_t from = static_cast<std::int64_t>((step * 7 + i * 101) % instruments);
    const std::int64_t to = (from + 1 + i) % instruments;
    next->prices[from] -= 5;
    next->prices[to] += 5;
  }
  return next;
}

int owner(const char* self) {
  std::string app = "live-prices-" + std::to_string(::getpid());
  seam::session_server server{app};
  seam::arena arena;
  seam::published<price_table> pub(arena, "prices");
  const std::size_t baseline = arena.stats().allocated;
  {
    price_table* first = pub.make();
    seam::arena_scope scope{arena};
    for (std::int64_t id = 0; id < instruments; ++id) first->prices[id] = start_price;
    first->total = instruments * start_price;
    pub.publish(first);
  }

  pid_t pid = 0;
  char* argv[] = {const_cast<char*>(self), const_cast<char*>("--reader"), app.data(), nullptr};
  if (::posix_spawn(&pid, self, nullptr, nullptr, argv, environ) != 0) return 1;
  auto session = server.accept(10s);
  pub.add_reader(session);
  auto go = session.open_channel();

  std::uint64_t published = 1, most_retained = 0;
  for (;;) {
    // Publish while the reader reads; stop when it says it holds a version.
    pub.publish(next_version(arena, pub, published++));
    most_retained = std::max<std::uint64_t>(most_retained, pub.stats().retained);
    if (go.try_receive()) break;
  }
  std::printf("owner: %llu versions published, at most %llu kept for the reader at once\n",
              static_cast<unsigned long long>(published),
              static_cast<unsigned long long>(most_retained));
  for (int i = 0; i < 3; ++i) pub.publish(next_version(arena, pub, published++));
  std::printf("owner: the reader holds an old version: %zu retained\n", pub.stats().retained);

  ::kill(pid, SIGKILL);
  session.wait_closed(5s);
  ::waitpid(pid, nullptr, 0);
  std::printf("owner: reader killed; %zu retained, %zu readers\n", pub.stats().retained,
              pub.stats().readers);
  pub.reset();
  std::printf("owner: arena back to its baseline: %s\n",
              arena.stats().allocated == baseline ? "yes" : "no");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc == 3 && std::string(argv[1]) == "--reader") return reader(argv[2]);
    return owner("/proc/self/exe");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "seam_live_prices: %s\n", e.what());
    return 1;
  }
}
