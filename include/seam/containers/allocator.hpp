#pragma once
/// \file
/// `seam::allocator<T>`: the STL allocator of Seam's containers.

#include <boost/interprocess/offset_ptr.hpp>
#include <cstddef>
#include <limits>
#include <new>
#include <system_error>
#include <type_traits>

#include "seam/arena/arena.hpp"

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
template <class T>
class allocator {
 public:
  using value_type = T;
  using pointer = ptr<T>;
  using const_pointer = ptr<const T>;
  using void_pointer = ptr<void>;
  using const_void_pointer = ptr<const void>;
  using size_type = std::size_t;
  using difference_type = std::ptrdiff_t;
  using propagate_on_container_copy_assignment = std::true_type;
  using propagate_on_container_move_assignment = std::true_type;
  using propagate_on_container_swap = std::true_type;
  using is_always_equal = std::true_type;
  template <class U>
  struct rebind {
    using other = allocator<U>;
  };

  allocator() noexcept = default;
  template <class U>
  allocator(const allocator<U>&) noexcept {}  // NOLINT: converting, as the standard requires

  pointer allocate(size_type n) {
    arena* a = arena_scope::current();
    if (a == nullptr) throw std::system_error(errc::no_current_arena, "seam::allocator");
    if (n > std::numeric_limits<size_type>::max() / sizeof(T)) throw std::bad_array_new_length();
    return pointer(static_cast<T*>(a->allocate(n * sizeof(T), alignof(T))));
  }

  void deallocate(pointer p, size_type n) noexcept {
    T* raw = p.get();
    if (raw == nullptr) return;
    arena* a = arena_scope::current();
    if (a == nullptr || !a->contains(raw)) a = arena::owning(raw);
    SEAM_ASSERT(a != nullptr, "seam::allocator: freeing a block of no arena of this process");
    if (a != nullptr) a->deallocate(raw, n * sizeof(T), alignof(T));
  }

  size_type max_size() const noexcept { return std::numeric_limits<size_type>::max() / sizeof(T); }

  template <class U>
  friend bool operator==(const allocator&, const allocator<U>&) noexcept {
    return true;
  }
};

}  // namespace seam
