#pragma once
/// \file
/// Named objects: what `arena::make_named`, `arena::find`, `arena::destroy_named` and
/// `arena_view::find` promise, and the one lookup they share.
///
/// An arena holds a directory of named objects, in the arena itself: each entry records the
/// name, the object's offset, and its type's size, alignment and `seam::type_fingerprint`.
///
/// - Names are 1 to `max_name_length` (255) bytes, any bytes (NUL included), compared exactly
///   (no case folding, no normalisation). A bad name is `errc::bad_name`.
/// - A lookup with another type than the object was made as fails with `errc::type_mismatch`
///   (size, alignment and fingerprint are compared): it never returns the object reinterpreted.
/// - A reader treats every directory byte as input from another process: block offsets,
///   counts, lengths and object offsets are checked before use, the walk is bounded, and a
///   directory that does not hold up is `errc::corrupt_arena`, never a crash or a hang.
/// - A lookup hashes the name and probes one small open-addressing table per directory block
///   (blocks of 12, 24, 48, … names: about log2(names / 6) blocks), with no lock. Measured
///   against Boost.Interprocess's named objects in the same run (`seam_bench_named`, CPU time):
///   as fast at 16 and 1000 names, 0.45-0.57x its speed at 10,000 (one cache miss or two per
///   block); find an object once and keep the pointer. An arena holds up to 141,306 names
///   (`errc::arena_full` beyond).
///
/// While the owner adds and removes names, readers may look them up at the same time. What a
/// reader sees:
/// - An object becomes visible to `find` only once its constructor has returned (the entry is
///   published with a release store after construction; readers load it with acquire).
/// - `destroy_named` removes the entry before it runs the destructor and frees the block: a
///   lookup that starts after `destroy_named` returned sees nullptr; one that races it sees the
///   object or nullptr. A pointer found earlier is NOT kept alive by the directory: the memory
///   stays mapped (no crash from the mapping itself), but its bytes may be reused. Keep
///   an object alive while readers use it the way every shared object is kept alive: lend it
///   (`session::lend` / `borrow`), or have readers tell the owner when they are done.
/// - Racing a `make_named` or `destroy_named` of that same name, a lookup may also miss the
///   name; names that are not being changed are always found.
///
/// Entries are rewritten under a sequence counter (a seqlock): readers copy an entry and retry
/// if it changed meanwhile, a bounded number of times (then treat it as being changed), so a
/// reader never waits on the owner, even one killed in the middle of a change.
/// Only the owner writes the directory today (its threads take a private mutex). The layout is
/// ready for several writer processes: all of the directory's state is in the arena, blocks are
/// appended and never moved or freed, and the arena's header reserves room for the
/// process-shared lock under which writers will change it.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "seam/arena/type_fingerprint.hpp"
#include "seam/base/export.hpp"

namespace seam {

/// Longest name of a named object, in bytes.
inline constexpr std::size_t max_name_length = 255;

/// One named object as a listing (`arena_view::names`) reports it.
struct named_object_info {
  std::string name;               ///< The name's bytes.
  std::uint64_t offset = 0;       ///< The object, from the arena's start.
  std::uint64_t size = 0;         ///< `sizeof` of its type.
  std::uint64_t alignment = 0;    ///< `alignof` of its type.
  std::uint64_t fingerprint = 0;  ///< Its type's `seam::type_fingerprint`.
};

namespace detail {

struct directory_entry;
/// A name the owner reserved in the directory: its entry and its slot in the block's hashes.
struct name_slot {
  std::uint64_t* hash;
  directory_entry* entry;
};

/// The lookup behind every `find`: the live object named `name` in the arena `id` mapped at
/// `base` (`mapped` bytes), or nullptr. Sets `ec` to `errc::bad_name`, `errc::type_mismatch`
/// or `errc::corrupt_arena`, clears it otherwise (also when the name is not found).
/// Defined in arena/named.cpp; never throws, whatever the directory holds.
SEAM_API const void* find_named(const std::byte* base, std::size_t mapped, std::uint64_t id,
                                std::string_view name, const named_type& type,
                                std::error_code& ec) noexcept;

/// Every live named object of the arena `id` mapped at `base` (`mapped` bytes), each entry
/// read under its sequence counter and checked (name length and hash, object bounds and
/// alignment): `errc::corrupt_arena` if one does not hold up. Entries being changed are
/// skipped. Defined in arena/named.cpp; never throws (out of memory is
/// `std::errc::not_enough_memory`).
SEAM_API std::vector<named_object_info> list_named(const std::byte* base, std::size_t mapped,
                                                   std::uint64_t id, std::error_code& ec) noexcept;

}  // namespace detail

}  // namespace seam
