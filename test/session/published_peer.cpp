// The other process of the publication tests. Usage: published_peer <mode> <app> [n]
// Readers ("hammer", "hold", "slots") connect to the test's server and subscribe once the test
// writes "go" on their stdin; "owner" publishes to the test. Progress lines go to stdout; exit
// 0 on success, non-zero (after a "FAIL" line) otherwise.

#include <unistd.h>

#include <string>

#include "seam/seam.hpp"
#include "session/published_payload.hpp"
#include "support/peer_output.hpp"
#include "support/process.hpp"

namespace {

using namespace std::chrono_literals;
using seam::test::fail;
using seam::test::payload;
using seam::test::say;

// Acquires, checks and releases the current version until version `last` is seen; then its
// subscription goes, and its session arena is back where it was.
int hammer(seam::session& s, std::uint64_t last) {
  const std::size_t baseline = s.arena().stats().allocated;
  std::uint64_t acquires = 0, distinct = 0, previous = 0;
  {
    seam::published_reader<payload> reader(s, "versions");
    say("subscribed");
    for (;;) {
      auto v = reader.acquire();
      ++acquires;
      if (!v) continue;
      if (v.version() < previous) {
        return fail("version went back to " + std::to_string(v.version()));
      }
      if (v.version() != previous) ++distinct;
      previous = v.version();
      if (auto why = seam::test::check(*v, v.version()); !why.empty()) {
        return fail("version " + std::to_string(v.version()) + ": " + why);
      }
      if (v.version() == last) break;
    }
  }
  if (s.arena().stats().allocated != baseline) return fail("the slots were not freed");
  say("done " + std::to_string(acquires) + " " + std::to_string(distinct));
  return 0;
}

// Holds the current version until killed.
int hold(seam::session& s) {
  seam::published_reader<payload> reader(s, "versions");
  auto v = reader.acquire();
  if (!v) return fail("nothing published");
  say("holding " + std::to_string(v.version()));
  seam::test::read_line(0, std::chrono::hours(1));
  return 0;
}

// Publishes versions 1..n to the test (which reads); "withhold" shares the arena but never
// lets the test subscribe.
int owner(seam::session& s, std::uint64_t n, bool add_reader) {
  seam::arena a;
  seam::published<payload> pub(a, "versions");
  if (add_reader) {
    pub.add_reader(s);
  } else {
    s.share(a);
  }
  for (std::uint64_t i = 1; i <= n; ++i) {
    payload* p = pub.make();
    {
      seam::arena_scope scope{a};
      seam::test::fill(*p, i);
    }
    pub.publish(p);
  }
  say("published");
  // Stay until the test is done (it closes the session).
  s.wait_closed(std::chrono::milliseconds(-1));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return fail("usage: published_peer <mode> <app> [n]");
  const std::string mode = argv[1];
  const std::uint64_t n = argc > 3 ? std::stoull(argv[3]) : 0;
  try {
    auto s = seam::session::connect(argv[2], 10s);
    if (mode == "owner") return owner(s, n, true);
    if (mode == "withhold") return owner(s, n, false);
    if (seam::test::read_line(0) != "go") return fail("no go");
    if (mode == "hammer") return hammer(s, n);
    if (mode == "hold") return hold(s);
    return fail("unknown mode " + mode);
  } catch (const std::exception& e) {
    return fail(e.what());
  }
}
