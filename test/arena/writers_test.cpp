// Shared writers: processes attached to one arena with `arena::attach` allocate on their own,
// free each other's blocks through remote-free lists, and survive each other's SIGKILL. Every
// writer here is a real process (forked, then attached through the fd `share_writable` gave).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "arena/detail/layout.hpp"
#include "arena/detail/writers.hpp"
#include "arena/pattern.hpp"
#include "arena/writer_table.hpp"
#include "seam/arena/arena.hpp"
#include "support/process.hpp"

namespace {

using seam::test::value_of;
using seam::test::writer_table;

constexpr std::size_t MiB = std::size_t{1} << 20;
constexpr std::size_t GiB = std::size_t{1} << 30;

// Runs `body(attached arena)` in a forked child that attached as a writer. The child's exit
// code is `body`'s result; 90 if attaching threw.
template <class Body>
seam::test::process attached_child(const seam::arena& a, Body body) {
  seam::unique_fd fd = a.share_writable();
  return seam::test::fork_run([&]() -> int {
    try {
      seam::arena w = seam::arena::attach(std::move(fd));
      return body(w);
    } catch (...) {
      return 90;
    }
  });
}

// Inserts keys `first, first + step, …` below `end` into both containers, one lock per key.
void insert_share(seam::arena& w, writer_table& t, std::int64_t first, std::int64_t step,
                  std::int64_t end) {
  seam::arena_scope scope{w};
  for (std::int64_t k = first; k < end; k += step) {
    auto tree = t.tree.lock();
    tree->emplace(k, value_of(k));
    t.hash.insert({k, value_of(k)});
  }
}

TEST(WritersTest, AttachedWriterAllocatesInChunksOfItsOwn) {
  seam::arena a({.capacity = GiB, .name = "attach",
                  .isolation = seam::isolation::trust_same_uid});
  std::vector<std::byte*> mine;
  for (int i = 0; i < 100; ++i) {
    auto* p = static_cast<std::byte*>(a.allocate(1000));
    seam::test::fill_pattern(p, 1000, 1);
    mine.push_back(p);
  }
  seam::test::pipe_pair pipe;
  auto child = attached_child(a, [&](seam::arena& w) {
    if (w.id() != a.id() || w.base() == a.base() || w.capacity() != a.capacity()) return 1;
    std::string offsets;
    for (int i = 0; i < 100; ++i) {
      auto* p = static_cast<std::byte*>(w.allocate(1000));
      seam::test::fill_pattern(p, 1000, 2);
      offsets += std::to_string(p - w.base()) + " ";
    }
    if (w.stats().writers != 2) return 2;
    seam::test::write_all(pipe.write_end.get(), offsets + "\n");
    return 0;
  });
  const std::string line = seam::test::read_line(pipe.read_end.get());
  EXPECT_EQ(child.wait(), 0);
  // The writer's blocks hold its bytes, ours still hold ours: no block was handed out twice.
  std::istringstream in(line);
  std::size_t offset = 0;
  int count = 0;
  while (in >> offset) {
    EXPECT_EQ(seam::test::check_pattern(a.base() + offset, 1000, 2), 1000u);
    ++count;
  }
  EXPECT_EQ(count, 100);
  for (std::byte* p : mine) EXPECT_EQ(seam::test::check_pattern(p, 1000, 1), 1000u);
  // The child left: its slot is free again and its chunks are orphaned (their blocks stay).
  const seam::arena_stats s = a.stats();
  EXPECT_EQ(s.writers, 1u);
  EXPECT_GE(s.orphaned, seam::detail::chunk_bytes);
}

TEST(WritersTest, ShareStaysReadOnlyAndAViewCannotAttach) {
  seam::arena a({.capacity = 64 * MiB, .name = "ro",
                  .isolation = seam::isolation::trust_same_uid});
  EXPECT_THROW(
      {
        try {
          seam::arena::attach(a.share());
        } catch (const std::system_error& e) {
          EXPECT_EQ(e.code(), seam::errc::bad_arena);
          throw;
        }
      },
      std::system_error);
}

TEST(WritersTest, StrictArenaIsNeverSharedForWriting) {
  seam::arena a({.capacity = 64 * MiB, .name = "strict"});  // strict is the default
  std::error_code ec;
  EXPECT_FALSE(a.share_writable(ec));
  EXPECT_EQ(ec, seam::errc::strict_isolation);
}

class WritersInsertTest : public ::testing::TestWithParam<int> {};

TEST_P(WritersInsertTest, WritersInsertIntoOneMapAndOneHashMap) {
  const int writers = GetParam();
  constexpr std::int64_t keys = 20000;
  seam::arena a({.capacity = 4 * GiB, .name = "insert",
                  .isolation = seam::isolation::trust_same_uid});
  auto* t = a.make_named<writer_table>("table");
  std::vector<seam::test::process> children;
  for (int i = 0; i < writers; ++i) {
    children.push_back(attached_child(a, [&, i](seam::arena& w) {
      auto* table = w.find<writer_table>("table");
      if (table == nullptr) return 1;
      insert_share(w, *table, i, writers, keys);
      return 0;
    }));
  }
  for (auto& c : children) EXPECT_EQ(c.wait(), 0);
  auto tree = t->tree.lock();
  EXPECT_FALSE(tree.previous_owner_died());
  ASSERT_EQ(tree->size(), static_cast<std::size_t>(keys));
  ASSERT_EQ(t->hash.size(), static_cast<std::size_t>(keys));
  std::int64_t expected = 0;
  for (const auto& [k, v] : *tree) {
    ASSERT_EQ(k, expected);
    ASSERT_EQ(v, value_of(k));
    ++expected;
  }
  for (std::int64_t k = 0; k < keys; ++k) {
    auto it = t->hash.find(k);
    ASSERT_NE(it, t->hash.end()) << k;
    ASSERT_EQ(it->second, value_of(k));
  }
  // The writers left: their nodes stay readable, erasing them is a dropped (orphan) free.
  seam::arena_scope scope{a};
  tree->clear();
  EXPECT_GE(a.stats().orphan_frees, static_cast<std::size_t>(keys / 2));
}

INSTANTIATE_TEST_SUITE_P(TwoAndFour, WritersInsertTest, ::testing::Values(2, 4));

TEST(WritersTest, ErasingAnotherWritersNodesReturnsThemToItsHeap) {
  constexpr std::int64_t keys = 50000;
  seam::arena a({.capacity = GiB, .name = "remote",
                  .isolation = seam::isolation::trust_same_uid});
  auto* t = a.make_named<writer_table>("table");
  a.purge();
  const std::size_t baseline = a.stats().allocated;
  {
    seam::arena_scope scope{a};
    auto tree = t->tree.lock();
    for (std::int64_t k = 0; k < keys; ++k) tree->emplace(k, value_of(k));
  }
  ASSERT_GT(a.stats().allocated, baseline + keys * 32);
  seam::test::pipe_pair erased, done;
  auto child = attached_child(a, [&](seam::arena& w) {
    auto* table = w.find<writer_table>("table");
    if (table == nullptr) return 1;
    {
      seam::arena_scope scope{w};
      table->tree.lock()->clear();
    }
    const seam::arena_stats s = w.stats();
    if (s.remote_frees_sent != static_cast<std::size_t>(keys)) return 2;
    seam::test::write_all(erased.write_end.get(), "erased\n");
    seam::test::read_line(done.read_end.get());  // stays a writer while the owner checks
    return 0;
  });
  EXPECT_EQ(seam::test::read_line(erased.read_end.get()), "erased");
  seam::arena_stats s = a.stats();
  EXPECT_EQ(s.remote_frees_pending, static_cast<std::size_t>(keys));
  EXPECT_EQ(s.writers, 2u);
  a.collect();
  s = a.stats();
  EXPECT_EQ(s.remote_frees_pending, 0u);
  EXPECT_EQ(s.remote_frees_returned, static_cast<std::size_t>(keys));
  EXPECT_EQ(s.allocated, baseline);
  seam::test::write_all(done.write_end.get(), "done\n");
  EXPECT_EQ(child.wait(), 0);
}

TEST(WritersTest, OwnerTakesRemoteFreesBackAtItsAllocationSlowPath) {
  seam::arena a({.capacity = GiB, .name = "slow-path",
                  .isolation = seam::isolation::trust_same_uid});
  std::vector<std::size_t> offsets;
  for (int i = 0; i < 1000; ++i) {
    offsets.push_back(static_cast<std::size_t>(static_cast<std::byte*>(a.allocate(4096)) - a.base()));
  }
  auto child = attached_child(a, [&](seam::arena& w) {
    for (std::size_t at : offsets) w.deallocate(w.base() + at, 4096);
    return w.stats().remote_frees_sent == offsets.size() ? 0 : 1;
  });
  EXPECT_EQ(child.wait(), 0);
  // 4 KiB blocks miss the front cache at first: an allocation reaches the slow path.
  for (int i = 0; i < 64; ++i) a.deallocate(a.allocate(8192), 8192);
  EXPECT_EQ(a.stats().remote_frees_returned, offsets.size());
}

TEST(WritersTest, WriterKilledMidWayLeavesItsBlocksValidAndOthersGoOn) {
  seam::arena a({.capacity = 4 * GiB, .name = "death",
                  .isolation = seam::isolation::trust_same_uid});
  auto* t = a.make_named<writer_table>("table");
  seam::test::pipe_pair ready;
  auto victim = attached_child(a, [&](seam::arena& w) -> int {
    auto* table = w.find<writer_table>("table");
    insert_share(w, *table, 0, 1, 1000);
    // Dies holding the lock, with a block allocated and not yet inserted.
    seam::arena_scope scope{w};
    void* pending = w.allocate(5000);
    std::memset(pending, 1, 5000);
    auto held = table->tree.lock();
    seam::test::write_all(ready.write_end.get(), "ready\n");
    for (;;) ::pause();
  });
  EXPECT_EQ(seam::test::read_line(ready.read_end.get()), "ready");
  victim.kill();
  EXPECT_EQ(victim.wait(), 1000 + SIGKILL);
  // The lock reports the death; the dead writer's nodes are all there.
  auto tree = t->tree.lock();
  EXPECT_TRUE(tree.previous_owner_died());
  ASSERT_EQ(tree->size(), 1000u);
  for (std::int64_t k = 0; k < 1000; ++k) ASSERT_EQ(tree->at(k), value_of(k));
  const seam::arena_stats s = a.stats();
  EXPECT_EQ(s.writers, 1u);
  EXPECT_GE(s.orphaned, seam::detail::chunk_bytes);
  // Another writer attaches (reusing the slot) and goes on inserting; erasing the dead
  // writer's nodes drops them.
  tree.unlock();
  auto next = attached_child(a, [&](seam::arena& w) {
    auto* table = w.find<writer_table>("table");
    insert_share(w, *table, 1000, 1, 2000);
    seam::arena_scope scope{w};
    auto locked = table->tree.lock();
    for (std::int64_t k = 0; k < 500; ++k) locked->erase(k);
    locked.unlock();
    return w.stats().writers == 2 ? 0 : 1;
  });
  EXPECT_EQ(next.wait(), 0);
  auto again = t->tree.lock();
  EXPECT_FALSE(again.previous_owner_died());
  EXPECT_EQ(again->size(), 1500u);
  EXPECT_GE(a.stats().orphan_frees, 500u);
  for (std::int64_t k = 500; k < 2000; ++k) ASSERT_EQ(again->at(k), value_of(k));
}

TEST(WritersTest, WriterKilledWithRemoteFreesPendingDropsThem) {
  seam::arena a({.capacity = GiB, .name = "pending",
                  .isolation = seam::isolation::trust_same_uid});
  seam::test::pipe_pair offsets_pipe, freed;
  auto victim = attached_child(a, [&](seam::arena& w) -> int {
    std::string line;
    for (int i = 0; i < 100; ++i) {
      line += std::to_string(static_cast<std::byte*>(w.allocate(64)) - w.base()) + " ";
    }
    seam::test::write_all(offsets_pipe.write_end.get(), line + "\n");
    seam::test::read_line(freed.read_end.get());
    for (;;) ::pause();
  });
  std::istringstream in(seam::test::read_line(offsets_pipe.read_end.get()));
  std::size_t at = 0;
  std::size_t n = 0;
  while (in >> at) {
    a.deallocate(a.base() + at, 64);
    ++n;
  }
  EXPECT_EQ(a.stats().remote_frees_sent, n);
  seam::test::write_all(freed.write_end.get(), "freed\n");
  victim.kill();
  EXPECT_EQ(victim.wait(), 1000 + SIGKILL);
  // Its slot is taken again by a new writer; the 100 pushes it never collected are orphans.
  auto next = attached_child(a, [&](seam::arena& w) {
    void* p = w.allocate(64);
    w.deallocate(p, 64);
    return w.stats().orphan_frees >= 100 ? 0 : 1;
  });
  EXPECT_EQ(next.wait(), 0);
}

// "w<writer>-<k>" (snprintf: gcc 12 warns falsely on string concatenation here).
std::string name_of(int writer, int k) {
  char name[32];
  std::snprintf(name, sizeof name, "w%d-%d", writer, k);
  return name;
}

TEST(WritersTest, WritersMakeNamedObjectsAtTheSameTime) {
  seam::arena a({.capacity = GiB, .name = "names",
                  .isolation = seam::isolation::trust_same_uid});
  constexpr int per_writer = 300;
  std::vector<seam::test::process> children;
  for (int i = 0; i < 3; ++i) {
    children.push_back(attached_child(a, [&, i](seam::arena& w) {
      for (int k = 0; k < per_writer; ++k) {
        w.make_named<std::int64_t>(name_of(i, k), i * 1000 + k);
      }
      return 0;
    }));
  }
  for (auto& c : children) EXPECT_EQ(c.wait(), 0);
  // The directory is changed under its shared lock: no name was lost or written twice.
  for (int i = 0; i < 3; ++i) {
    for (int k = 0; k < per_writer; ++k) {
      const auto* v = a.find<std::int64_t>(name_of(i, k));
      ASSERT_NE(v, nullptr) << i << " " << k;
      EXPECT_EQ(*v, i * 1000 + k);
    }
  }
}

TEST(WritersTest, ThreadsOfAnAttachedWriterClaimSpansConcurrently) {
  seam::arena a({.capacity = 2 * GiB, .name = "spans",
                  .isolation = seam::isolation::trust_same_uid});
  // Attached from this same process (a second writer, with its own slot, heap and mapping),
  // so that its threads run without a fork in between (TSan cannot follow jemalloc's locks
  // across a fork into a child that starts threads).
  seam::arena w = seam::arena::attach(a.share_writable());
  {
    // Small, large and huge blocks from 4 threads: the writer's spans double from 2 MiB, so
    // jemalloc's extent hook and huge blocks claim new spans at the same time.
    std::vector<std::thread> threads;
    std::atomic<int> wrong{0};
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        std::vector<std::pair<std::byte*, std::size_t>> blocks;
        for (int i = 0; i < 200; ++i) {
          const std::size_t size = i % 10 == 0 ? 3 * MiB : i % 3 == 0 ? 100000 : 200;
          auto* p = static_cast<std::byte*>(w.allocate(size));
          seam::test::fill_pattern(p, size, static_cast<unsigned>(t * 1000 + i));
          blocks.emplace_back(p, size);
        }
        for (std::size_t i = 0; i < blocks.size(); ++i) {
          const auto [p, size] = blocks[i];
          if (seam::test::check_pattern(p, size, static_cast<unsigned>(t * 1000 + i)) != size) {
            ++wrong;
          }
          w.deallocate(p, size);
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(wrong.load(), 0);
  }
  EXPECT_EQ(w.stats().writers, 2u);
}

TEST(WritersTest, SlotsAreReusedAfterWritersEnd) {
  seam::arena a({.capacity = GiB, .name = "reuse",
                  .isolation = seam::isolation::trust_same_uid});
  // More writers, one after another, than there are slots: each takes a freed slot, and each
  // claims only a chunk or two of address space.
  for (unsigned i = 0; i < seam::detail::max_writers + 6; ++i) {
    auto child = attached_child(a, [&](seam::arena& w) {
      w.deallocate(w.allocate(100), 100);
      return 0;
    });
    ASSERT_EQ(child.wait(), 0) << i;
  }
  EXPECT_EQ(a.stats().writers, 1u);
}

}  // namespace

namespace {

seam::detail::writers_header& writers_of(seam::arena& a) {
  const auto& h = *reinterpret_cast<const seam::detail::arena_header*>(a.base());
  return *reinterpret_cast<seam::detail::writers_header*>(a.base() + h.writers_offset);
}

// A buggy writer's garbage in the shared table: refused, never followed out of the arena.
TEST(WritersCorruptionTest, GarbageBumpPointerFailsClaimsNotTheProcess) {
  seam::arena a({.capacity = 64 * MiB, .name = "bump",
                  .isolation = seam::isolation::trust_same_uid});
  writers_of(a).first_free = ~std::uint64_t{0} - 5;
  std::vector<void*> blocks;
  // The creator's first span (half the arena) still serves; past it, nothing more is claimed.
  while (void* p = a.allocate(MiB, 16, std::nothrow)) blocks.push_back(p);
  EXPECT_LT(blocks.size(), 32u);
  EXPECT_THROW(a.allocate(40 * MiB), std::bad_alloc);
  std::error_code ec;
  a.collect(ec);
  EXPECT_EQ(ec, seam::errc::corrupt_arena);
  for (void* p : blocks) a.deallocate(p, MiB);
}

TEST(WritersCorruptionTest, GarbageRemoteFreeLinkEndsTheWalk) {
  seam::arena a({.capacity = 64 * MiB, .name = "link",
                  .isolation = seam::isolation::trust_same_uid});
  auto& slot = writers_of(a).slots[0];
  // A head naming a block outside the arena, for the right generation, with a count saying
  // one block is pending.
  slot.pushed += 1;
  slot.remote_head = (slot.remote_head & ~seam::detail::shared_writers::offset_mask) |
                     ((std::uint64_t{1} << 40) - 1);
  std::error_code ec;
  a.collect(ec);
  EXPECT_EQ(ec, seam::errc::corrupt_arena);
  EXPECT_NE(a.allocate(64), nullptr);  // and the arena goes on
}

TEST(WritersCorruptionTest, CyclicRemoteFreeListIsBoundedByThePushCount) {
  seam::arena a({.capacity = 64 * MiB, .name = "cycle",
                  .isolation = seam::isolation::trust_same_uid});
  auto* block = static_cast<std::byte*>(a.allocate(64));
  const auto at = static_cast<std::uint64_t>(block - a.base());
  auto& slot = writers_of(a).slots[0];
  // The block links to itself: a walk without a bound would never end.
  *reinterpret_cast<std::uint64_t*>(block) = at;
  slot.pushed += 1;
  slot.remote_head = (slot.remote_head & ~seam::detail::shared_writers::offset_mask) | (at >> 4);
  std::error_code ec;
  a.collect(ec);
  EXPECT_EQ(ec, seam::errc::corrupt_arena);
  // Dropped whole: giving the block back would free it twice.
  EXPECT_EQ(a.stats().remote_frees_returned, 0u);
  EXPECT_EQ(a.stats().remote_frees_pending, 0u);
}

TEST(WritersCorruptionTest, ListCutByABadLinkGivesBackTheBlocksBeforeIt) {
  seam::arena a({.capacity = 64 * MiB, .name = "cut",
                  .isolation = seam::isolation::trust_same_uid});
  auto* first = static_cast<std::byte*>(a.allocate(64));
  auto* second = static_cast<std::byte*>(a.allocate(64));
  auto& slot = writers_of(a).slots[0];
  *reinterpret_cast<std::uint64_t*>(first) = static_cast<std::uint64_t>(second - a.base());
  *reinterpret_cast<std::uint64_t*>(second) = a.capacity() + 4096;  // outside the arena
  slot.pushed += 3;
  slot.remote_head = (slot.remote_head & ~seam::detail::shared_writers::offset_mask) |
                     (static_cast<std::uint64_t>(first - a.base()) >> 4);
  std::error_code ec;
  a.collect(ec);
  EXPECT_EQ(ec, seam::errc::corrupt_arena);
  EXPECT_EQ(a.stats().remote_frees_returned, 2u);
}

TEST(WritersCorruptionTest, FreeIntoAChunkWithAGarbageOwnerIsDropped) {
  seam::arena a({.capacity = 64 * MiB, .name = "owner",
                  .isolation = seam::isolation::trust_same_uid});
  seam::test::pipe_pair offsets;
  auto child = attached_child(a, [&](seam::arena& w) {
    seam::test::write_all(offsets.write_end.get(),
                          std::to_string(static_cast<std::byte*>(w.allocate(64)) - w.base()) +
                              "\n");
    return 0;
  });
  const std::size_t at = std::stoull(seam::test::read_line(offsets.read_end.get()));
  EXPECT_EQ(child.wait(), 0);
  auto* chunks = reinterpret_cast<std::uint32_t*>(&writers_of(a) + 1);
  chunks[at >> seam::detail::chunk_shift] = 0xffffffffu;  // slot 254: there is no such slot
  a.deallocate(a.base() + at, 64);
  std::error_code ec;
  a.collect(ec);
  EXPECT_EQ(ec, seam::errc::corrupt_arena);
  EXPECT_EQ(a.stats().remote_frees_sent, 0u);
}

}  // namespace
