#pragma once
// The steps of a handshake that the client (`session::connect`) and the server
// (`session_server::accept`) share: the address, the hello, mapping the peer's arena, making our
// own, and naming the limit a failed step hit.

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <memory>
#include <string_view>
#include <system_error>

#include "seam/arena/arena.hpp"
#include "seam/arena/arena_view.hpp"
#include "seam/session/session.hpp"
#include "seam/session/wire.hpp"
#include "session/detail/session_core.hpp"

namespace seam::detail {

/// "@seam/<uid>/<app>" into `addr`: per user, so users' names never collide; abstract, so it
/// vanishes with the socket.
std::error_code make_address(std::string_view app, uid_t uid, sockaddr_un& addr, socklen_t& length);

/// The errno of the current thread as an error, a limit named (`name_limit`).
std::error_code last_error() noexcept;

/// Names the limit behind a system error: EMFILE/ENFILE -> `errc::descriptor_limit`, ENOMEM ->
/// `errc::out_of_memory` (the arena names its own: `address_space_limit`, `map_count_limit`).
/// Other errors are returned as they are.
std::error_code name_limit(std::error_code ec) noexcept;
/// True for the errors that say this process ran out of something (fds, memory, address
/// space, mappings, jemalloc arenas).
bool is_limit(std::error_code ec) noexcept;
/// The errno a limit stands for (EMFILE, ENOMEM, EAGAIN), 0 for other errors.
int errno_of(std::error_code ec) noexcept;

/// Tells the peer why this side gives up the handshake (best effort: it may be gone).
void send_refusal(int fd, std::error_code why) noexcept;

/// Sends our hello (client) or welcome (server): version, pid and our arena's read-only fd.
std::error_code send_hello(int fd, frame_kind kind, const arena& own, timeout wait) noexcept;

/// Checks the peer's hello/welcome, refuses an arena larger than `limit`, and maps it.
std::error_code open_peer(frame& f, frame_kind expected, std::size_t limit,
                          arena_view& view) noexcept;

/// This side's session arena, sized by `options.arena_capacity` (0: the default, within
/// RLIMIT_AS).
std::unique_ptr<arena> make_arena(const session_options& options, std::error_code& ec) noexcept;

/// After a successful handshake: the session's state, handed to the reactor.
std::shared_ptr<session_core> start_core(unique_fd socket, std::unique_ptr<arena> own,
                                         arena_view peer, const ucred& cred,
                                         const session_options& options,
                                         std::error_code& ec) noexcept;

}  // namespace seam::detail
