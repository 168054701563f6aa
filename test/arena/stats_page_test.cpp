// The stats page: what an arena's owner publishes of `arena::stats()` in its header page, and
// what `arena_view::stats` makes of it, including pages that were tampered with.
#include "arena/detail/stats_page.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include "seam/arena/arena.hpp"
#include "seam/arena/arena_view.hpp"

namespace {

constexpr std::size_t MiB = std::size_t{1} << 20;

struct owner_and_view {
  seam::arena arena{{.capacity = std::size_t{1} << 30, .name = "stats-test"}};
  seam::arena_view view;
  owner_and_view() {
    seam::unique_fd fd = arena.share();
    view = seam::arena_view::open(fd.get());
  }
  seam::detail::stats_page& page() { return seam::detail::stats_page_of(arena.base()); }
};

TEST(StatsPageTest, ViewReadsWhatTheOwnerLastPublished) {
  owner_and_view a;
  void* block = a.arena.allocate(3 * MiB);
  const seam::arena_stats s = a.arena.stats();  // publishes
  std::error_code ec;
  const std::optional<seam::published_arena_stats> p = a.view.stats(ec);
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->capacity, s.capacity);
  EXPECT_EQ(p->allocated, s.allocated);
  EXPECT_GE(p->allocated, 3 * MiB);
  EXPECT_EQ(p->reserved, s.reserved);
  EXPECT_EQ(p->resident, s.resident);
  EXPECT_EQ(p->extents, s.extents);
  EXPECT_EQ(p->owner_pid, static_cast<std::uint64_t>(::getpid()));
  EXPECT_GE(p->publications, 2u);  // share() published, then stats()
  a.arena.deallocate(block);
  a.arena.stats();
  const auto later = a.view.stats(ec);
  ASSERT_TRUE(later.has_value());
  EXPECT_LT(later->allocated, p->allocated);
  EXPECT_EQ(later->publications, p->publications + 1);
}

TEST(StatsPageTest, ABigBlockRefreshesWhatIsPublished) {
  owner_and_view a;
  std::error_code ec;
  const auto before = a.view.stats(ec);  // what share() published
  ASSERT_TRUE(before.has_value());
  void* block = a.arena.allocate(seam::arena::publish_block_size * 8);  // no stats() call
  const auto after = a.view.stats(ec);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->publications, before->publications + 1);
  EXPECT_GE(after->allocated, before->allocated + seam::arena::publish_block_size * 8);
  a.arena.deallocate(block, seam::arena::publish_block_size * 8);
}

TEST(StatsPageTest, ReadersRacingPublishersSeeWholeCopies) {
  owner_and_view a;
  std::atomic<bool> done{false};
  // Two owner threads publish (allocating and freeing between), a reader copies meanwhile:
  // every copy it gets is whole (the figures of one publication) and never goes back.
  std::vector<std::thread> owners;
  for (int t = 0; t < 2; ++t) {
    owners.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        void* p = a.arena.allocate(4096);
        a.arena.stats();
        a.arena.deallocate(p, 4096);
      }
    });
  }
  std::thread reader([&] {
    std::uint64_t last = 0;
    while (!done.load()) {
      std::error_code ec;
      const auto s = a.view.stats(ec);
      if (ec == std::errc::device_or_resource_busy) continue;
      ASSERT_FALSE(ec) << ec.message();
      ASSERT_TRUE(s.has_value());
      EXPECT_EQ(s->capacity, a.arena.capacity());
      EXPECT_LE(s->allocated, s->capacity);
      EXPECT_GE(s->publications, last);
      last = s->publications;
    }
  });
  for (auto& t : owners) t.join();
  done = true;
  reader.join();
  std::error_code ec;
  EXPECT_TRUE(a.view.stats(ec).has_value());
}

TEST(StatsPageTest, NothingPublishedReadsAsNothing) {
  owner_and_view a;
  a.page().magic = 0;  // as an arena whose owner never published
  std::error_code ec = seam::errc::corrupt_arena;
  EXPECT_FALSE(a.view.stats(ec).has_value());
  EXPECT_FALSE(ec);
  EXPECT_FALSE(seam::arena_view{}.stats(ec).has_value());
}

TEST(StatsPageTest, FiguresThatDoNotHoldUpAreCorrupt) {
  owner_and_view a;
  std::error_code ec;
  a.page().allocated = a.arena.capacity() + 1;
  EXPECT_FALSE(a.view.stats(ec).has_value());
  EXPECT_EQ(ec, seam::errc::corrupt_arena);
  a.arena.stats();  // the owner's next publication repairs it
  EXPECT_TRUE(a.view.stats(ec).has_value());
  a.page().capacity = 4096;
  EXPECT_FALSE(a.view.stats(ec).has_value());
  EXPECT_EQ(ec, seam::errc::corrupt_arena);
  a.arena.stats();
  a.page().owner_pid = 0;
  EXPECT_FALSE(a.view.stats(ec).has_value());
  EXPECT_EQ(ec, seam::errc::corrupt_arena);
}

TEST(StatsPageTest, AnOwnerKilledMidWriteLeavesTheReaderBusyNotHung) {
  owner_and_view a;
  a.arena.stats();
  a.page().sequence |= 1;  // a write that never ends
  std::error_code ec;
  EXPECT_FALSE(a.view.stats(ec).has_value());
  EXPECT_EQ(ec, std::errc::device_or_resource_busy);
  // The owner skips a page it finds mid-write by another thread, and the page stays readable
  // as busy: nothing hangs.
  a.arena.stats();
  EXPECT_FALSE(a.view.stats(ec).has_value());
}

}  // namespace
