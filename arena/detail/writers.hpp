#pragma once
// Shared writers: the table in shared memory through which several processes, each with its own
// jemalloc arena, carve one arena's memfd between them and free each other's blocks.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <system_error>

#include "seam/arena/unique_fd.hpp"

namespace seam::detail {

/// Chunks are the unit of ownership: 2 MiB, the mapping's alignment.
inline constexpr unsigned chunk_shift = 21;
inline constexpr std::size_t chunk_bytes = std::size_t{1} << chunk_shift;
/// Writer processes of one arena at once (slots are reused after a writer ends or dies).
inline constexpr unsigned max_writers = 64;
inline constexpr std::uint64_t writers_magic = 0x5352544952575345;  // "ESWRITRS" little-endian

/// One writer process's slot. `state` packs {kind: 8 bits, generation: 24, pid: 32}; a chunk
/// owned by the slot records the generation, so blocks of an earlier occupant are told apart.
/// `remote_head` packs {offset / 16 of the first block: 40 bits, generation: 24}: the lock-free
/// list of blocks that other writers freed; a push for another generation fails (the slot was
/// reused), so a new occupant never receives blocks of a dead one.
struct alignas(64) writer_slot {
  std::uint64_t state;
  std::uint64_t remote_head;
  std::uint64_t pushed;     // blocks pushed by others (incremented before each push)
  std::uint64_t collected;  // blocks the owner took back (written by the owner)
  std::uint64_t reserved[4];
};

/// The shared part, at `arena_header::writers_offset`, followed by the chunk table: one
/// `std::uint32_t` per chunk, 0 if unclaimed, else {slot + 1: 8 bits, generation: 24}.
struct writers_header {
  std::uint64_t magic;
  std::uint64_t chunk_shift;
  std::uint64_t chunk_count;
  std::uint64_t writer_slots;
  std::uint64_t first_free;    // the bump pointer: offset of the first unclaimed byte
  std::uint64_t orphan_frees;  // frees into blocks of dead writers, dropped
  std::uint64_t reserved[2];
  writer_slot slots[max_writers];
};

/// Bytes of the writers region (header and chunk table) of an arena of `capacity` bytes.
std::size_t writers_region_bytes(std::size_t capacity) noexcept;

/// Counters of one process's shared-writer activity, for `arena::stats()`.
struct writers_counters {
  std::uint64_t remote_frees_sent = 0;      // blocks this process pushed to other writers
  std::uint64_t remote_frees_pending = 0;   // blocks others pushed to this process, not collected
  std::uint64_t remote_frees_returned = 0;  // blocks this process took back
  std::uint64_t orphan_frees = 0;           // frees into dead writers' blocks, dropped (arena-wide)
  std::uint64_t orphaned_bytes = 0;         // bytes of chunks of dead or departed writers
  unsigned live_writers = 0;                // processes writing the arena now
};

/// This process's membership of an arena's writers: its slot, its claims, its pushes.
///
/// Every word read from the shared region is validated (a buggy writer may have written
/// anything there); a bad one makes the call fail (`claim`) or is ignored and reported by
/// `corrupt()`. Thread-safe.
class shared_writers {
 public:
  /// Formats the region of a new arena at `region` (zero memory).
  static void format(std::byte* base, std::size_t capacity, std::size_t region) noexcept;
  /// Joins the writers of the arena at `base` (header already checked): validates the region
  /// and takes a free slot (reaping dead writers first). `errc::corrupt_arena` or
  /// `errc::arena_full` (no slot).
  /// `sole`: no other process will ever write the arena (a strict arena's creator).
  shared_writers(std::byte* base, std::size_t capacity, std::size_t region, bool creator,
                 bool sole, std::error_code& ec) noexcept;
  shared_writers(const shared_writers&) = delete;
  shared_writers& operator=(const shared_writers&) = delete;
  /// Leaves the slot (its chunks become orphaned: their blocks stay valid).
  ~shared_writers();

  /// Claims at least `least` and up to `want` bytes (multiples of a chunk) of the arena for
  /// this writer; returns their offset, 0 if the arena is full or the bump pointer corrupt.
  /// `got` receives the size claimed. The first claim of the arena may start before a chunk
  /// boundary (just after the writers region).
  std::size_t claim(std::size_t least, std::size_t want, std::size_t& got) noexcept;

  /// Frees a block at `offset` that lies in a chunk not claimed by this process.
  void free_remote(std::size_t offset) noexcept;
  /// True if other writers pushed blocks for this process (one relaxed load).
  bool remote_pending() const noexcept {
    return (__atomic_load_n(&m_slot->remote_head, __ATOMIC_RELAXED) & offset_mask) != 0;
  }
  /// Takes every block pushed for this process and calls `give_back(offset)` on each, once. A
  /// link outside the arena or outside this writer's chunks (`is_mine`) ends the list there and
  /// sets `corrupt()`; a list longer than the pushes counted (a cycle: giving its blocks back
  /// would free them twice) is dropped whole and sets `corrupt()`.
  template <class IsMine, class GiveBack>
  void collect(IsMine is_mine, GiveBack give_back) noexcept;

  /// Marks dead the writers whose process ended (pidfds); their slots become reusable.
  void reap() noexcept;
  /// Fills the counters.
  writers_counters counters() noexcept;
  /// True once a bad word was met in the shared region.
  bool corrupt() const noexcept { return m_corrupt.load(std::memory_order_relaxed); }
  /// True in the process that created the arena.
  bool creator() const noexcept { return m_creator; }
  /// True if no other process will ever write the arena.
  bool sole() const noexcept { return m_sole; }
  /// The slot this process occupies.
  unsigned slot() const noexcept { return m_index; }

  static constexpr std::uint64_t offset_mask = (std::uint64_t{1} << 40) - 1;

 private:
  std::uint32_t* chunks() const noexcept;
  bool take_slot() noexcept;
  void mark_dead(unsigned index, std::uint64_t state) noexcept;

  std::byte* m_base;
  std::size_t m_capacity;
  int m_pid;                 // a forked child's copy must not leave the parent's slot
  bool m_creator;
  bool m_sole;
  std::size_t m_region_end;  // first byte after the writers region
  writers_header* m_header;
  writer_slot* m_slot = nullptr;
  unsigned m_index = 0;
  std::uint32_t m_generation = 0;
  std::atomic<bool> m_corrupt{false};
  std::atomic<std::uint64_t> m_sent{0};
  std::atomic<std::uint64_t> m_returned{0};
  // Per other slot: a pidfd of its process, for the generation it was opened for.
  struct watched {
    unique_fd pidfd;
    std::uint64_t state = 0;
  };
  std::array<watched, max_writers> m_watched;
  std::atomic_flag m_reaping = ATOMIC_FLAG_INIT;
};

template <class IsMine, class GiveBack>
void shared_writers::collect(IsMine is_mine, GiveBack give_back) noexcept {
  if (!remote_pending()) return;
  const std::uint64_t empty = std::uint64_t{m_generation} << 40;
  const std::uint64_t head = __atomic_exchange_n(&m_slot->remote_head, empty, __ATOMIC_ACQUIRE);
  // Every block of the list was counted in `pushed` before it was linked: the list holds at
  // most `pushed - collected` blocks.
  const std::uint64_t pushed = __atomic_load_n(&m_slot->pushed, __ATOMIC_ACQUIRE);
  const std::uint64_t collected = __atomic_load_n(&m_slot->collected, __ATOMIC_RELAXED);
  const std::uint64_t bound = pushed > collected ? pushed - collected : 0;
  auto link = [&](std::uint64_t at) {
    return __atomic_load_n(reinterpret_cast<std::uint64_t*>(m_base + at), __ATOMIC_RELAXED);
  };
  auto valid = [&](std::uint64_t at) {
    return at < m_capacity && at >= m_region_end && (at & 15) == 0 && is_mine(at);
  };
  // First the shape: how many valid blocks before the end (or a bad link). A list that ends
  // has no repeats; one longer than the pushes counted, or that comes back to a block it
  // passed (Brent's cycle check: a block kept at steps 1, 2, 4, 8 ...), is dropped whole, so
  // that no block is freed twice and a cycle ends the walk after at most twice its length
  // (the count itself is a peer's word).
  const std::uint64_t first = (head & offset_mask) << 4;
  std::uint64_t n = 0, kept = 0, power = 1, since = 0;
  bool bad = false;
  for (std::uint64_t at = first; at != 0; at = link(at), ++n) {
    if (n == bound || at == kept) {
      n = 0;
      bad = true;
      break;
    }
    if (++since == power) {
      kept = at;
      power <<= 1;
      since = 0;
    }
    if (!valid(at)) {
      bad = true;
      break;
    }
  }
  if (bad) m_corrupt.store(true, std::memory_order_relaxed);
  // Then the blocks, checked again: a peer may have rewritten a link since.
  std::uint64_t at = first;
  for (std::uint64_t i = 0; i < n; ++i) {
    if (!valid(at)) {
      m_corrupt.store(true, std::memory_order_relaxed);
      bad = true;
      n = i;
      break;
    }
    const std::uint64_t next = link(at);  // before the block is freed
    give_back(at);
    at = next;
  }
  // Blocks of a dropped list are not coming back either.
  __atomic_store_n(&m_slot->collected, bad ? pushed : collected + n, __ATOMIC_RELAXED);
  m_returned.fetch_add(n, std::memory_order_relaxed);
}

}  // namespace seam::detail
