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

#include "arena/detail/block_cache.hpp"
#include "arena/detail/huge_blocks.hpp"

namespace seam::detail {

class heap;

/// Incremented in every forked child: a heap created under another epoch belongs to the parent.
inline constinit std::atomic<unsigned> g_fork_epoch{0};

/// A thread's jemalloc thread cache for the heap of generation `generation`, and the heap's
/// arena (an index into its arenas) that the thread allocates from.
struct thread_entry {
  std::uint64_t generation;
  unsigned tcache;
  unsigned arena;
};

/// What jemalloc calls back: the hook table followed by its heap (standard layout, so a hook
/// can go from the `extent_hooks_t*` it receives to the heap).
struct hook_table {
  extent_hooks_t hooks;
  heap* owner;
};

/// The allocator of one arena: several jemalloc arenas over the top of [base + begin,
/// base + capacity) of the memfd `fd`, carving their ranges downwards through the same extent
/// hooks, and Seam's own huge blocks (over 1 MiB) from the bottom up (`huge_blocks`).
/// Each thread allocates from one jemalloc arena, chosen round robin when it first uses the heap,
/// with its own explicit thread cache, so threads do not contend on one arena's locks; a block
/// may be freed by any thread (jemalloc returns it to the arena it came from). jemalloc's
/// bookkeeping stays in private memory (`metadata_use_hooks = false`), so the shared mapping
/// holds users' blocks only, and a forked child's copy of the bookkeeping is its own.
///
/// Memory held back from the kernel, all of it returned by `purge()` (the last item only for
/// the calling thread) and none of it counted by `allocated()` except the per-thread caches:
/// - jemalloc's dirty pages (its decay: 10 s by default);
/// - the shared cache of freed blocks from 1 KiB to 64 KiB: at most `shared_cache_limit`
///   (128 MiB, or a quarter of the capacity);
/// - free huge ranges: at most `huge_blocks::dirty_limit` (256 MiB), beyond which all are punched;
/// - each thread's front cache of freed blocks up to 64 KiB: at most 4 MiB per thread (and
///   jemalloc's explicit thread cache), returned when the thread exits.
///
/// Thread-safe. In a forked child every operation is refused (`forked()`), and destruction
/// touches nothing of jemalloc's: the parent still uses the arena.
class heap {
 public:
  /// `arenas`: how many jemalloc arenas (0: one per CPU, up to `max_arenas`).
  heap(int fd, std::byte* base, std::size_t begin, std::size_t capacity, std::error_code& ec,
       unsigned arenas = 0);
  heap(const heap&) = delete;
  heap& operator=(const heap&) = delete;
  ~heap();

  /// True in a process forked from the one that created the heap.
  bool forked() const noexcept {
    return m_fork_epoch != g_fork_epoch.load(std::memory_order_relaxed);
  }

  void* allocate(std::size_t size, std::size_t alignment, bool zero) noexcept;
  void deallocate(void* p, std::size_t size, std::size_t alignment) noexcept;
  std::size_t expand(void* p, std::size_t min_size, std::size_t preferred_size) noexcept;
  std::size_t usable_size(const void* p) const noexcept;

  void flush_thread_cache() noexcept;
  /// For a strict arena, whose memfd refuses to punch holes: never tries to (jemalloc keeps
  /// its free pages as not zeroed, huge ranges are zeroed by hand when jemalloc takes them).
  void keep_pages() noexcept {
    m_keep_pages.store(true, std::memory_order_relaxed);
    m_huge.keep_pages();
  }
  /// Returns the shared cache and the calling thread's caches to jemalloc, then every free page
  /// of the heap to the kernel.
  void purge() noexcept;
  /// Bytes in live blocks: jemalloc's statistics less the blocks of the shared cache.
  std::size_t allocated() const noexcept;
  /// Bytes in the shared cache of freed blocks.
  std::size_t cached() const noexcept { return m_shared.bytes(); }
  /// How many jemalloc arenas the heap spreads its threads over.
  unsigned arena_count() const noexcept { return m_narenas.load(std::memory_order_acquire); }
  /// The jemalloc arena of the calling thread (an index into the heap's arenas).
  unsigned thread_arena() noexcept;
  /// The heap arena (an index into its arenas) that a live block `p` came from, or -1.
  int arena_of(const void* p) const noexcept;

  /// Upper bound of the shared cache, in bytes (and at most a quarter of the capacity): enough
  /// for two threads that each free a batch of 1024 blocks of 64 KiB and allocate it again.
  static constexpr std::size_t shared_cache_limit = std::size_t{128} << 20;
  /// Upper bound of the number of jemalloc arenas of one heap.
  static constexpr unsigned max_arenas = 8;
  std::size_t reserved() const noexcept { return m_huge.reserved(); }
  std::size_t extents() const noexcept { return m_extents.load(std::memory_order_relaxed); }

  /// Called by a thread that exits: returns its front cache of small blocks to its heap, if
  /// that heap still exists.
  static void release_front_cache() noexcept;
  /// Called by a thread that exits: destroys its cache `tcache` of the heap `generation`, if
  /// that heap still exists.
  static void release_thread_cache(std::uint64_t generation, unsigned tcache) noexcept;

 private:
  friend struct hooks;
  const thread_entry& thread_cache() noexcept;
  const thread_entry& thread_cache_slow() noexcept;
  int flags(std::size_t size, std::size_t alignment) noexcept;
  void* allocate_slow(std::size_t size, std::size_t alignment, bool zero) noexcept;
  void* allocate_medium(unsigned bin) noexcept;
  void spill_front(unsigned bin) noexcept;
  void release_blocks(unsigned bin, void* first, void* last, std::size_t n) noexcept;
  bool keep_shared(unsigned bin, void* first, void* last, std::size_t n) noexcept;
  void release_shared() noexcept;
  void purge_arenas() noexcept;

  hook_table m_table;
  int m_fd;
  std::byte* m_base;
  std::size_t m_capacity;
  unsigned m_arenas[max_arenas] = {};
  // Arenas made so far: the first at construction, the others when a thread is given one
  // (`thread_cache_slow`), so that a heap used by one thread holds one jemalloc arena: jemalloc
  // has at most 4095, and every session has a heap. Written under m_mutex, after m_arenas.
  std::atomic<unsigned> m_narenas{0};
  unsigned m_wanted = 1;                  // how many arenas threads are spread over
  std::atomic<unsigned> m_next_arena{0};  // round robin over m_arenas for new threads
  int add_arena() noexcept;               // 0, or why jemalloc made no arena (an errno value)
  std::uint64_t m_generation;
  unsigned m_fork_epoch;
  std::atomic<bool> m_dying{false};
  std::atomic<bool> m_keep_pages{false};  // see keep_pages()
  huge_blocks m_huge;  // the split of the mapping between huge blocks and jemalloc
  std::atomic<std::size_t> m_extents{0};
  std::mutex m_mutex;               // guards m_tcaches
  std::vector<unsigned> m_tcaches;  // every thread's cache for this heap
  shared_cache m_shared;
};

}  // namespace seam::detail
