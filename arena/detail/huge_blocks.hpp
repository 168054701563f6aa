#pragma once
// How a heap splits its mapping: blocks over 1 MiB ("huge") are page ranges Seam manages itself
// from the bottom up, and jemalloc's extents are carved from the top down.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>

namespace seam::detail {

/// The address space [begin, capacity) of one heap, and the huge blocks in it.
///
/// Why Seam manages blocks over `threshold` itself: jemalloc (5.3, with `retain`, which is on by
/// default on Linux) grows a large block in place only within the range it got from one call of
/// the extent hook, and its ranges grow ~19% each time, so a growing vector moved (memmove was
/// 32% of `vector_push_back` at 10^6). Here a huge block grows in place into the free range that
/// follows it, or by moving the top of the huge region when it is the last block there.
///
/// Layout: huge blocks live in [begin, huge_top), jemalloc's ranges in [floor, capacity); the two
/// bounds move towards each other and never cross, so whether a block is huge is one comparison
/// with `huge_top`, without a lock. Both bounds are one atomic word (in pages).
///
/// Free huge ranges are kept (address-ordered, coalesced) for reuse; their pages stay resident
/// until `purge()`, or until more than `dirty_limit` bytes of them are free, when all are
/// punched. Thread-safe: one mutex for the huge blocks; the jemalloc side is lock-free.
class huge_blocks {
 public:
  /// Blocks of more than this many bytes are huge.
  static constexpr std::size_t threshold = std::size_t{1} << 20;
  /// A huge block shrinks in place to no less than this: twice the largest size Seam's caches
  /// hold, so that a free of a shrunk block, whose size may be a little less than its usable
  /// size, is never taken for a cached one.
  static constexpr std::size_t shrink_floor = std::size_t{128} << 10;
  /// Free huge pages kept resident at most. Enough for a hash table of 10^6 entries to be
  /// rebuilt without faulting its pages in again (its slot arrays, 1 to 34 MiB, total ~70 MiB:
  /// with 64 MiB, hash_insert at 10^6 took 2.3x as long).
  static constexpr std::size_t dirty_limit = std::size_t{256} << 20;
  static constexpr std::size_t page = 4096;

  huge_blocks(int fd, std::byte* base, std::size_t begin, std::size_t capacity) noexcept;
  huge_blocks(const huge_blocks&) = delete;
  huge_blocks& operator=(const huge_blocks&) = delete;

  /// True if `p` lies in the huge region (lock-free).
  bool owns(const void* p) const noexcept {
    const auto at = static_cast<std::size_t>(static_cast<const std::byte*>(p) - m_base);
    return at < low(m_bounds.load(std::memory_order_acquire)) * page;
  }

  /// A huge block of at least `size` bytes; nullptr if the huge region cannot grow.
  void* allocate(std::size_t size, std::size_t alignment, bool zero) noexcept;
  void deallocate(void* p) noexcept;
  /// Grows (or shrinks, never below `shrink_floor`) the block in place; returns its size.
  std::size_t expand(void* p, std::size_t min_size, std::size_t preferred_size) noexcept;
  std::size_t usable_size(const void* p) const noexcept;
  /// Punches every free huge range.
  void purge() noexcept;
  /// From now on never punches (the memfd of a strict arena refuses it): free pages stay
  /// resident for reuse, and a range given back to jemalloc is zeroed by hand instead.
  void keep_pages() noexcept {
    std::lock_guard lock(m_mutex);
    m_keep_pages = true;
  }
  /// Bytes in live huge blocks.
  std::size_t allocated() const noexcept;
  /// Bytes of address space handed out on either side.
  std::size_t reserved() const noexcept;

  /// For jemalloc's extent hook: `size` bytes aligned to `alignment` (both multiples of a
  /// page) from the top down; nullptr when full. Never takes the mutex unless the space is
  /// exhausted (then it takes back the free top of the huge region).
  void* carve_for_jemalloc(std::size_t size, std::size_t alignment) noexcept;

 private:
  static std::uint64_t low(std::uint64_t bounds) noexcept { return bounds & 0xffffffffu; }
  static std::uint64_t high(std::uint64_t bounds) noexcept { return bounds >> 32; }
  static std::uint64_t pack(std::uint64_t low, std::uint64_t high) noexcept {
    return low | (high << 32);
  }

  bool bump(std::size_t from, std::size_t to) noexcept;
  void insert_free(std::size_t at, std::size_t size) noexcept;
  void release(std::size_t at, std::size_t size) noexcept;
  void take_free(std::map<std::size_t, std::size_t>::iterator it, std::size_t at,
                 std::size_t size) noexcept;
  static void insert(std::map<std::size_t, std::size_t>& ranges, std::size_t at,
                     std::size_t size) noexcept;
  static std::size_t remove(std::map<std::size_t, std::size_t>& ranges, std::size_t at,
                            std::size_t size) noexcept;
  bool give_back_top() noexcept;
  void punch_dirty() noexcept;

  int m_fd;
  std::byte* m_base;
  std::size_t m_begin;
  std::size_t m_capacity_pages;
  std::atomic<std::uint64_t> m_bounds;         // low: huge top, high: jemalloc floor (pages)
  mutable std::mutex m_mutex;                  // guards the maps and moves of the huge top
  std::map<std::size_t, std::size_t> m_live;   // offset -> size
  std::map<std::size_t, std::size_t> m_free;   // offset -> size of a free range (coalesced)
  std::map<std::size_t, std::size_t> m_dirty;  // the parts of free ranges that hold old bytes
  std::size_t m_live_bytes = 0;
  std::size_t m_dirty_bytes = 0;
  bool m_keep_pages = false;  // see keep_pages()
};

}  // namespace seam::detail
