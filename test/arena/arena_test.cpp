#include "seam/arena/arena.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "arena/pattern.hpp"
#include "support/process.hpp"

namespace {

using seam::test::check_pattern;
using seam::test::check_sparse;
using seam::test::fill_pattern;
using seam::test::fill_sparse;

constexpr std::size_t MiB = std::size_t{1} << 20;
constexpr std::size_t GiB = std::size_t{1} << 30;

struct block {
  std::byte* p;
  std::size_t size;
  std::uint64_t seed;
};

void expect_disjoint(std::vector<block> blocks) {
  std::sort(blocks.begin(), blocks.end(), [](const block& a, const block& b) { return a.p < b.p; });
  for (std::size_t i = 1; i < blocks.size(); ++i) {
    ASSERT_LE(blocks[i - 1].p + blocks[i - 1].size, blocks[i].p) << "blocks overlap";
  }
}

TEST(ArenaTest, SizesFromOneByteTo256MiBKeepTheirBytes) {
  seam::arena a({.capacity = 4 * GiB, .name = "sizes"});
  std::vector<std::size_t> sizes;
  for (std::size_t s = 1; s <= 256 * MiB; s *= 2) {
    sizes.push_back(s);
    if (s > 2) sizes.push_back(s - 1);
    sizes.push_back(s + s / 2 + 1);
  }
  sizes.erase(std::remove_if(sizes.begin(), sizes.end(), [](auto s) { return s > 256 * MiB; }),
              sizes.end());
  std::vector<block> blocks;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    auto* p = static_cast<std::byte*>(a.allocate(sizes[i]));
    ASSERT_TRUE(a.contains(p, sizes[i]));
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % std::min<std::size_t>(16, std::bit_floor(sizes[i])), 0u);
    EXPECT_GE(a.usable_size(p), sizes[i]);
    fill_sparse(p, sizes[i], i);
    blocks.push_back({p, sizes[i], i});
  }
  expect_disjoint(blocks);
  for (const auto& b : blocks) {
    ASSERT_TRUE(check_sparse(b.p, b.size, b.seed)) << "block of " << b.size << " bytes";
    a.deallocate(b.p, b.size);
  }
  EXPECT_EQ(a.stats().allocated, 0u);
}

TEST(ArenaTest, AlignmentsUpTo2MiBHoldInTheArena) {
  seam::arena a({.capacity = GiB, .name = "align"});
  std::vector<block> blocks;
  for (std::size_t align = 1; align <= 2 * MiB; align *= 2) {
    for (std::size_t size : {std::size_t{1}, align, 3 * align + 5}) {
      auto* p = static_cast<std::byte*>(a.allocate(size, align));
      // Relative to the arena's start, so the alignment also holds in every view.
      EXPECT_EQ(static_cast<std::size_t>(p - a.base()) % align, 0u) << size << "/" << align;
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % align, 0u);
      fill_pattern(p, size, size ^ align);
      blocks.push_back({p, size, size ^ align});
    }
  }
  expect_disjoint(blocks);
  for (const auto& b : blocks) EXPECT_EQ(check_pattern(b.p, b.size, b.seed), b.size);
  EXPECT_THROW(a.allocate(16, 3), std::system_error);
  EXPECT_EQ(a.allocate(16, 3, std::nothrow), nullptr);
}

TEST(ArenaTest, ThreadsAllocateAndFreeConcurrently) {
  seam::arena a({.capacity = 4 * GiB, .name = "threads"});
  constexpr int threads = 4;
  std::vector<std::thread> pool;
  std::vector<int> errors(threads, 0);
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      std::vector<block> live;
      for (int op = 0; op < 200000; ++op) {
        if (live.size() < 512 && (live.empty() || rng() % 3 != 0)) {
          const std::size_t size = rng() % 50 == 0 ? 64 * 1024 + rng() % 4096 : 1 + rng() % 2048;
          auto* p = static_cast<std::byte*>(a.allocate(size));
          if (!a.contains(p, size)) ++errors[t];
          const std::uint64_t seed = rng();
          // Only the ends: enough to catch two threads sharing a block, and fast.
          fill_pattern(p, std::min<std::size_t>(size, 16), seed);
          if (size > 32) fill_pattern(p + size - 16, 16, ~seed);
          live.push_back({p, size, seed});
        } else {
          const std::size_t i = rng() % live.size();
          const block b = live[i];
          const std::size_t head = std::min<std::size_t>(b.size, 16);
          if (check_pattern(b.p, head, b.seed) != head) ++errors[t];
          if (b.size > 32 && check_pattern(b.p + b.size - 16, 16, ~b.seed) != 16) ++errors[t];
          a.deallocate(b.p, b.size);
          live[i] = live.back();
          live.pop_back();
        }
      }
      for (const auto& b : live) a.deallocate(b.p, b.size);
    });
  }
  for (auto& th : pool) th.join();
  for (int t = 0; t < threads; ++t) EXPECT_EQ(errors[t], 0) << "thread " << t;
  // Each exited thread's cache went back to the arena with it.
  EXPECT_EQ(a.stats().allocated, 0u);
}

TEST(ArenaTest, BlocksOfTwoArenasAndMallocNeverMix) {
  // Thread caches are per arena: a block freed into one arena must never come back from
  // another, nor from malloc.
  seam::arena a({.capacity = GiB, .name = "mix-a"});
  seam::arena b({.capacity = GiB, .name = "mix-b"});
  std::mt19937 rng(7);
  std::vector<void*> in_a, in_b, in_heap;
  for (int round = 0; round < 20000; ++round) {
    const std::size_t size = 8 + rng() % 512;
    void* pa = a.allocate(size);
    void* pb = b.allocate(size);
    void* ph = std::malloc(size);
    ASSERT_TRUE(a.contains(pa) && !b.contains(pa));
    ASSERT_TRUE(b.contains(pb) && !a.contains(pb));
    ASSERT_TRUE(!a.contains(ph) && !b.contains(ph));
    EXPECT_EQ(seam::arena::owning(pa), &a);
    EXPECT_EQ(seam::arena::owning(pb), &b);
    EXPECT_EQ(seam::arena::owning(ph), nullptr);
    in_a.push_back(pa);
    in_b.push_back(pb);
    in_heap.push_back(ph);
    if (rng() % 2) {  // free in a crossed order
      std::swap(in_a[rng() % in_a.size()], in_a.back());
      a.deallocate(in_a.back());
      in_a.pop_back();
      b.deallocate(in_b.back());
      in_b.pop_back();
      std::free(in_heap.back());
      in_heap.pop_back();
    }
  }
  for (void* p : in_a) a.deallocate(p);
  for (void* p : in_b) b.deallocate(p);
  for (void* p : in_heap) std::free(p);
}

TEST(ArenaTest, FullArenaThrowsBadAllocThenRecovers) {
  seam::arena a({.capacity = 64 * MiB, .name = "full"});
  std::vector<void*> blocks;
  for (;;) {
    void* p = a.allocate(MiB, 16, std::nothrow);
    if (p == nullptr) break;
    blocks.push_back(p);
  }
  ASSERT_GT(blocks.size(), 16u);
  EXPECT_THROW(a.allocate(MiB), std::bad_alloc);
  EXPECT_THROW(a.allocate(128 * MiB), std::bad_alloc);
  const std::size_t filled = blocks.size();
  for (void* p : blocks) a.deallocate(p, MiB);
  blocks.clear();
  // Freed space is reused: the arena fills again to the same count.
  for (std::size_t i = 0; i < filled; ++i) blocks.push_back(a.allocate(MiB));
  for (void* p : blocks) a.deallocate(p, MiB);
  EXPECT_NE(a.allocate(100), nullptr);
}

TEST(ArenaTest, ForkedChildGetsAClearErrorAndCannotCorruptTheParent) {
  seam::arena a({.capacity = GiB, .name = "fork"});
  auto* kept = static_cast<std::byte*>(a.allocate(4096));
  fill_pattern(kept, 4096, 42);
  auto child = seam::test::fork_run([&] {
    try {
      a.allocate(64);
      return 1;
    } catch (const std::system_error& e) {
      if (e.code() != seam::errc::forked_child) return 2;
    }
    if (a.allocate(64, 16, std::nothrow) != nullptr) return 3;
    a.deallocate(kept, 4096);  // ignored: the block is the parent's
    a.purge();                 // ignored: would punch holes in the parent's data
    return 0;
  });
  EXPECT_EQ(child.wait(), 0);
  EXPECT_EQ(check_pattern(kept, 4096, 42), 4096u);
  // The parent still owns the arena, and the kept block was not handed out again.
  for (int i = 0; i < 1000; ++i) {
    auto* p = static_cast<std::byte*>(a.allocate(4096));
    ASSERT_NE(p, kept);
    a.deallocate(p, 4096);
  }
  a.deallocate(kept, 4096);
}

TEST(ArenaTest, FreedGigabyteGoesBackToTheKernel) {
  seam::arena a(
      {.capacity = 4 * GiB, .name = "purge", .isolation = seam::isolation::trust_same_uid});
  seam::unique_fd shared = a.share();  // punching holes must still work once sealed
  const std::size_t before = a.stats().resident;
  std::vector<void*> blocks;
  for (int i = 0; i < 1024; ++i) {
    void* p = a.allocate(MiB);
    std::memset(p, 0xab, MiB);
    blocks.push_back(p);
  }
  const auto full = a.stats();
  EXPECT_GE(full.resident, before + GiB);
  EXPECT_GE(full.allocated, GiB);
  EXPECT_GT(full.extents, 0u);
  for (void* p : blocks) a.deallocate(p, MiB);
  a.purge();
  const auto empty = a.stats();
  EXPECT_EQ(empty.allocated, 0u);
  EXPECT_LT(empty.resident, before + 8 * MiB);
  // Reused memory reads as zero after the purge, as jemalloc was told.
  auto* again = static_cast<unsigned char*>(a.allocate(MiB));
  EXPECT_NE(again, nullptr);
}

struct throws_on_build {
  explicit throws_on_build(int x) {
    if (x < 0) throw std::invalid_argument("negative");
  }
  char payload[256];
};

TEST(ArenaTest, MakeConstructsInTheArenaAndFreesOnThrow) {
  seam::arena a({.capacity = GiB, .name = "make"});
  auto* s = a.make<std::pair<int, double>>(3, 4.5);
  EXPECT_TRUE(a.contains(s, sizeof *s));
  EXPECT_EQ(s->first, 3);
  EXPECT_EQ(s->second, 4.5);
  EXPECT_EQ(a.get(a.handle_of(s)), s);
  a.destroy(s);
  EXPECT_THROW(a.make<throws_on_build>(-1), std::invalid_argument);
  EXPECT_EQ(a.stats().allocated, 0u);
  int outside = 0;
  try {
    (void)a.handle_of(&outside);
    ADD_FAILURE() << "handle_of accepted a pointer outside the arena";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), seam::errc::not_in_arena);
  }
}

TEST(ArenaTest, ShareSealsTheMemfdAndHandsOutAReadOnlyFd) {
  seam::arena a({.capacity = 64 * MiB, .name = "share"});
  seam::unique_fd fd = a.share();
  ASSERT_TRUE(fd);
  const int seals = ::fcntl(fd.get(), F_GET_SEALS);
  EXPECT_EQ(seals & (F_SEAL_SHRINK | F_SEAL_GROW), F_SEAL_SHRINK | F_SEAL_GROW);
  EXPECT_EQ(::fcntl(fd.get(), F_GETFL) & O_ACCMODE, O_RDONLY);
  EXPECT_NE(::ftruncate(fd.get(), 0), 0);
  EXPECT_EQ(::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0), MAP_FAILED);
  struct stat st {};
  ASSERT_EQ(::fstat(fd.get(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0400u) << "a peer could reopen the memfd for writing";
  EXPECT_EQ(static_cast<std::size_t>(st.st_size), a.capacity());
  // The owner keeps writing through its own mapping.
  auto* p = static_cast<char*>(a.allocate(100));
  std::strcpy(p, "still writable");
  EXPECT_STREQ(p, "still writable");
}

}  // namespace
