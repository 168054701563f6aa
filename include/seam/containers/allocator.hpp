#pragma once
/// \file
/// `seam::allocator<T>`: the STL allocator of Seam's containers.

#include <boost/container/detail/allocation_type.hpp>
#include <boost/container/detail/multiallocation_chain.hpp>
#include <boost/container/detail/version_type.hpp>
#include <boost/interprocess/offset_ptr.hpp>
#include <cstddef>
#include <limits>
#include <new>
#include <system_error>
#include <type_traits>

#include "seam/arena/arena.hpp"
#include "seam/arena/shm_safe.hpp"

namespace seam {

/// A pointer stored as its distance from itself: valid in every process that maps the arena,
/// wherever the mapping lands. Use it for your own linked structures in an arena.
template <class T>
using ptr = boost::interprocess::offset_ptr<T>;

/// A stateless allocator whose pointers are `seam::ptr<T>`.
///
/// Allocates in the calling thread's current arena (`seam::arena_scope`, or `arena::make`),
/// so nested containers need no allocator plumbing: an inner `seam::vector` allocates wherever
/// the scope is when it grows. Frees into the arena that holds the block, found from its
/// address. Throws `std::system_error` (`errc::no_current_arena`) with no scope,
/// (`errc::forked_child`) in a forked child, and `std::bad_alloc` when the arena is full.
/// Only the owner of an arena may allocate or free with it; readers only read.
///
/// It is a Boost.Container "version 2" allocator: `boost::container::vector` and `basic_string`
/// first ask `allocation_command` to grow their block in place (jemalloc's `xallocx`) and copy
/// only when that fails, and they learn the block's real size, so the slack jemalloc rounds up
/// to becomes capacity. Node containers get `allocate_one` / `allocate_individual`, which here
/// are plain one-node allocations (jemalloc has no cheaper batch).
///
/// Does not compile for an element type that `seam::shm_safe` rejects: every Seam container
/// instantiates its allocator with its element type, so `seam::vector<std::string>` fails here
/// with a message that names `std::string`.
template <class T>
class allocator {
  static_assert(detail::require_shm_safe<T>::value);  // fails with a readable message if not

 public:
  /// The element type.
  using value_type = T;
  /// `seam::offset_ptr<T>`: a pointer valid in every process that maps the arena.
  using pointer = ptr<T>;
  /// `seam::offset_ptr<const T>`.
  using const_pointer = ptr<const T>;
  /// `seam::offset_ptr<void>`.
  using void_pointer = ptr<void>;
  /// `seam::offset_ptr<const void>`.
  using const_void_pointer = ptr<const void>;
  /// Sizes: `std::size_t`.
  using size_type = std::size_t;
  /// Distances between pointers: `std::ptrdiff_t`.
  using difference_type = std::ptrdiff_t;
  /// Stateless: nothing to propagate.
  using propagate_on_container_copy_assignment = std::true_type;
  /// Stateless: moves keep the blocks where they are.
  using propagate_on_container_move_assignment = std::true_type;
  /// Stateless: swaps keep the blocks where they are.
  using propagate_on_container_swap = std::true_type;
  /// Every `seam::allocator` frees what any other allocated.
  using is_always_equal = std::true_type;
  /// The allocator for another element type, `seam::allocator<U>`.
  template <class U>
  struct rebind {
    /// `seam::allocator<U>`.
    using other = allocator<U>;
  };

  // Boost.Container's allocator protocol. These names live in Boost's `dtl` namespace, but they
  // are what its containers test for (`allocator::version`) and what they pass in
  // (`multiallocation_chain`): there is no public spelling in Boost 1.74.
  /// Tells Boost.Container that this allocator implements `allocation_command` and friends.
  using version = boost::container::dtl::version_type<allocator, 2>;
  /// A list of free blocks linked through the blocks themselves (with `seam::ptr`).
  using multiallocation_chain = boost::container::dtl::transform_multiallocation_chain<
      boost::container::dtl::basic_multiallocation_chain<void_pointer>, T>;

  allocator() noexcept = default;
  /// Converting constructor: allocators of all types are interchangeable.
  template <class U>
  allocator(const allocator<U>&) noexcept {}  // NOLINT: converting, as the standard requires

  /// Allocates room for exactly `n` objects in the current arena.
  pointer allocate(size_type n) {
    if (n > max_size()) throw std::bad_array_new_length();
    return pointer(static_cast<T*>(current_arena().allocate(n * sizeof(T), alignof(T))));
  }

  /// Frees a block of `n` objects (as allocated, or as `allocation_command` last reported).
  void deallocate(pointer p, size_type n) noexcept {
    T* raw = p.get();
    if (raw == nullptr) return;
    arena* a = arena_scope::current();
    if (a == nullptr || !a->contains(raw)) a = arena::owning(raw);
    SEAM_ASSERT(a != nullptr, "seam::allocator: freeing a block of no arena of this process");
    if (a != nullptr) a->deallocate(raw, n * sizeof(T), alignof(T));
  }

  /// The largest number of elements one allocation can hold.
  size_type max_size() const noexcept { return std::numeric_limits<size_type>::max() / sizeof(T); }

  /// Boost.Container's request to grow, shrink or replace a block (version 2).
  ///
  /// `command` combines `allocate_new`, `expand_fwd`, `shrink_in_place` and `nothrow_allocation`
  /// (`expand_bwd` is never granted: jemalloc cannot move a block's start). On input
  /// `prefer_in_recvd_out_size` is the count wanted and `limit_size` the least acceptable (for
  /// a shrink: the most); on output it is the count the block holds. Returns `reuse` if the
  /// block was resized in place, else a new block with `reuse` set to null. When no block can
  /// be had it returns null if `nothrow_allocation` is set or `allocate_new` is not (a request to
  /// resize in place only), and otherwise throws like `allocate`.
  ///
  /// Why every reported count is safe to pass back to `deallocate`: jemalloc's sized free
  /// needs a size of the block's size class, i.e. between the request that fixed the class and
  /// the usable size. Requests here ask for exactly `n` objects (`xallocx` with no "extra"), and
  /// the reported count `usable / sizeof(T)` is at least `n`, so it always falls in that range.
  pointer allocation_command(boost::container::allocation_type command, size_type limit_size,
                             size_type& prefer_in_recvd_out_size, pointer& reuse) {
    namespace bc = boost::container;
    const bool nothrow = (command & bc::nothrow_allocation) != 0;
    T* const old = reuse.get();
    if (old != nullptr && (command & (bc::expand_fwd | bc::shrink_in_place)) != 0 &&
        !cannot_grow_in_place(command, limit_size)) {
      arena* a = arena_scope::current();
      // In place only in the current arena: a block of another arena moves to the current one,
      // as it would with a plain allocator, and only the arena's owner may touch its heap.
      if (a != nullptr && a->contains(old) && resize_in_place(*a, old, command, limit_size,
                                                             prefer_in_recvd_out_size)) {
        return reuse;
      }
    }
    reuse = pointer();
    // Without `allocate_new` the caller only asked whether the block can change in place
    // (`vector::stable_reserve`): "no" is an answer, not an error.
    if ((command & bc::allocate_new) == 0) return pointer();
    return allocate_at_least(limit_size, prefer_in_recvd_out_size, nothrow);
  }

  /// How many objects the block `p` (from `allocation_command`) can hold.
  size_type size(pointer p) const noexcept {
    const arena* a = p ? arena::owning(p.get()) : nullptr;
    return a != nullptr ? a->usable_size(p.get()) / sizeof(T) : 0;
  }

  /// One node-sized block (version 2 name of `allocate(1)`).
  pointer allocate_one() { return allocate(1); }
  /// Frees one element's block, as Boost.Container's version 2 allocators do.
  void deallocate_one(pointer p) noexcept { deallocate(p, 1); }

  /// `n` one-object blocks, added to `chain`; on failure none is kept and it throws.
  void allocate_individual(size_type n, multiallocation_chain& chain) {
    size_type added = 0;
    try {
      for (; added < n; ++added) chain.push_front(allocate(1));
    } catch (...) {
      for (; added > 0; --added) deallocate(chain.pop_front(), 1);
      throw;
    }
  }
  /// Frees every block of `chain` (each from `allocate_one` or `allocate_individual`).
  void deallocate_individual(multiallocation_chain& chain) noexcept {
    while (!chain.empty()) deallocate(chain.pop_front(), 1);
  }

  /// Always true: any `seam::allocator` frees what another allocated.
  template <class U>
  friend bool operator==(const allocator&, const allocator<U>&) noexcept {
    return true;
  }

 private:
  // Over-aligned blocks are sized by jemalloc with their alignment in mind: keep them exact
  // rather than reason about how `xallocx` treats them.
  static constexpr bool resizable = alignof(T) <= arena::default_alignment;

  // True if asking jemalloc to grow the block would be a lookup that can only fail. jemalloc
  // grows a small block (one of a slab: up to 14 KiB with 4 KiB pages, more with larger ones) in
  // place only within its size class, and a container asks to grow only past its capacity,
  // which is that class's size when the block came from `allocation_command`. A growth to at
  // most `small_bytes` is of a block smaller than that, so a small one. (For a block from
  // `allocate(n)`, whose class may have room left, this costs a move, never correctness.)
  static constexpr std::size_t small_bytes = 8192;
  static bool cannot_grow_in_place(boost::container::allocation_type command,
                                   size_type limit) noexcept {
    return (command & boost::container::shrink_in_place) == 0 && limit <= small_bytes / sizeof(T);
  }

  static arena& current_arena() {
    arena* a = arena_scope::current();
    if (a == nullptr) throw std::system_error(errc::no_current_arena, "seam::allocator");
    return *a;
  }

  // Grows (`expand_fwd`: to the preferred count if there is room, else to `limit`) or shrinks
  // (`shrink_in_place`: to the preferred count) the block `p` without moving it.
  static bool resize_in_place(arena& a, T* p, boost::container::allocation_type command,
                              size_type limit, size_type& count) noexcept {
    if (!resizable) return false;
    if ((command & boost::container::shrink_in_place) != 0) {
      // xallocx shrinks a large block in place, but not below jemalloc's smallest large size
      // class and never a small block: settle for the least size that it accepts, so that
      // `shrink_to_fit` on a big vector still gives its memory back.
      const std::size_t before = a.usable_size(p);
      for (size_type want = count; want != 0 && want * sizeof(T) < before; want *= 2) {
        size_type kept = 0;
        if (resize_to(a, p, want, kept) && a.usable_size(p) < before) {
          count = kept;
          return true;
        }
        if (want > std::numeric_limits<size_type>::max() / sizeof(T) / 2) break;
      }
      return false;
    }
    return resize_to(a, p, count, count) || (limit < count && resize_to(a, p, limit, count));
  }

  // Asks jemalloc for exactly `want` objects' worth (no "extra": see `allocation_command`) and
  // reports in `count` how many the block holds if it holds at least `want`.
  static bool resize_to(arena& a, T* p, size_type want, size_type& count) noexcept {
    if (want == 0 || want > std::numeric_limits<size_type>::max() / sizeof(T)) return false;
    const std::size_t bytes = a.expand(p, want * sizeof(T), want * sizeof(T));
    if (bytes < want * sizeof(T)) return false;
    count = bytes / sizeof(T);
    return true;
  }

  // A new block of the preferred count, or failing that of `limit`; reports the count that
  // jemalloc's size class really holds.
  pointer allocate_at_least(size_type limit, size_type& count, bool nothrow) {
    if (count < limit) count = limit;
    arena* a = arena_scope::current();
    if (a == nullptr) {
      if (nothrow) return pointer();
      throw std::system_error(errc::no_current_arena, "seam::allocator");
    }
    if (limit > max_size()) {
      if (nothrow) return pointer();
      throw std::bad_array_new_length();
    }
    if (count > max_size()) count = max_size();
    void* p = count > limit ? a->allocate(count * sizeof(T), alignof(T), std::nothrow) : nullptr;
    if (p == nullptr) {
      count = limit;
      p = nothrow ? a->allocate(count * sizeof(T), alignof(T), std::nothrow)
                  : a->allocate(count * sizeof(T), alignof(T));
      if (p == nullptr) return pointer();
    }
    if (resizable) count = a->usable_size(p) / sizeof(T);
    return pointer(static_cast<T*>(p));
  }
};

}  // namespace seam
