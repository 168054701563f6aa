// Crash matrix cases: a reader killed while it holds a version of a publication, and a
// publisher killed while it publishes (`seam::published<T>`).

#include <gtest/gtest.h>

#include "robustness/crash_cases.hpp"
#include "session/published_payload.hpp"

namespace seam::test::crash_cases {

namespace {

seam::test::payload* next_version(seam::arena& a, seam::published<seam::test::payload>& pub,
                                  std::uint64_t number) {
  auto* p = pub.make();
  seam::arena_scope scope{a};
  seam::test::fill(*p, number);
  return p;
}

}  // namespace

// The survivor publishes; the victim holds version 1 when it is killed: version 1 outlives its
// replacement until the death, and is destroyed as soon as the session sees it.
void reader_holding_a_version() {
  const auto app = unique_app();
  seam::session_server server{app};
  const held_resources baseline;
  {
    seam::arena a;
    seam::published<seam::test::payload> pub(a, "versions");
    const std::size_t allocated = a.stats().allocated;
    pub.publish(next_version(a, pub, 1));
    crash_peer victim("reader-hold", app);
    auto s = server.accept(30s);
    pub.add_reader(s);
    auto go = s.open_channel();  // tells the victim it may subscribe
    ASSERT_EQ(victim.line(), "at holding_a_version");
    pub.publish(next_version(a, pub, 2));
    EXPECT_EQ(pub.stats().retained, 1u);
    ASSERT_TRUE(victim.kill_and_reap());
    expect_closed_by_death(s);
    EXPECT_EQ(pub.stats().retained, 0u);
    EXPECT_EQ(pub.stats().readers, 0u);
    pub.reset();
    EXPECT_EQ(a.stats().allocated, allocated);
  }
  serve_a_new_client(server, app, baseline);
}

// The survivor reads; the victim publishes in a loop when it is killed: the version the
// survivor holds stays whole, and acquiring reports the closed session.
void publisher_while_publishing() {
  const auto app = unique_app();
  seam::session_server server{app};
  const held_resources baseline;
  {
    crash_peer victim("publisher-loop", app);
    auto s = server.accept(30s);
    auto go = s.accept_channel(30s);  // the victim added this reader
    seam::published_reader<seam::test::payload> reader(s, "versions");
    auto held = reader.acquire();
    ASSERT_TRUE(held);
    const std::uint64_t version = held.version();
    ASSERT_EQ(victim.line(), "at publishing");
    EXPECT_EQ(seam::test::check(*held, version), "");
    ASSERT_TRUE(victim.kill_and_reap());
    expect_closed_by_death(s);
    EXPECT_EQ(seam::test::check(*held, version), "");
    std::error_code ec;
    EXPECT_FALSE(reader.acquire(ec));
    EXPECT_EQ(ec, seam::errc::peer_closed);
  }
  serve_a_new_client(server, app, baseline);
}

}  // namespace seam::test::crash_cases
