// Shared writers over a session: `share(arena, access::read_write)` on one side, `attach` on
// the other, with real processes; a plain `share` stays read-only.
#include <gtest/gtest.h>

#include "arena/writer_table.hpp"
#include "seam/session/session.hpp"
#include "session/peer.hpp"

namespace {

using namespace std::chrono_literals;
using seam::test::unique_app;
using seam::test::value_of;
using seam::test::writer_table;

TEST(SharedWritersSessionTest, PeerAttachesAsAWriterAndInserts) {
  const auto app = unique_app();
  seam::session_server server{app};
  seam::arena shared({.capacity = std::size_t{1} << 30, .name = "session-writers",
                      .isolation = seam::isolation::trust_same_uid});
  auto* t = shared.make_named<writer_table>("table");
  auto client = seam::test::fork_run([&] {
    try {
      auto s = seam::session::connect(app, 10s);
      seam::arena w = s.attach(shared.id(), 10s);
      auto* table = w.find<writer_table>("table");
      if (table == nullptr) return 1;
      seam::arena_scope scope{w};
      {
        auto tree = table->tree.lock();
        for (std::int64_t k = 0; k < 1000; ++k) tree->emplace(k, value_of(k));
      }
      // Only one writable share was made: a second attach waits, then times out.
      try {
        s.attach(0, 100ms);
        return 2;
      } catch (const std::system_error& e) {
        if (e.code() != seam::errc::timed_out) return 3;
      }
      return 0;
    } catch (...) {
      return 9;
    }
  });
  auto s = server.accept(30s);
  s.share(shared, seam::access::read_write);
  EXPECT_EQ(client.wait(), 0);
  auto tree = t->tree.lock();
  ASSERT_EQ(tree->size(), 1000u);
  for (std::int64_t k = 0; k < 1000; ++k) ASSERT_EQ(tree->at(k), value_of(k));
}

TEST(SharedWritersSessionTest, ReadOnlyShareCannotBeAttached) {
  const auto app = unique_app();
  seam::session_server server{app};
  seam::arena shared({.capacity = std::size_t{1} << 30, .name = "session-read-only"});
  auto client = seam::test::fork_run([&] {
    try {
      auto s = seam::session::connect(app, 10s);
      // The read-only share arrives (its view appears), and no writable one comes with it.
      for (int i = 0; i < 1000 && !s.peer_arena(shared.id()); ++i) {
        try {
          s.attach(shared.id(), 10ms);
          return 1;
        } catch (const std::system_error& e) {
          if (e.code() != seam::errc::timed_out) return 2;
        }
      }
      if (!s.peer_arena(shared.id())) return 3;
      try {
        s.attach(shared.id(), 50ms);
        return 4;
      } catch (const std::system_error& e) {
        return e.code() == seam::errc::timed_out ? 0 : 5;
      }
    } catch (...) {
      return 9;
    }
  });
  auto s = server.accept(30s);
  s.share(shared);
  EXPECT_EQ(client.wait(), 0);
}

}  // namespace
