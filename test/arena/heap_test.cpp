// The heap behind seam::arena: its jemalloc arenas per thread, its caches of freed blocks, and
// its huge blocks. The arena tests cover the public contract; these look inside where the
// behaviour is not visible through it (which jemalloc arena a thread uses).
#include "arena/detail/heap.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "arena/detail/layout.hpp"
#include "arena/detail/os.hpp"
#include "arena/pattern.hpp"
#include "seam/arena/arena.hpp"

namespace {

using seam::detail::heap;
using seam::test::check_pattern;
using seam::test::fill_pattern;

constexpr std::size_t KiB = 1024;
constexpr std::size_t MiB = std::size_t{1} << 20;
constexpr std::size_t GiB = std::size_t{1} << 30;

// A heap over its own memfd, as arena_core makes one.
struct test_heap {
  explicit test_heap(std::size_t capacity, unsigned arenas = 2) : capacity(capacity) {
    std::error_code ec;
    fd = seam::detail::create_memfd("heap-test", capacity, ec);
    EXPECT_FALSE(ec);
    base = static_cast<std::byte*>(seam::detail::map_aligned(fd.get(), capacity, true, ec));
    EXPECT_FALSE(ec);
    h = std::make_unique<heap>(fd.get(), base, seam::detail::header_bytes, capacity, ec, arenas);
    EXPECT_FALSE(ec);
  }
  ~test_heap() {
    h.reset();
    seam::detail::unmap(base, capacity);
  }
  std::size_t resident() const { return seam::detail::resident_bytes(fd.get()); }

  std::size_t capacity;
  seam::unique_fd fd;
  std::byte* base = nullptr;
  std::unique_ptr<heap> h;
};

long minor_faults() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return u.ru_minflt;
}

TEST(ArenaHeapTest, ThreadsAllocateFromDistinctJemallocArenas) {
  test_heap t(1 * GiB);
  // One jemalloc arena until a second thread comes: jemalloc has at most 4095, and every
  // session has a heap.
  ASSERT_EQ(t.h->arena_count(), 1u);
  int arena[2] = {-1, -1};
  int block_arena[2] = {-1, -2};
  for (int i = 0; i < 2; ++i) {
    std::thread([&, i] {
      // 256 KiB: past the caches and below the huge blocks, so jemalloc serves it.
      void* p = t.h->allocate(256 * KiB, 16, false);
      arena[i] = static_cast<int>(t.h->thread_arena());
      block_arena[i] = t.h->arena_of(p);
      t.h->deallocate(p, 256 * KiB, 16);
    }).join();
  }
  EXPECT_EQ(t.h->arena_count(), 2u);
  EXPECT_NE(arena[0], arena[1]);
  EXPECT_EQ(block_arena[0], arena[0]);
  EXPECT_EQ(block_arena[1], arena[1]);
  EXPECT_EQ(t.h->allocated(), 0u);
}

// One thread allocates blocks of every kind (front-cached, shared-cached, jemalloc's, huge)
// and hands them to another thread that checks and frees them while allocating its own.
TEST(ArenaHeapTest, BlocksFreedOnAnotherThreadGoBackToTheirArena) {
  test_heap t(4 * GiB);
  struct item {
    std::byte* p;
    std::size_t size;
  };
  std::mutex m;
  std::condition_variable cv;
  std::deque<item> queue;
  bool done = false;
  constexpr std::size_t sizes[] = {48, 1000, 4 * KiB, 20 * KiB, 64 * KiB, 300 * KiB, 3 * MiB};
  constexpr int rounds = 300;
  int producer_arena = -1;
  int wrong_arena = 0;
  std::thread producer([&] {
    for (int r = 0; r < rounds; ++r) {
      for (std::size_t size : sizes) {
        auto* p = static_cast<std::byte*>(t.h->allocate(size, 16, false));
        EXPECT_NE(p, nullptr);
        if (p == nullptr) continue;
        fill_pattern(p, std::min<std::size_t>(size, 64), size);
        if (size == 300 * KiB) {
          producer_arena = static_cast<int>(t.h->thread_arena());
          if (t.h->arena_of(p) != producer_arena) ++wrong_arena;
        }
        std::lock_guard lock(m);
        queue.push_back({p, size});
        cv.notify_one();
      }
    }
    std::lock_guard lock(m);
    done = true;
    cv.notify_one();
  });
  int bad = 0;
  std::thread consumer([&] {
    std::vector<void*> own;
    for (;;) {
      item it{};
      {
        std::unique_lock lock(m);
        cv.wait(lock, [&] { return !queue.empty() || done; });
        if (queue.empty()) break;
        it = queue.front();
        queue.pop_front();
      }
      const std::size_t head = std::min<std::size_t>(it.size, 64);
      if (check_pattern(it.p, head, it.size) != head) ++bad;
      t.h->deallocate(it.p, it.size, 16);
      own.push_back(t.h->allocate(it.size, 16, false));  // from this thread's arena and caches
    }
    for (std::size_t i = 0; i < own.size(); ++i) {
      t.h->deallocate(own[i], sizes[i % std::size(sizes)], 16);
    }
  });
  producer.join();
  consumer.join();
  EXPECT_EQ(bad, 0);
  EXPECT_EQ(wrong_arena, 0);
  // Both threads exited: their caches went back with them, and the shared cache is not "live".
  EXPECT_EQ(t.h->allocated(), 0u);
}

TEST(ArenaHeapTest, SharedCacheIsBoundedAndPurgeEmptiesIt) {
  test_heap t(4 * GiB);
  const std::size_t before = t.resident();
  std::vector<void*> blocks;
  for (int i = 0; i < 4096; ++i) {  // 256 MiB of 64 KiB blocks, each touched
    auto* p = static_cast<std::byte*>(t.h->allocate(64 * KiB, 16, false));
    ASSERT_NE(p, nullptr);
    std::memset(p, 1, 64 * KiB);
    blocks.push_back(p);
  }
  for (void* p : blocks) t.h->deallocate(p, 64 * KiB, 16);
  EXPECT_GT(t.h->cached(), 0u);
  EXPECT_LE(t.h->cached(), heap::shared_cache_limit);
  t.h->flush_thread_cache();
  EXPECT_EQ(t.h->allocated(), 0u);  // cached blocks are not counted as live
  t.h->purge();
  EXPECT_EQ(t.h->cached(), 0u);
  EXPECT_LT(t.resident(), before + 8 * MiB);
}

TEST(ArenaHeapTest, BatchesOfLargeBlocksDoNotFaultTheirPagesInAgain) {
  seam::arena a({.capacity = 4 * GiB, .name = "faults"});
  for (std::size_t size : {16 * KiB, 64 * KiB}) {
    std::vector<void*> blocks(1024);
    long faults = 0;
    for (int round = 0; round < 3; ++round) {
      const long f0 = minor_faults();
      for (auto& p : blocks) {
        p = a.allocate(size);
        *static_cast<volatile char*>(p) = 1;
      }
      for (void* p : blocks) a.deallocate(p, size);
      faults = minor_faults() - f0;
    }
    // The first round faults each block's page in (1024 faults); later rounds reuse them.
    EXPECT_LT(faults, 64) << size << "-byte blocks";
  }
}

TEST(ArenaHeapTest, HugeBlockAtTheTopGrowsInPlace) {
  seam::arena a({.capacity = 1 * GiB, .name = "grow-top"});
  auto* p = static_cast<std::byte*>(a.allocate(2 * MiB));
  fill_pattern(p, 2 * MiB, 7);
  EXPECT_GE(a.expand(p, 64 * MiB, 64 * MiB), 64 * MiB);
  EXPECT_GE(a.usable_size(p), 64 * MiB);
  EXPECT_EQ(check_pattern(p, 2 * MiB, 7), 2 * MiB);
  std::memset(p + 2 * MiB, 3, 62 * MiB);  // the new bytes are the block's
  // And it shrinks in place, to no less than 128 KiB.
  EXPECT_EQ(a.expand(p, 1, 1), 128 * KiB);
  a.deallocate(p, 128 * KiB);
  EXPECT_EQ(a.stats().allocated, 0u);
}

TEST(ArenaHeapTest, HugeBlockGrowsIntoTheFreedBlockAfterIt) {
  seam::arena a({.capacity = 1 * GiB, .name = "grow-free"});
  auto* p = static_cast<std::byte*>(a.allocate(2 * MiB));
  auto* q = static_cast<std::byte*>(a.allocate(4 * MiB));
  auto* r = static_cast<std::byte*>(a.allocate(2 * MiB));
  ASSERT_EQ(q, p + 2 * MiB);  // first fit from the bottom
  ASSERT_EQ(r, q + 4 * MiB);
  EXPECT_EQ(a.expand(p, 4 * MiB, 4 * MiB), 2 * MiB);  // q is in the way
  a.deallocate(q, 4 * MiB);
  EXPECT_EQ(a.expand(p, 4 * MiB + 512 * KiB, 4 * MiB + 512 * KiB), 4 * MiB + 512 * KiB);
  fill_pattern(p, 4 * MiB + 512 * KiB, 9);
  // 7 MiB would overlap r: the block stays as it is.
  EXPECT_EQ(a.expand(p, 7 * MiB, 100 * MiB), 4 * MiB + 512 * KiB);
  EXPECT_EQ(a.usable_size(p), 4 * MiB + 512 * KiB);
  auto* s = static_cast<std::byte*>(a.allocate(MiB + 1));
  EXPECT_EQ(s, p + 4 * MiB + 512 * KiB);  // the rest of q's room
  EXPECT_EQ(check_pattern(p, 4 * MiB + 512 * KiB, 9), 4 * MiB + 512 * KiB);
  for (void* b : {static_cast<void*>(p), static_cast<void*>(r), static_cast<void*>(s)}) {
    a.deallocate(b);
  }
  EXPECT_EQ(a.stats().allocated, 0u);
}

TEST(ArenaHeapTest, FreedHugeBlocksAreZeroWhenAskedAndGoBackToTheKernel) {
  seam::arena a(
      {.capacity = 2 * GiB, .name = "huge-purge", .isolation = seam::isolation::trust_same_uid});
  const std::size_t before = a.stats().resident;
  auto* p = static_cast<unsigned char*>(a.allocate(300 * MiB));
  std::memset(p, 0xab, 300 * MiB);
  a.deallocate(p, 300 * MiB);
  // More than `dirty_limit` free: punched at once, without a purge.
  EXPECT_LT(a.stats().resident, before + 8 * MiB);

  p = static_cast<unsigned char*>(a.allocate(4 * MiB));
  std::memset(p, 0xcd, 4 * MiB);
  a.deallocate(p, 4 * MiB);
  EXPECT_GE(a.stats().resident, before + 4 * MiB);  // kept for reuse
  auto* z = static_cast<unsigned char*>(a.allocate_zeroed(4 * MiB));
  EXPECT_EQ(z, p);
  std::vector<unsigned char> zeros(4 * MiB, 0);
  EXPECT_EQ(std::memcmp(z, zeros.data(), zeros.size()), 0);
  a.deallocate(z, 4 * MiB);
  a.purge();
  EXPECT_LT(a.stats().resident, before + 8 * MiB);
}

TEST(ArenaHeapTest, SpaceFreedByHugeBlocksServesJemallocsBlocks) {
  seam::arena a({.capacity = 64 * MiB, .name = "give-back"});
  void* huge = a.allocate(48 * MiB);
  a.deallocate(huge, 48 * MiB);
  // jemalloc's side (from the top down) gets the huge region's free top back when it is full.
  std::vector<void*> blocks;
  while (void* p = a.allocate(256 * KiB, 16, std::nothrow)) blocks.push_back(p);
  EXPECT_GE(blocks.size() * 256 * KiB, 48 * MiB);
  for (void* p : blocks) a.deallocate(p, 256 * KiB);
  // Without room for a huge block, one comes from what jemalloc holds (up to the largest range
  // it got at once: it never merges two).
  void* again = a.allocate(MiB + MiB / 2, 16, std::nothrow);
  EXPECT_NE(again, nullptr);
  if (again != nullptr) a.deallocate(again, MiB + MiB / 2);
  EXPECT_EQ(a.stats().allocated, 0u);
}

}  // namespace
