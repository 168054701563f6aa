#pragma once
// The jemalloc boundary: a jemalloc arena whose extents come from one shared mapping.
// Nothing else in Seam calls mallctl or mallocx.

#include <jemalloc/jemalloc.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <system_error>
#include <vector>

#include "arena/detail/block_cache.hpp"
#include "arena/detail/huge_blocks.hpp"
#include "arena/detail/writers.hpp"

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

/// The allocator of one process in one arena: several jemalloc arenas and Seam's own huge blocks
/// (over 1 MiB) over the spans of the memfd `fd` that the heap owns. Without shared writers the
/// heap has one span, [base + begin, base + capacity); with them (`writers`), it claims spans
/// of whole chunks as it needs them from the arena's shared bump pointer, so that each writer
/// process has its own heap over disjoint spans. In each span the jemalloc arenas carve their
/// ranges downwards through the same extent hooks and huge blocks grow from the bottom up
/// (`huge_blocks`). Which span (if any) holds an address is one load from a private table
/// indexed by chunk: a block in no span of this heap is another writer's, and its free goes to
/// that writer's remote-free list (`shared_writers::free_remote`); the blocks other writers
/// freed for this heap come back at the allocation slow path and at `purge()`.
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
  /// `writers`: the process's membership of the arena's shared writers (claims spans, frees
  /// other writers' blocks); nullptr for a heap that owns [begin, capacity) alone.
  heap(int fd, std::byte* base, std::size_t begin, std::size_t capacity, std::error_code& ec,
       unsigned arenas = 0, shared_writers* writers = nullptr);
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
  void keep_pages() noexcept;
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
  /// Bytes of address space handed out in the heap's spans.
  std::size_t reserved() const noexcept;
  /// Upper bound of the number of spans of one heap.
  static constexpr unsigned max_spans = 128;
  /// True if `p` lies in a span of this heap (false: another writer's block).
  bool mine(const void* p) const noexcept { return span_index(p) != 0; }
  /// Returns the blocks other writers freed for this heap to jemalloc (and huge blocks).
  void collect_remote() noexcept;
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
  unsigned span_index(const void* p) const noexcept {  // span + 1, or 0
    const auto at = static_cast<std::size_t>(static_cast<const std::byte*>(p) - m_base);
    return m_span_of[at >> chunk_shift].load(std::memory_order_relaxed);
  }
  huge_blocks* huge_span(const void* p) const noexcept;  // the span if `p` is a huge block
  void* carve(std::size_t size, std::size_t alignment) noexcept;
  void* allocate_huge(std::size_t size, std::size_t alignment, bool zero) noexcept;
  // Claims a span of at least `least` bytes, preferably `want`; with m_span_mutex held.
  bool add_span(std::size_t least, std::size_t want = 0) noexcept;
  void free_local(void* p) noexcept;

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
  shared_writers* m_writers;
  // The spans, each split between huge blocks and jemalloc; made in place (no allocation in a
  // hook) and never destroyed before the heap. Written under m_span_mutex, before m_nspans.
  std::unique_ptr<std::optional<huge_blocks>[]> m_spans;
  std::atomic<unsigned> m_nspans{0};
  std::atomic<unsigned> m_current{0};  // the span jemalloc carves from
  std::unique_ptr<std::atomic<std::uint8_t>[]> m_span_of;  // per chunk: span + 1, 0: not ours
  std::mutex m_span_mutex;
  std::atomic<std::size_t> m_extents{0};
  std::mutex m_mutex;               // guards m_tcaches
  std::vector<unsigned> m_tcaches;  // every thread's cache for this heap
  shared_cache m_shared;
};

}  // namespace seam::detail
