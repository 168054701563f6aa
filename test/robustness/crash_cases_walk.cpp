// Crash matrix cases: a peer killed while a reader walks a 1 GiB message (the reader is the
// victim, or the victim lent the message the test walks).

#include <gtest/gtest.h>

#include "robustness/crash_cases.hpp"

namespace seam::test::crash_cases {

constexpr std::size_t GiB = std::size_t{1} << 30;

// ---- while a reader walks a 1 GiB message ----------------------------------------------------

// We lend a 1 GiB message (built in `from`) to the victim, which walks it until killed.
void expect_gib_released_after_reader_dies(seam::session& s, seam::arena& from,
                                           crash_peer& victim) {
  const std::size_t allocated = from.stats().allocated;
  seam::capnp::channel ch(s, s.open_channel(crash::transport()));
  {
    seam::capnp::message_builder b(from);
    seam::test::build_file(b.initRoot<File>(), crash::gib_parts, crash::gib_part_bytes,
                           crash::gib_seed);
    ch.send(b, {}, 30s);
  }  // the builder is gone; the lend keeps its segments for the reader
  EXPECT_EQ(s.lent_count(), 1u);
  EXPECT_GE(from.stats().allocated, allocated + GiB);
  ASSERT_EQ(victim.line(), "at reader_walk");
  ASSERT_TRUE(victim.kill_and_reap());
  expect_closed_by_death(s);
  EXPECT_EQ(s.lent_count(), 0u);
  expect_allocated_once_closed(from, allocated, ch);  // the whole GiB is freed
}

void server_while_reader_walks() {
  const auto app = unique_app();
  const held_resources baseline;
  crash_peer victim("server-walk", app);
  ASSERT_EQ(victim.line(), "listening");
  {
    auto s = seam::session::connect(app, 10s);
    expect_gib_released_after_reader_dies(s, s.arena(), victim);
  }
  connect_to_a_new_server(app, baseline);
}

// The message comes from a dataset arena shared with the client, which outlives the session.
void client_while_reader_walks() {
  const auto app = unique_app();
  seam::session_server server{app};
  seam::arena dataset({.name = "crash-dataset"});
  const std::size_t dataset_allocated = dataset.stats().allocated;
  const held_resources baseline;
  {
    crash_peer victim("client-walk", app);
    auto s = server.accept(30s);
    s.share(dataset);
    expect_gib_released_after_reader_dies(s, dataset, victim);
  }
  serve_a_new_client(server, app, baseline);
  EXPECT_EQ(dataset.stats().allocated, dataset_allocated);
}

void borrower_while_reader_walks() {
  const auto app = unique_app();
  seam::session_server server{app};
  const held_resources baseline;
  {
    crash_peer victim("borrower-walk", app);
    auto s = server.accept(30s);
    expect_gib_released_after_reader_dies(s, s.arena(), victim);
  }
  serve_a_new_client(server, app, baseline);
}

// The victim lends us a 1 GiB message; we walk it and kill the lender a quarter of the way:
// the rest of the walk reads a dead process's memory, which must stay intact.
void lender_while_reader_walks() {
  const auto app = unique_app();
  seam::session_server server{app};
  const held_resources baseline;
  {
    crash_peer victim("lender-walk", app);
    auto s = server.accept(30s);
    const std::size_t allocated = s.arena().stats().allocated;
    seam::capnp::channel ch(s, s.accept_channel(60s));
    {
      auto r = ch.receive_message(120s);
      ASSERT_EQ(victim.line(), "at reader_walk");
      auto parts = r.root<File>().getParts();
      ASSERT_EQ(parts.size(), crash::gib_parts);
      std::size_t walked = 0, corrupt = 0;
      bool by_kill = false;
      for (unsigned i = 0; i < parts.size(); ++i) {
        if (i == parts.size() / 4) by_kill = victim.kill_and_reap();
        auto data = parts[i].getData();
        corrupt += seam::test::hash_bytes(reinterpret_cast<const std::byte*>(data.begin()),
                                          data.size()) != parts[i].getHash();
        walked += data.size();
      }
      EXPECT_TRUE(by_kill);
      EXPECT_EQ(corrupt, 0u);
      EXPECT_EQ(walked, crash::gib_parts * crash::gib_part_bytes);
      expect_closed_by_death(s);
    }
    EXPECT_EQ(s.lent_count(), 0u);
    expect_allocated_once_closed(s.arena(), allocated, ch);
  }
  serve_a_new_client(server, app, baseline);
}

}  // namespace seam::test::crash_cases
