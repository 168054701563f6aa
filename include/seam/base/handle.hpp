#pragma once
/// \file
/// `seam::handle<T>`: the name of an object in an arena, valid in every process.

#include <cstdint>
#include <type_traits>

namespace seam {

/// Names an object of type `T` in an arena: {arena id, byte offset from the arena's start}.
/// Trivially copyable, 16 bytes: this is what crosses process boundaries. A handle is only a
/// claim; `arena_view::get` checks it before it becomes a pointer. Offset 0 is the null handle
/// (the arena's first page is its header, never an object).
template <class T>
struct handle {
  /// The id of the arena the object lives in.
  std::uint64_t arena_id = 0;
  /// The object's offset from the arena's start; 0 is the null handle.
  std::uint64_t offset = 0;

  /// True when the handle names an object.
  explicit operator bool() const noexcept { return offset != 0; }
  /// Equal contents.
  friend bool operator==(const handle&, const handle&) = default;

  /// The same place, seen as another type (checked again when resolved).
  template <class U>
  handle<U> as() const noexcept {
    return {arena_id, offset};
  }
};

static_assert(std::is_trivially_copyable_v<handle<int>>);
static_assert(sizeof(handle<int>) == 16);

}  // namespace seam
