// Crash matrix cases: a shared writer (a client that attached to an arena we shared with
// `access::read_write`) killed while holding the table's lock, between an allocation and the
// insertion it was for, and with remote frees pending both ways. The survivor (this process,
// the arena's creator) must see the lock's dead owner, find every node the victim inserted,
// keep allocating, take back the blocks the victim freed for it, account the victim's space as
// orphaned, and serve a new peer.

#include <gtest/gtest.h>

#include "arena/writer_table.hpp"
#include "robustness/crash_cases.hpp"

namespace seam::test::crash_cases {

namespace {

using seam::test::value_of;
using seam::test::writer_table;

// Runs the writer victim `mode` on an arena shared for writing; `before_kill` runs once the
// victim is at its point, `after_kill` once it is dead and its session closed.
template <class BeforeKill, class AfterKill>
void writer_case(const char* mode, const char* point, BeforeKill before_kill,
                 AfterKill after_kill) {
  const auto app = unique_app();
  seam::session_server server{app};
  const held_resources baseline;
  {
    seam::arena shared({.capacity = std::size_t{1} << 30, .name = "crash-writers",
                        .isolation = seam::isolation::trust_same_uid});
    auto* t = shared.make_named<writer_table>("table");
    {
      seam::arena_scope scope{shared};
      auto tree = t->tree.lock();
      for (std::int64_t k = 1000; k < 2000; ++k) tree->emplace(k, value_of(k));
    }
    crash_peer victim(mode, app);
    auto s = server.accept(30s);
    s.share(shared, seam::access::read_write);
    ASSERT_EQ(victim.line(), std::string("at ") + point);
    before_kill(shared, *t);
    ASSERT_TRUE(victim.kill_and_reap());
    expect_closed_by_death(s);
    after_kill(shared, *t);
    // The victim's nodes are all there and readable; we go on inserting.
    {
      seam::arena_scope scope{shared};
      auto tree = t->tree.lock();
      for (std::int64_t k = 0; k < 1000; ++k) {
        auto it = tree->find(k);
        if (it == tree->end()) continue;  // erased by the case itself
        ASSERT_EQ(it->second, value_of(k));
      }
      for (std::int64_t k = 2000; k < 3000; ++k) tree->emplace(k, value_of(k));
    }
    const seam::arena_stats st = shared.stats();
    EXPECT_EQ(st.writers, 1u);  // the dead writer's slot is free again
    EXPECT_GT(st.orphaned, 0u);
    // Dropping the table frees the victim's nodes (orphans, dropped) and ours.
    seam::arena_scope scope{shared};
    shared.destroy_named<writer_table>("table");
  }
  serve_a_new_client(server, app, baseline);
}

}  // namespace

void writer_holding_lock() {
  writer_case(
      "writer-lock", "holding_lock", [](seam::arena&, writer_table&) {},
      [](seam::arena&, writer_table& t) {
        auto tree = t.tree.lock();
        EXPECT_TRUE(tree.previous_owner_died()) << "the lock did not report its dead owner";
        EXPECT_EQ(tree->size(), 2000u);
      });
}

void writer_between_alloc_and_insert() {
  writer_case(
      "writer-alloc", "between_alloc_and_insert", [](seam::arena&, writer_table&) {},
      [](seam::arena&, writer_table& t) {
        auto tree = t.tree.lock();
        EXPECT_FALSE(tree.previous_owner_died());
        EXPECT_EQ(tree->size(), 2000u);  // the block it allocated is simply lost to it
      });
}

void writer_with_remote_frees_pending() {
  writer_case(
      "writer-remote", "remote_frees_pending",
      [](seam::arena& shared, writer_table& t) {
        // The victim freed 500 of our nodes; we free 500 of its own before it dies.
        EXPECT_EQ(shared.stats().remote_frees_pending, 500u);
        seam::arena_scope scope{shared};
        auto tree = t.tree.lock();
        for (std::int64_t k = 0; k < 500; ++k) tree->erase(k);
        EXPECT_EQ(shared.stats().remote_frees_sent, 500u);
      },
      [](seam::arena& shared, writer_table& t) {
        const std::size_t pending = shared.stats().remote_frees_pending;
        EXPECT_EQ(pending, 500u);
        shared.collect();  // our blocks it freed come back although it is dead
        const seam::arena_stats st = shared.stats();
        EXPECT_EQ(st.remote_frees_pending, 0u);
        EXPECT_EQ(st.remote_frees_returned, 500u);
        // Ours to it were never taken back: counted as dropped once its death was seen.
        EXPECT_GE(st.orphan_frees, 500u);
        auto tree = t.tree.lock();
        EXPECT_FALSE(tree.previous_owner_died());
        EXPECT_EQ(tree->size(), 1000u);
      });
}

}  // namespace seam::test::crash_cases
