#pragma once
/// \file
/// The arena layer's error codes: `seam::arena_errc` and its `std::error_category`
/// ("seam.arena"), also spelled `seam::errc::…`.

#include <system_error>

#include "seam/base/error.hpp"
#include "seam/base/export.hpp"

namespace seam {

/// Why an arena operation failed. Used as `std::error_code{seam::errc::…}` and in
/// `std::system_error`; compare with `ec == seam::errc::arena_full`.
enum class arena_errc {
  arena_full = 1,       ///< The arena has no room left for the request.
  forked_child,         ///< This process is a fork of the arena's owner; only the owner allocates.
  no_current_arena,     ///< Allocation with no `seam::arena_scope` active on this thread.
  not_in_arena,         ///< A pointer does not lie inside the arena it was given to.
  null_handle,          ///< A handle names nothing.
  foreign_handle,       ///< A handle names another arena than the one asked.
  handle_out_of_range,  ///< A handle (with its object's size) reaches outside the arena.
  handle_misaligned,    ///< A handle's offset is not aligned for its type.
  bad_arena,            ///< An fd is not a Seam arena, is unsealed, or has an unknown version.
  no_root,              ///< The arena has no root object of the asked type.
  // Named objects.
  name_exists,    ///< An object with that name already exists in the arena.
  type_mismatch,  ///< The named object was made as another type (fingerprint, size, alignment).
  bad_name,       ///< A name is empty or longer than `arena::max_name_length` bytes.
  corrupt_arena,  ///< Bytes of the arena's own bookkeeping (e.g. its directory) are invalid.
  // Isolation.
  strict_isolation,  ///< The arena is `isolation::strict`: no other process may ever write it.
  // Limits of the process (the errno of the failed call is ENOMEM or EAGAIN in each case).
  address_space_limit,  ///< No room to map: RLIMIT_AS (`ulimit -v`) or the 47-bit address space.
  map_count_limit,      ///< The process has `vm.max_map_count` mappings already.
  heap_limit,           ///< jemalloc has no arena left for a heap (it allows 4095 per process).
};

/// Every layer's error values under one name: `seam::errc::arena_full`, `seam::errc::peer_closed`.
namespace errc {
using enum arena_errc;
}  // namespace errc

/// The category of `seam::arena_errc`; its name is "seam.arena".
SEAM_API const std::error_category& arena_category() noexcept;

/// Makes `seam::arena_errc` usable as a `std::error_code`.
inline std::error_code make_error_code(arena_errc e) noexcept {
  return {static_cast<int>(e), arena_category()};
}

}  // namespace seam

/// \cond
template <>
struct std::is_error_code_enum<seam::arena_errc> : std::true_type {};
/// \endcond
