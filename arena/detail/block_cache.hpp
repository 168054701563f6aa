#pragma once
// The size classes of the blocks Seam caches in front of jemalloc, and the cache of freed
// blocks that all threads of one heap share.

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <mutex>

namespace seam::detail {

/// Blocks up to this size with an alignment of at most 16 are cached by Seam (per thread, then
/// per heap) instead of going to jemalloc at every allocation and free.
inline constexpr std::size_t cached_max = 65536;
/// Up to this size, classes are 16 bytes apart (bins 1..64); above it, four classes per
/// doubling, as jemalloc's own (1280, 1536, 1792, 2048, 2560, ... 65536: bins 65..88).
inline constexpr std::size_t small_max = 1024;
inline constexpr unsigned first_medium_bin = small_max / 16 + 1;
inline constexpr unsigned cache_bins = first_medium_bin + 4 * 6;

inline bool cacheable(std::size_t size, std::size_t alignment) noexcept {
  return size <= cached_max && alignment <= 16;
}

/// The bin of a request of `size` bytes (1 <= size <= cached_max).
inline unsigned bin_of(std::size_t size) noexcept {
  if (size <= small_max) return static_cast<unsigned>((size + 15) >> 4);
  const std::size_t x = size - 1;
  const unsigned lg = static_cast<unsigned>(std::bit_width(x)) - 1;  // 10..15
  const auto step = static_cast<unsigned>(x >> (lg - 2)) - 4;        // 0..3
  return first_medium_bin + (lg - 10) * 4 + step;
}

/// The size of every block of `bin`: jemalloc's size class, so a block of the bin fits any
/// request of the bin and is freed to jemalloc with this size.
inline constexpr std::size_t class_size(unsigned bin) noexcept {
  if (bin < first_medium_bin) return std::size_t{bin} << 4;
  const unsigned lg = 10 + (bin - first_medium_bin) / 4;
  return (std::size_t{1} << lg) + (std::size_t{(bin - first_medium_bin) % 4 + 1} << (lg - 2));
}
static_assert(class_size(first_medium_bin) == 1280 && class_size(cache_bins - 1) == cached_max);

/// Freed blocks of the medium bins (1 KiB < size <= 64 KiB) kept for reuse by any thread of one
/// heap, up to `limit` bytes in all.
///
/// Why: a batch that frees many such blocks and allocates them again (a container rebuilt, a
/// request's buffers) would otherwise go through jemalloc's extent layer, which serves a large
/// block from freed memory only if that memory was not coalesced into a range more than 64 times
/// the request (`opt.lg_extent_max_active_fit`, process-wide): the freed blocks of a batch merge
/// into one such range, so every allocation of the next batch took fresh pages from the memfd
/// and faulted them in (one fault per block, 3 us per 16 KiB block).
///
/// Blocks are linked through their first 8 bytes (they are free memory of the owner). Thread-
/// safe: one mutex per bin, taken once per batch of blocks moved from or to a thread's cache.
class shared_cache {
 public:
  explicit shared_cache(std::size_t limit) noexcept : m_limit(limit) {}
  shared_cache(const shared_cache&) = delete;
  shared_cache& operator=(const shared_cache&) = delete;

  /// Takes up to `n` blocks of `bin`, linked through their first word (the last links to
  /// nullptr); returns the first, and their number in `got`.
  void* take(unsigned bin, unsigned n, unsigned& got) noexcept {
    list& l = m_lists[bin - first_medium_bin];
    got = 0;
    void* first;
    {
      std::lock_guard lock(l.mutex);
      first = l.head;
      void* last = nullptr;
      for (void* p = first; got < n && p != nullptr; p = next(p)) {
        last = p;
        ++got;
      }
      if (got == 0) return nullptr;
      l.head = next(last);
      next(last) = nullptr;
      l.count.store(l.count.load(std::memory_order_relaxed) - got, std::memory_order_relaxed);
    }
    m_bytes.fetch_sub(got * class_size(bin), std::memory_order_relaxed);
    return first;
  }

  /// Keeps the `n` blocks of `bin` linked from `first` to `last` if they fit under the limit;
  /// returns false (and leaves them to the caller) if not.
  bool give(unsigned bin, void* first, void* last, std::size_t n) noexcept {
    const std::size_t size = n * class_size(bin);
    std::size_t held = m_bytes.load(std::memory_order_relaxed);
    do {
      if (held + size > m_limit) return false;
    } while (!m_bytes.compare_exchange_weak(held, held + size, std::memory_order_relaxed));
    list& l = m_lists[bin - first_medium_bin];
    std::lock_guard lock(l.mutex);
    next(last) = l.head;
    l.head = first;
    l.count.store(l.count.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    return true;
  }

  /// The link stored in a free block.
  static void*& next(void* block) noexcept { return *static_cast<void**>(block); }

  /// Removes every block, calling `release(block, class_size)` on each outside the locks.
  template <class Release>
  void drain(Release release) noexcept {
    for (unsigned bin = first_medium_bin; bin < cache_bins; ++bin) drain_bin(bin, release);
  }

  /// Removes the blocks of every bin but `kept_bin`, as `drain` does.
  template <class Release>
  void drain_others(unsigned kept_bin, Release release) noexcept {
    for (unsigned bin = first_medium_bin; bin < cache_bins; ++bin) {
      if (bin != kept_bin) drain_bin(bin, release);
    }
  }

  /// Bytes held now.
  std::size_t bytes() const noexcept { return m_bytes.load(std::memory_order_relaxed); }
  /// Bytes held now in `bin`.
  std::size_t bytes(unsigned bin) const noexcept {
    return m_lists[bin - first_medium_bin].count.load(std::memory_order_relaxed) * class_size(bin);
  }
  std::size_t limit() const noexcept { return m_limit; }

 private:
  template <class Release>
  void drain_bin(unsigned bin, Release& release) noexcept {
    list& l = m_lists[bin - first_medium_bin];
    void* head;
    std::size_t count;
    {
      std::lock_guard lock(l.mutex);
      head = l.head;
      count = l.count.load(std::memory_order_relaxed);
      l.head = nullptr;
      l.count.store(0, std::memory_order_relaxed);
    }
    if (count == 0) return;
    m_bytes.fetch_sub(count * class_size(bin), std::memory_order_relaxed);
    while (head != nullptr) {
      void* after = next(head);
      release(head, class_size(bin));
      head = after;
    }
  }

  struct list {
    std::mutex mutex;
    void* head = nullptr;
    std::atomic<std::size_t> count{0};  // written under `mutex`, read without it by `bytes`
  };
  std::array<list, cache_bins - first_medium_bin> m_lists;
  std::atomic<std::size_t> m_bytes{0};  // reserved by `give` before the blocks are linked
  std::size_t m_limit;
};

}  // namespace seam::detail
