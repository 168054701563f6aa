#pragma once
/// \file
/// Seam's error codes: `seam::errc` and its `std::error_category`.

#include <system_error>

namespace seam {

/// Why a Seam operation failed. Used as `std::error_code{seam::errc::…}` and in
/// `std::system_error`; compare with `ec == seam::errc::arena_full`.
enum class errc {
  arena_full = 1,     ///< The arena has no room left for the request.
  forked_child,       ///< This process is a fork of the arena's owner; only the owner allocates.
  no_current_arena,   ///< Allocation with no `seam::arena_scope` active on this thread.
  not_in_arena,       ///< A pointer does not lie inside the arena it was given to.
  null_handle,        ///< A handle names nothing.
  foreign_handle,     ///< A handle names another arena than the one asked.
  handle_out_of_range,///< A handle (with its object's size) reaches outside the arena.
  handle_misaligned,  ///< A handle's offset is not aligned for its type.
  bad_arena,          ///< An fd is not a Seam arena, is unsealed, or has an unknown version.
  no_root,            ///< The arena has no root object of the asked type.
  // Sessions and channels.
  no_such_server,     ///< No session server listens under that name.
  server_exists,      ///< A session server with that name already listens.
  refused,            ///< The server refused this client (its uid/gid is not allowed).
  version_mismatch,   ///< The peer speaks another protocol version.
  timed_out,          ///< The operation did not complete within its timeout.
  peer_closed,        ///< The peer closed the session or channel, or died.
  protocol_error,     ///< The peer sent bytes that are not a valid message.
  message_too_large,  ///< A message exceeds the size limit.
  too_many_fds,       ///< A message carries more file descriptors than the limit.
  unknown_arena,      ///< A handle names an arena the peer never shared.
  lend_limit,         ///< The session has as many outstanding lends as it allows.
  would_block,        ///< Non-blocking call: nothing to do now; wait for the fd.
  // Named objects.
  name_exists,        ///< An object with that name already exists in the arena.
  type_mismatch,      ///< The named object was made as another type (fingerprint, size, alignment).
  bad_name,           ///< A name is empty or longer than `arena::max_name_length` bytes.
  corrupt_arena,      ///< Bytes of the arena's own bookkeeping (e.g. its directory) are invalid.
};

/// The category of `seam::errc`; its name is "seam".
const std::error_category& error_category() noexcept;

/// Makes `seam::errc` usable as a `std::error_code`.
inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

/// Throws `std::system_error` for `ec` if it holds an error; `what` says what was being done.
void throw_if(const std::error_code& ec, const char* what);

}  // namespace seam

template <>
struct std::is_error_code_enum<seam::errc> : std::true_type {};
