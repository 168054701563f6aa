#pragma once
// The jemalloc boundary: a jemalloc arena whose extents come from one shared mapping.
// Nothing else in Seam calls mallctl or mallocx.

#include <jemalloc/jemalloc.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <system_error>
#include <vector>

namespace seam::detail {

class heap;

/// What jemalloc calls back: the hook table followed by its heap (standard layout, so a hook
/// can go from the `extent_hooks_t*` it receives to the heap).
struct hook_table {
  extent_hooks_t hooks;
  heap* owner;
};

/// A jemalloc arena over [base + begin, base + capacity) of the memfd `fd`, with one explicit
/// thread cache per thread. jemalloc's bookkeeping for it stays in private memory
/// (`metadata_use_hooks = false`), so the shared mapping holds users' blocks only, and a
/// forked child's copy of the bookkeeping is its own.
///
/// Thread-safe. In a forked child every operation is refused (`forked()`), and destruction
/// touches nothing of jemalloc's: the parent still uses the arena.
class heap {
 public:
  heap(int fd, std::byte* base, std::size_t begin, std::size_t capacity, std::error_code& ec);
  heap(const heap&) = delete;
  heap& operator=(const heap&) = delete;
  ~heap();

  /// True in a process forked from the one that created the heap.
  bool forked() const noexcept;

  void* allocate(std::size_t size, std::size_t alignment, bool zero) noexcept;
  void deallocate(void* p, std::size_t size, std::size_t alignment) noexcept;
  std::size_t expand(void* p, std::size_t min_size, std::size_t preferred_size) noexcept;
  static std::size_t usable_size(const void* p) noexcept;

  void flush_thread_cache() noexcept;
  void purge() noexcept;
  /// Bytes in live blocks, from jemalloc's statistics.
  std::size_t allocated() const noexcept;
  std::size_t reserved() const noexcept { return m_top.load(std::memory_order_relaxed); }
  std::size_t extents() const noexcept { return m_extents.load(std::memory_order_relaxed); }

  /// Called by a thread that exits: returns its front cache of small blocks to its heap, if
  /// that heap still exists.
  static void release_front_cache() noexcept;
  /// Called by a thread that exits: destroys its cache `tcache` of the heap `generation`, if
  /// that heap still exists.
  static void release_thread_cache(std::uint64_t generation, unsigned tcache) noexcept;

 private:
  friend struct hooks;
  unsigned thread_cache() noexcept;
  unsigned thread_cache_slow() noexcept;
  int flags(std::size_t size, std::size_t alignment) noexcept;

  hook_table m_table;
  int m_fd;
  std::byte* m_base;
  std::size_t m_capacity;
  unsigned m_index = 0;
  bool m_created = false;
  std::uint64_t m_generation;
  unsigned m_fork_epoch;
  std::atomic<bool> m_dying{false};
  std::atomic<std::size_t> m_top;  // bump pointer: offset of the first byte never handed out
  std::atomic<std::size_t> m_extents{0};
  std::mutex m_mutex;                  // guards m_tcaches
  std::vector<unsigned> m_tcaches;     // every thread's cache for this heap
};

}  // namespace seam::detail
