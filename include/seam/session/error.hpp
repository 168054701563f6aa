#pragma once
/// \file
/// The error codes of sessions and of the layers above them (channels, Cap'n Proto):
/// `seam::session_errc` and its `std::error_category` ("seam.session"), also spelled
/// `seam::errc::…`.

#include <system_error>

#include "seam/arena/error.hpp"
#include "seam/base/export.hpp"

namespace seam {

/// Why a session, channel or Cap'n Proto operation failed. The values continue those of
/// `seam::arena_errc` (they crossed the wire in refusals before the split: keep them).
enum class session_errc {
  no_such_server = 11,  ///< No session server listens under that name.
  server_exists,        ///< A session server with that name already listens.
  refused,              ///< The server refused this client (its uid/gid is not allowed).
  version_mismatch,     ///< The peer speaks another protocol version.
  timed_out,            ///< The operation did not complete within its timeout.
  peer_closed,          ///< The peer closed the session or channel, or died.
  protocol_error,       ///< The peer sent bytes that are not a valid message.
  message_too_large,    ///< A message exceeds the size limit.
  too_many_fds,         ///< A message carries more file descriptors than the limit.
  unknown_arena,        ///< A handle names an arena the peer never shared.
  lend_limit,           ///< The session has as many outstanding lends as it allows.
  would_block,          ///< Non-blocking call: nothing to do now; wait for the fd.
  not_published,        ///< The peer publishes nothing under that name to this session.
  // Limits hit while connecting; each compares equal to its errno (`ec == std::errc::…`).
  // Either side may report them: the side that hit the limit tells the other why it gave up.
  busy,              ///< The server has its most handshakes pending (from this user or in all).
  descriptor_limit,  ///< Out of file descriptors: RLIMIT_NOFILE (`ulimit -n`) or the system's.
  out_of_memory,     ///< Out of memory.
  arena_too_large,   ///< The peer's arena is larger than `session_options::max_peer_arena`.
};

namespace errc {
using enum session_errc;
}  // namespace errc

/// The category of `seam::session_errc`; its name is "seam.session".
SEAM_API const std::error_category& session_category() noexcept;

/// Makes `seam::session_errc` usable as a `std::error_code`.
inline std::error_code make_error_code(session_errc e) noexcept {
  return {static_cast<int>(e), session_category()};
}

}  // namespace seam

/// \cond
template <>
struct std::is_error_code_enum<seam::session_errc> : std::true_type {};
/// \endcond
