#pragma once
/// \file
/// `seam::arena`: the owner side of a shared-memory heap.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

#include "seam/arena/assert.hpp"
#include "seam/arena/error.hpp"
#include "seam/arena/handle.hpp"
#include "seam/arena/named.hpp"
#include "seam/arena/shm_safe.hpp"
#include "seam/arena/unique_fd.hpp"
#include "seam/base/export.hpp"

namespace seam {

namespace detail {
class arena_core;
}

/// Whether a process that was given only a read-only fd of an arena (`share()`) can make
/// itself a writer. Chosen per arena in `arena_options::isolation`; see the README's security
/// model.
enum class isolation {
  /// No process but the creator can ever write the arena's memory: before `share()` can hand
  /// out an fd, the memfd is sealed with `F_SEAL_FUTURE_WRITE` (after the creator's own
  /// mapping), so every later writable mapping of it, `write`, `fallocate` and `ftruncate` are
  /// refused by the kernel, whatever the caller's uid or file mode. The cost: the kernel then
  /// refuses to punch holes too, so freed memory stays resident (and is reused by the arena)
  /// until the arena and every view of it are gone; `purge()` returns nothing to the kernel.
  /// No shared writers (`share_writable()` fails with `errc::strict_isolation`).
  strict,
  /// Readers are kept out by the memfd's mode (0400) only: a reader running under the
  /// creator's uid can `fchmod` the fd it was given, reopen it writable through
  /// `/proc/self/fd` and write the arena (so can root). Freed memory goes back to the kernel
  /// (`purge()`, jemalloc's decay). Needed for shared writers. Use it when every process that
  /// may receive the fd is trusted not to write, or is meant to write.
  trust_same_uid,
};

/// How to create an arena.
struct arena_options {
  /// The default capacity where RLIMIT_AS allows it: 64 GiB.
  static constexpr std::size_t default_capacity = std::size_t{64} << 30;
  /// Bytes of address space the arena may use. Sparse: memory is charged only when touched,
  /// so a large capacity costs nothing but address space. 0 (the default): `default_capacity`,
  /// or a quarter of the address space that RLIMIT_AS (`ulimit -v`) leaves, whichever is
  /// smaller. An arena that cannot be reserved throws `errc::address_space_limit` or
  /// `errc::map_count_limit`, saying which limit and how much was asked.
  std::size_t capacity = 0;
  /// Shown in `/proc/<pid>/maps` as `/memfd:<name>`; for debugging only.
  std::string name = "seam";
  /// Whether a same-uid reader can make itself a writer, against whether freed memory goes
  /// back to the kernel. Strict by default: a reader that cannot write is what `share()`
  /// promises, and a session peer (same uid by default) is exactly such a reader; an arena that
  /// must return memory while it lives, or be shared for writing, asks for `trust_same_uid`.
  seam::isolation isolation = seam::isolation::strict;
  /// How many jemalloc arenas the heap spreads allocating threads over (made as threads come):
  /// 0 (the default) one per CPU, up to 8. jemalloc allows 4095 per process: arenas made by
  /// the thousand (sessions' own) take 1.
  unsigned heap_arenas = 0;
};

/// What a process given an arena may do with it: read it (`share()`, `seam::arena_view`), or
/// also allocate and free in it as one more writer (`share_writable()`, `arena::attach`).
enum class access {
  read_only,   ///< The peer maps the arena read-only; it can never write.
  read_write,  ///< The peer becomes a writer of the arena with its own heap.
};

/// A snapshot of an arena's use of memory.
struct arena_stats {
  std::size_t capacity = 0;   ///< Bytes of address space.
  std::size_t reserved = 0;   ///< Bytes handed to the allocator so far (high-water mark).
  std::size_t allocated = 0;  ///< Bytes in live blocks (blocks in thread caches count as live).
  std::size_t resident = 0;   ///< Bytes of memory the arena's memfd holds now.
  std::size_t extents = 0;    ///< Extents the allocator holds from the arena.
  // Shared writers (every arena has them: the creator is the first writer).
  std::size_t writers = 0;                ///< Writer processes of the arena now (this one too).
  std::size_t remote_frees_sent = 0;      ///< Blocks of other writers this process freed.
  std::size_t remote_frees_pending = 0;   ///< Blocks others freed for this process, not back yet.
  std::size_t remote_frees_returned = 0;  ///< Blocks others freed that this process took back.
  std::size_t orphan_frees = 0;  ///< Frees into blocks of dead writers, dropped (whole arena).
  std::size_t orphaned = 0;      ///< Bytes of space claimed by writers that died or left.
  /// False for a `strict` arena: its freed memory stays in `resident` (for reuse) until the
  /// arena is destroyed, whatever `purge()` does.
  bool returns_memory = true;
};

/// A heap in shared memory, written by the process that created it and by any process that
/// attached to it as a writer (`attach`).
///
/// One memfd, mapped once (`MAP_SHARED`, 2 MiB-aligned) and managed by a jemalloc arena whose
/// own bookkeeping stays in private memory: the shared mapping holds only the arena header and
/// users' blocks. Another process reads the blocks through `seam::arena_view` over the fd that
/// `share()` returns.
///
/// Thread-safe: any thread of the owning process may allocate and free concurrently; each thread
/// gets its own jemalloc thread cache for this arena. NOT safe: allocating or freeing in a forked
/// child (the child would hand out blocks the parent also uses) — that fails with
/// `errc::forked_child`; destroying the arena while another thread still uses it. The `arena`
/// object itself lives in the owner's private memory and never moves (it is registered by
/// address so that a block can be freed knowing only its pointer).
///
/// Shared writers: `share_writable()` hands out a read-write fd; `arena::attach(fd)` in another
/// process makes that process a writer with its own jemalloc arena over chunks of the memfd it
/// claims from a shared bump pointer (a table in the arena records each chunk's writer). Each
/// writer allocates and frees its own blocks without locks or cross-process traffic. Freeing
/// another writer's block (e.g. erasing a node it inserted) pushes the block onto that writer's
/// lock-free remote-free list; the owner takes it back at its next allocation slow path or at
/// `collect()`. When a writer dies its blocks stay valid (other writers' containers may point at
/// them), frees into them are dropped and counted (`stats().orphan_frees`), and its space is
/// reported as `stats().orphaned`; its slot is reused by a later writer. Death is seen through
/// pidfds, without names. Writers change shared structures under a lock of their own
/// (`seam::mutex`): the arena itself synchronises allocation only. Every word read from the
/// shared writers' table is validated; a bad one is `errc::corrupt_arena` (or a dropped free),
/// never an access outside the arena. What writers cannot be protected from: a writer can
/// write any byte of the arena, so a buggy one can corrupt users' data (and the blocks it frees
/// to others), as a buggy thread could in one process.
class SEAM_API arena {
 public:
  /// Default alignment of `allocate`: that of `std::max_align_t`.
  static constexpr std::size_t default_alignment = alignof(std::max_align_t);

  /// Creates an arena. Throws `std::system_error` if the kernel refuses
  /// (`errc::address_space_limit`, `errc::map_count_limit`, or the errno). The jemalloc arena
  /// behind the heap of a `strict` arena (the default) is made on its first allocation (jemalloc
  /// allows 4095 per process), so arenas that never allocate (e.g. most sessions' own arenas on
  /// a busy server) cost one mapping each; a `trust_same_uid` arena, which may get shared
  /// writers, makes it at once.
  explicit arena(const arena_options& options = {});
  /// Same as the constructor, for `auto a = seam::arena::create();`.
  static arena create(const arena_options& options = {}) { return arena(options); }
  /// Makes this process a writer of the arena whose fd `share_writable()` returned (in another
  /// process): an `arena` like the creator's, at another address. Throws `std::system_error`:
  /// `errc::bad_arena` (not a Seam arena, not sealed, not writable, or of an older layout),
  /// `errc::corrupt_arena` (its writers' table is invalid), `errc::arena_full` (64 writers
  /// already, or no space left for a first chunk).
  static arena attach(unique_fd fd) { return arena(std::move(fd)); }

  arena(const arena&) = delete;
  arena& operator=(const arena&) = delete;
  /// Frees everything. Views in other processes keep the bytes they mapped: the memory goes
  /// back to the kernel when the last mapping and fd are gone.
  ~arena();

  /// Allocates `size` bytes aligned to `alignment` (a power of two, up to the capacity).
  /// Throws `std::bad_alloc` when the arena is full, `std::system_error` (`errc::forked_child`)
  /// in a forked child, `errc::heap_limit` when this is the first allocation in the arena and
  /// jemalloc has no arena left for its heap. The arena stays usable after a failure.
  void* allocate(std::size_t size, std::size_t alignment = default_alignment);
  /// As `allocate`, but returns nullptr on any failure.
  void* allocate(std::size_t size, std::size_t alignment, std::nothrow_t) noexcept;
  /// As `allocate`, with the block's bytes zero. Memory fresh from the kernel is known to be
  /// zero and is not written, so a large zeroed block costs no more than a plain one.
  void* allocate_zeroed(std::size_t size, std::size_t alignment = default_alignment);
  /// Frees a block of this arena. `size` and `alignment`, when given, must be those of the
  /// allocation (they let jemalloc skip a lookup); 0 means unknown. Ignored in a forked child.
  void deallocate(void* p, std::size_t size = 0,
                  std::size_t alignment = default_alignment) noexcept;
  /// Tries to grow the block `p` in place to at least `min_size` bytes, preferring
  /// `preferred_size`. Returns the block's usable size afterwards (unchanged on failure).
  /// A `min_size` below the block's size shrinks it in place where jemalloc can (large blocks).
  std::size_t expand(void* p, std::size_t min_size, std::size_t preferred_size) noexcept;
  /// The usable size of the live block `p`.
  std::size_t usable_size(const void* p) const noexcept;

  /// The arena of this process whose mapping contains `p`, or nullptr.
  static arena* owning(const void* p) noexcept;

  /// Constructs a `T` in the arena with `args`, with this arena as the thread's current arena
  /// (so containers inside `T` allocate here too). Throws like `allocate` and like `T`'s ctor.
  /// Does not compile for a type that `seam::shm_safe` rejects (`std::string`, raw pointers…).
  template <class T, class... Args>
  T* make(Args&&... args);
  /// Destroys and frees an object made by `make`.
  template <class T>
  void destroy(T* p) noexcept {
    if (p == nullptr) return;
    p->~T();
    deallocate(const_cast<std::remove_cv_t<T>*>(p), sizeof(T), alignof(T));
  }

  /// Constructs a `T` as `make` does and registers it under `name` in the arena's directory,
  /// where `find` (here) and `arena_view::find` (in any process) look it up; see
  /// `seam/arena/named.hpp` for names and for what concurrent readers see. The object is
  /// visible to lookups once its constructor returned. Throws `std::system_error`:
  /// `errc::name_exists` if an object has that name (also one still being constructed),
  /// `errc::bad_name`, `errc::forked_child`, `errc::corrupt_arena`, `errc::arena_full` when the
  /// directory holds its most names (141,306); `std::bad_alloc` when the arena is full;
  /// whatever `T`'s constructor throws (the name is then free again). No `error_code` overload:
  /// `T`'s constructor may throw anyway.
  template <class T, class... Args>
  T* make_named(std::string_view name, Args&&... args);
  /// The object named `name`, or nullptr if no object has that name. Throws
  /// `std::system_error`: `errc::type_mismatch` if it was made as another type, `errc::bad_name`,
  /// `errc::corrupt_arena`. Lock-free; thread-safe.
  template <class T>
  T* find(std::string_view name) const {
    std::error_code ec;
    T* p = find<T>(name, ec);
    throw_if(ec, "seam::arena::find");
    return p;
  }
  /// As `find`, reporting errors in `ec` (cleared when the name is simply absent).
  template <class T>
  T* find(std::string_view name, std::error_code& ec) const noexcept {
    return static_cast<T*>(const_cast<void*>(
        detail::find_named(base(), capacity(), id(), name, detail::named_type_of<T>(), ec)));
  }
  /// Removes `name` from the directory, then destroys and frees its object. Returns false if no
  /// object has that name. Throws `std::system_error`: `errc::type_mismatch` (nothing is
  /// removed), `errc::bad_name`, `errc::forked_child`, `errc::corrupt_arena`. Readers may still
  /// hold pointers to the object: see `seam/arena/named.hpp`.
  template <class T>
  bool destroy_named(std::string_view name) {
    std::error_code ec;
    const bool destroyed = destroy_named<T>(name, ec);
    throw_if(ec, "seam::arena::destroy_named");
    return destroyed;
  }
  /// As `destroy_named`, reporting errors in `ec`.
  template <class T>
  bool destroy_named(std::string_view name, std::error_code& ec) noexcept {
    void* p = unname(name, detail::named_type_of<T>(), ec);
    if (p == nullptr) return false;
    destroy(static_cast<T*>(p));
    return true;
  }

  /// True if the `size` bytes at `p` lie inside this arena's mapping.
  bool contains(const void* p, std::size_t size = 1) const noexcept;
  /// The handle naming `*p`; throws `std::system_error` (`errc::not_in_arena`) if `p` is outside.
  template <class T>
  handle<T> handle_of(const T* p) const {
    return {id(), offset_of(p, sizeof(T))};
  }
  /// The object a handle of this arena names, after the checks `arena_view::get` makes.
  template <class T>
  T* get(handle<T> h) const {
    return static_cast<T*>(resolve(h.arena_id, h.offset, sizeof(T), alignof(T)));
  }

  /// Publishes `h` as the arena's root object, which a view finds with `root<T>()`.
  template <class T>
  void set_root(handle<T> h) {
    set_root_offset(h.offset, sizeof(T));
  }

  /// Returns a new read-only fd of the arena to hand to another process. The memfd is sealed
  /// against shrinking and growing and made mode 0400, so a peer can never truncate it (which
  /// would crash the owner with SIGBUS). Whether a peer of the owner's uid can reopen it
  /// writable depends on the arena's `isolation`: never with `strict` (the default), yes with
  /// `trust_same_uid` (it owns the memfd, so it can `fchmod` it).
  unique_fd share() const;
  /// As the overload above, reporting errors in `ec` instead of throwing.
  unique_fd share(std::error_code& ec) const noexcept;
  /// Returns a new read-write fd of the arena for a process that will attach as a writer
  /// (`arena::attach`). The memfd is sealed against shrinking and growing first, as by `share()`.
  /// The receiver can write every byte of the arena: give it only to processes you trust as
  /// you trust your own threads.
  unique_fd share_writable() const;
  /// As `share_writable`, reporting errors in `ec`.
  unique_fd share_writable(std::error_code& ec) const noexcept;

  /// Takes back the blocks other writers freed for this process (they come back by themselves
  /// at an allocation that misses the thread caches) and notes writers that died. Throws
  /// `std::system_error` (`errc::corrupt_arena`) if the shared writers' table or a remote-free
  /// link was found invalid (the blocks past the bad link are then leaked, never touched).
  void collect();
  /// As `collect`, reporting errors in `ec`.
  void collect(std::error_code& ec) noexcept;

  /// Closes this process's descriptor of the arena's memfd, which only `share` and `stats`
  /// need: a server with thousands of sessions would otherwise hold one per session arena (and
  /// run out under RLIMIT_NOFILE). The memory stays mapped and usable, freed pages still go
  /// back to the kernel (through the mapping); afterwards `share()` fails (EBADF) and
  /// `stats().resident` reads 0. Only before the first allocation (returns false after it,
  /// keeping the descriptor). Sessions drop their arena's once the peer has it.
  bool drop_descriptor() noexcept;
  /// Returns free memory to the kernel now (a `strict` arena cannot: it only gives cached
  /// blocks back to its allocator for reuse; its memory goes back when it is destroyed).
  /// Flushes the calling thread's cache for this arena first.
  /// Without it, freed memory stays resident for reuse, within bounds: jemalloc's dirty
  /// pages (10 s decay), freed blocks of 1-64 KiB kept for any thread (up to 128 MiB, or a
  /// quarter of the capacity), freed blocks over 1 MiB (up to 256 MiB), and each thread's cache
  /// (up to ~4 MiB, returned when the thread exits).
  void purge() noexcept;
  /// Returns the blocks the calling thread's cache holds for this arena to the arena. Useful
  /// on a thread that frees but rarely allocates here (blocks would wait in its cache).
  void flush_thread_cache() noexcept;
  /// Current use of memory. Flushes the calling thread's cache for this arena first.
  /// Also publishes the figures in the arena's header for other processes
  /// (`arena_view::stats`, the `seam stats` tool), as `share()`, `purge()` and, at most every
  /// 100 ms, allocating or freeing (with its size) a block of `publish_block_size` or more do.
  arena_stats stats() const noexcept;
  /// Blocks of this size or more refresh the published statistics (see `stats()`).
  static constexpr std::size_t publish_block_size = std::size_t{1} << 20;

  /// An id that no other arena, in any process, is expected to have (64 random bits).
  std::uint64_t id() const noexcept;
  /// Start of the mapping in this process.
  std::byte* base() const noexcept;
  /// Bytes of address space this process may still map under RLIMIT_AS (`ulimit -v`): the
  /// limit less what is mapped now; SIZE_MAX without a limit. Default capacities come from it.
  static std::size_t address_space_left() noexcept;
  /// Bytes of address space.
  std::size_t capacity() const noexcept;
  /// The isolation the arena was created with.
  seam::isolation isolation() const noexcept;

 private:
  explicit arena(unique_fd writable_fd);
  [[noreturn]] void throw_allocation_failure(std::size_t alignment) const;
  arena_stats collect_stats() const noexcept;
  void publish_after_big_block() noexcept;
  std::uint64_t offset_of(const void* p, std::size_t size) const;
  void* resolve(std::uint64_t id, std::uint64_t offset, std::size_t size,
                std::size_t alignment) const;
  void set_root_offset(std::uint64_t offset, std::uint64_t size) noexcept;
  bool forked() const noexcept;
  // The directory's writer side (arena/named.cpp). An entry is reserved before the object is
  // constructed (so the constructor runs without the lock and may itself make named objects)
  // and published after.
  detail::name_slot reserve_name(std::string_view name, const detail::named_type& type);
  void publish_name(detail::name_slot slot, const void* object) noexcept;
  void cancel_name(detail::name_slot slot) noexcept;
  void* unname(std::string_view name, const detail::named_type& type, std::error_code& ec) noexcept;

  std::unique_ptr<detail::arena_core> m_core;
  // Serialises this process's changes to the directory of named objects.
  std::mutex m_names_mutex;
};

namespace detail {
/// The thread's current arena; see `seam::arena_scope`.
SEAM_API inline thread_local arena* t_current_arena = nullptr;
}  // namespace detail

/// Makes `a` the calling thread's current arena until the scope ends, restoring the previous
/// one then (scopes nest). `seam::allocator` allocates in the current arena. Not movable; use
/// on one thread.
class SEAM_API arena_scope {
 public:
  /// Makes `a` current until the scope ends.
  explicit arena_scope(arena& a) noexcept
      : m_previous(std::exchange(detail::t_current_arena, &a)) {}
  arena_scope(const arena_scope&) = delete;
  arena_scope& operator=(const arena_scope&) = delete;
  ~arena_scope() { detail::t_current_arena = m_previous; }

  /// The calling thread's current arena, or nullptr.
  static arena* current() noexcept { return detail::t_current_arena; }

 private:
  arena* m_previous;
};

template <class T, class... Args>
T* arena::make(Args&&... args) {
  static_assert(detail::require_shm_safe<T>::value);  // fails with a readable message if not
  arena_scope scope{*this};
  void* p = allocate(sizeof(T), alignof(T));
  try {
    return ::new (p) T(std::forward<Args>(args)...);
  } catch (...) {
    deallocate(p, sizeof(T), alignof(T));
    throw;
  }
}

template <class T, class... Args>
T* arena::make_named(std::string_view name, Args&&... args) {
  static_assert(detail::require_shm_safe<T>::value);
  const detail::name_slot slot = reserve_name(name, detail::named_type_of<T>());
  T* p = nullptr;
  try {
    p = make<T>(std::forward<Args>(args)...);
  } catch (...) {
    cancel_name(slot);
    throw;
  }
  publish_name(slot, p);
  return p;
}

}  // namespace seam
