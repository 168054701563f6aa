#pragma once
// The bytes at the start of every arena, written by the owner and read (as untrusted input)
// by views.

#include <cstddef>
#include <cstdint>
#include <system_error>

#include "seam/arena/error.hpp"

namespace seam::detail {

inline constexpr std::uint64_t arena_magic = 0x4e45524141454553;  // "SEEAAREN" little-endian
inline constexpr std::uint32_t arena_version = 1;
/// The header owns the first page; no block ever starts at offset 0, so offset 0 is null.
inline constexpr std::size_t header_bytes = 4096;

struct arena_header {
  std::uint64_t magic;
  std::uint32_t version;
  std::uint32_t header_size;
  std::uint64_t id;
  std::uint64_t capacity;
  // Written by the owner with release stores, read by views with acquire loads.
  std::uint64_t root_offset;
  std::uint64_t root_size;
  // The first block of the directory of named objects (arena/detail/directory.hpp), or 0.
  // Published like `root_offset`. Arenas from before named objects have 0 here: no names.
  std::uint64_t directory_offset;
  // The lock under which writer processes change the directory: a robust, process-shared
  // pthread mutex (arena/named.cpp), initialised by the creator.
  alignas(64) std::uint64_t directory_lock[8];
  // Where the shared writers' region (arena/detail/writers.hpp) starts: `header_bytes`, just
  // after this page; 0 in arenas made before shared writers (which cannot be attached).
  std::uint64_t writers_offset;
};
static_assert(sizeof(arena_header) <= header_bytes);

/// Checks that [offset, offset + size) names an object of the arena `id` mapped at `base` with
/// `mapped` bytes, aligned to `alignment`, and returns it; sets `ec` and returns nullptr if not.
inline const void* resolve_in(const std::byte* base, std::size_t mapped, std::uint64_t id,
                              std::uint64_t handle_id, std::uint64_t offset, std::size_t size,
                              std::size_t alignment, std::error_code& ec) noexcept {
  if (offset == 0) {
    ec = errc::null_handle;
  } else if (handle_id != id) {
    ec = errc::foreign_handle;
  } else if (offset < header_bytes || offset > mapped || size > mapped - offset) {
    ec = errc::handle_out_of_range;
  } else if (((reinterpret_cast<std::uintptr_t>(base) + offset) & (alignment - 1)) != 0) {
    ec = errc::handle_misaligned;
  } else {
    ec.clear();
    return base + offset;
  }
  return nullptr;
}

inline std::uint64_t load_acquire(const std::uint64_t& v) noexcept {
  return __atomic_load_n(&v, __ATOMIC_ACQUIRE);
}
inline void store_release(std::uint64_t& v, std::uint64_t value) noexcept {
  __atomic_store_n(&v, value, __ATOMIC_RELEASE);
}

}  // namespace seam::detail
