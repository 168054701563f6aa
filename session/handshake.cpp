// The handshake's steps shared by both sides, and the client's side: `session::connect`.

#include "session/detail/handshake.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "seam/session/error.hpp"
#include "session/detail/protocol.hpp"

namespace seam {
namespace detail {

std::error_code make_address(std::string_view app, uid_t uid, sockaddr_un& addr,
                             socklen_t& length) {
  const std::string name = "seam/" + std::to_string(uid) + "/" + std::string(app);
  if (app.empty() || app.find('\0') != std::string_view::npos ||
      name.size() + 1 > sizeof addr.sun_path) {
    return std::make_error_code(std::errc::invalid_argument);
  }
  addr = {};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path + 1, name.data(), name.size());  // sun_path[0] = 0: abstract
  length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  return {};
}

std::error_code last_error() noexcept { return name_limit({errno, std::system_category()}); }

std::error_code name_limit(std::error_code ec) noexcept {
  if (ec == std::errc::too_many_files_open || ec == std::errc::too_many_files_open_in_system) {
    return errc::descriptor_limit;
  }
  // The arena's own names (address space, map count) are more precise: keep them.
  if (ec == std::errc::not_enough_memory && ec.category() != arena_category()) {
    return errc::out_of_memory;
  }
  return ec;
}

bool is_limit(std::error_code ec) noexcept {
  return ec == errc::descriptor_limit || ec == errc::out_of_memory ||
         ec == errc::address_space_limit || ec == errc::map_count_limit || ec == errc::heap_limit;
}

int errno_of(std::error_code ec) noexcept {
  if (ec == errc::descriptor_limit) return EMFILE;
  if (ec == errc::out_of_memory || ec == errc::address_space_limit || ec == errc::map_count_limit) {
    return ENOMEM;
  }
  if (ec == errc::heap_limit) return EAGAIN;
  return 0;
}

void send_refusal(int fd, std::error_code why) noexcept {
  try {
    send_packet(fd, encode_refuse(why, errno_of(why)), timeout{0});
  } catch (const std::bad_alloc&) {
    // The peer sees the connection closed instead.
  }
}

std::error_code send_hello(int fd, frame_kind kind, const arena& own, timeout wait) noexcept {
  std::error_code ec;
  unique_fd shared = own.share(ec);
  if (ec) return name_limit(ec);
  try {
    return name_limit(send_packet(
        fd, encode_hello(kind, static_cast<std::uint32_t>(::getpid()), own.id(), shared.get()),
        wait));
  } catch (const std::bad_alloc&) {
    return errc::out_of_memory;
  }
}

std::error_code open_peer(frame& f, frame_kind expected, std::size_t limit,
                          arena_view& view) noexcept {
  hello_body body{};
  if (auto ec = decode_hello(f, expected, body)) return ec;
  // Each session maps its peer's whole arena: bound what a peer can make us reserve.
  struct stat st {};
  if (::fstat(f.fds[0].get(), &st) != 0) return last_error();
  if (st.st_size < 0 || static_cast<std::size_t>(st.st_size) > limit) return errc::arena_too_large;
  std::error_code ec;
  view = arena_view::open(f.fds[0].get(), ec);
  if (ec) return name_limit(ec);
  if (view.id() != body.arena_id) return errc::protocol_error;
  return {};
}

std::unique_ptr<arena> make_arena(const session_options& options, std::error_code& ec) noexcept {
  std::size_t capacity = options.arena_capacity;
  if (capacity == 0) {
    // A sixteenth of what RLIMIT_AS leaves: the peer's arena is mapped here too, and the
    // process has other uses for its address space.
    capacity = std::min(session_options::default_arena_capacity, arena::address_space_left() / 16);
    capacity = std::max(capacity, std::size_t{8} << 20);
  }
  try {
    // One jemalloc arena per session heap: jemalloc has 4095 per process, and threads rarely
    // allocate in one session's arena at once.
    return std::make_unique<arena>(
        arena_options{.capacity = capacity, .name = "seam-session", .heap_arenas = 1});
  } catch (const std::system_error& e) {
    ec = name_limit(e.code());
  } catch (...) {
    ec = errc::out_of_memory;
  }
  return nullptr;
}

std::shared_ptr<session_core> start_core(unique_fd socket, std::unique_ptr<arena> own,
                                         arena_view peer, const ucred& cred,
                                         const session_options& options,
                                         std::error_code& ec) noexcept {
  // The peer has our arena now, and nothing here shares it again: one descriptor per session
  // (its socket) instead of two, which decides how many sessions fit under RLIMIT_NOFILE.
  own->drop_descriptor();
  try {
    auto core = std::make_shared<session_core>(std::move(socket), std::move(own), std::move(peer),
                                               cred.pid, cred.uid, options);
    core->start();
    ec.clear();
    return core;
  } catch (const std::system_error& e) {
    ec = name_limit(e.code());
  } catch (const std::bad_alloc&) {
    ec = errc::out_of_memory;
  }
  return nullptr;
}

// The errno behind the last refusal this thread's `connect` received, for the message of the
// throwing form (the error_code carries the reason only).
thread_local int t_refusal_errno = 0;

}  // namespace detail

namespace {
using clock = std::chrono::steady_clock;

std::chrono::milliseconds left_until(clock::time_point deadline) {
  return std::max(std::chrono::milliseconds(1),
                  std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()));
}
}  // namespace

session session::connect(std::string_view app, duration timeout, const session_options& options) {
  std::error_code ec;
  session s = connect(app, timeout, options, ec);
  if (ec) {
    std::string what = "seam::session::connect";
    if (detail::t_refusal_errno != 0) {
      what += std::string(": the server gave up (errno ") +
              std::to_string(detail::t_refusal_errno) + ", " +
              std::strerror(detail::t_refusal_errno) + ")";
    }
    throw std::system_error(ec, what);
  }
  return s;
}

session session::connect(std::string_view app, duration timeout, const session_options& options,
                         std::error_code& ec) noexcept {
  detail::t_refusal_errno = 0;
  const auto deadline =
      clock::now() + (timeout.count() < 0 ? std::chrono::hours(24 * 365) : timeout);
  sockaddr_un addr;
  socklen_t length;
  const uid_t uid = options.server_uid == static_cast<uid_t>(-1) ? ::geteuid() : options.server_uid;
  if ((ec = detail::make_address(app, uid, addr, length))) return {};
  unique_fd fd{::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)};
  if (!fd) return ec = detail::last_error(), session{};
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), length) != 0) {
    ec = errno == ECONNREFUSED || errno == ENOENT ? std::error_code(errc::no_such_server)
                                                  : detail::last_error();
    return {};
  }
  detail::size_buffers(fd.get());
  ucred cred{};
  socklen_t cred_size = sizeof cred;
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &cred_size) != 0) {
    return ec = detail::last_error(), session{};
  }
  // From here on, a limit this side hits is told to the server too, so that both sides name it.
  auto give_up = [&](std::error_code why) {
    if (detail::is_limit(why) || why == errc::arena_too_large) detail::send_refusal(fd.get(), why);
    ec = why;
    return session{};
  };
  auto own = detail::make_arena(options, ec);
  if (!own) return give_up(ec);
  // A server that refuses us may answer and hang up before our hello arrives: then the send
  // fails, but its answer is still queued for us and says why.
  const std::error_code sent =
      detail::send_hello(fd.get(), detail::frame_kind::hello, *own, left_until(deadline));
  if (sent && sent != errc::peer_closed) return give_up(sent);
  std::unique_ptr<std::byte[]> buffer(new (std::nothrow) std::byte[detail::max_packet]);
  if (!buffer) return give_up(errc::out_of_memory);
  detail::frame f;
  ec = detail::receive_frame(fd.get(), f, {buffer.get(), detail::max_packet}, left_until(deadline));
  if (ec == errc::would_block) ec = errc::timed_out;
  if (ec) return give_up(detail::name_limit(ec));
  if (f.kind == detail::frame_kind::refuse) {
    ec = detail::decode_refuse(f, &detail::t_refusal_errno);
    return {};
  }
  if (sent) return ec = sent, session{};
  arena_view peer;
  if ((ec = detail::open_peer(f, detail::frame_kind::welcome, options.peer_arena_limit, peer))) {
    return give_up(ec);
  }
  session s(detail::start_core(std::move(fd), std::move(own), std::move(peer), cred, options, ec));
  if (ec) return {};  // the socket went with the failed core: the server sees EOF
  return s;
}

}  // namespace seam
