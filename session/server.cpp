// Connecting: the abstract socket name, the peer check, and the handshake in which each side
// sends its session arena.

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "seam/session/error.hpp"
#include "seam/session/session.hpp"
#include "session/detail/protocol.hpp"
#include "session/detail/session_core.hpp"

namespace seam {
namespace {

using clock = std::chrono::steady_clock;

std::error_code last_error() noexcept { return {errno, std::system_category()}; }

// "@seam/<uid>/<app>": per user, so users' names never collide; abstract, so it vanishes with
// the socket.
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

std::chrono::milliseconds left_until(clock::time_point deadline) {
  return std::max(std::chrono::milliseconds(1),
                  std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()));
}

void send_refusal(int fd, session_errc why) {
  try {
    detail::send_packet(fd, detail::encode_refuse(why), std::chrono::milliseconds(100));
  } catch (const std::bad_alloc&) {
    // The client sees the connection closed instead.
  }
}

// Sends our hello/welcome: version, pid and our arena's read-only fd.
std::error_code send_hello(int fd, detail::frame_kind kind, const arena& own,
                           std::chrono::milliseconds timeout) {
  std::error_code ec;
  unique_fd shared = own.share(ec);
  if (ec) return ec;
  try {
    return detail::send_packet(
        fd,
        detail::encode_hello(kind, static_cast<std::uint32_t>(::getpid()), own.id(), shared.get()),
        timeout);
  } catch (const std::bad_alloc&) {
    return std::make_error_code(std::errc::not_enough_memory);
  }
}

// Checks the peer's hello/welcome and maps its arena.
std::error_code open_peer(detail::frame& f, detail::frame_kind expected, arena_view& view) {
  detail::hello_body body{};
  if (auto ec = detail::decode_hello(f, expected, body)) return ec;
  std::error_code ec;
  view = arena_view::open(f.fds[0].get(), ec);
  if (ec) return ec;
  if (view.id() != body.arena_id) return errc::protocol_error;
  return {};
}

std::unique_ptr<arena> make_arena(const session_options& options, const char* name,
                                  std::error_code& ec) noexcept {
  try {
    return std::make_unique<arena>(arena_options{options.arena_capacity, name});
  } catch (const std::system_error& e) {
    ec = e.code();
  } catch (...) {
    ec = std::make_error_code(std::errc::not_enough_memory);
  }
  return nullptr;
}

// After a successful handshake: the session's state and thread.
std::shared_ptr<detail::session_core> start_core(unique_fd socket, std::unique_ptr<arena> own,
                                                 arena_view peer, const ucred& cred,
                                                 const session_options& options,
                                                 std::error_code& ec) noexcept {
  try {
    auto core = std::make_shared<detail::session_core>(
        std::move(socket), std::move(own), std::move(peer), cred.pid, cred.uid, options);
    core->start();
    ec.clear();
    return core;
  } catch (const std::system_error& e) {
    ec = e.code();
  } catch (const std::bad_alloc&) {
    ec = std::make_error_code(std::errc::not_enough_memory);
  }
  return nullptr;
}

}  // namespace

session session::connect(std::string_view app, duration timeout, const session_options& options) {
  std::error_code ec;
  session s = connect(app, timeout, options, ec);
  throw_if(ec, "seam::session::connect");
  return s;
}

session session::connect(std::string_view app, duration timeout, const session_options& options,
                         std::error_code& ec) noexcept {
  const auto deadline =
      clock::now() + (timeout.count() < 0 ? std::chrono::hours(24 * 365) : timeout);
  sockaddr_un addr;
  socklen_t length;
  const uid_t uid = options.server_uid == static_cast<uid_t>(-1) ? ::geteuid() : options.server_uid;
  if ((ec = make_address(app, uid, addr, length))) return {};
  unique_fd fd{::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)};
  if (!fd) return ec = last_error(), session{};
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), length) != 0) {
    ec = errno == ECONNREFUSED || errno == ENOENT ? std::error_code(errc::no_such_server)
                                                  : last_error();
    return {};
  }
  detail::size_buffers(fd.get());
  ucred cred{};
  socklen_t cred_size = sizeof cred;
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &cred_size) != 0) {
    return ec = last_error(), session{};
  }
  auto own = make_arena(options, "seam-session", ec);
  if (!own) return {};
  // A server that refuses us may answer and hang up before our hello arrives: then the send
  // fails, but its answer is still queued for us and says why.
  const std::error_code sent =
      send_hello(fd.get(), detail::frame_kind::hello, *own, left_until(deadline));
  if (sent && sent != errc::peer_closed) return ec = sent, session{};
  std::unique_ptr<std::byte[]> buffer(new (std::nothrow) std::byte[detail::max_packet]);
  if (!buffer) return ec = std::make_error_code(std::errc::not_enough_memory), session{};
  detail::frame f;
  ec = detail::receive_frame(fd.get(), f, {buffer.get(), detail::max_packet}, left_until(deadline));
  if (ec == errc::would_block) ec = errc::timed_out;
  if (ec) return {};
  if (f.kind == detail::frame_kind::refuse) {
    ec = detail::decode_refuse(f);
    return {};
  }
  if (sent) return ec = sent, session{};
  arena_view peer;
  if ((ec = open_peer(f, detail::frame_kind::welcome, peer))) return {};
  return session(start_core(std::move(fd), std::move(own), std::move(peer), cred, options, ec));
}

session_server::session_server(std::string_view app, server_options options)
    : m_options(std::move(options)) {
  sockaddr_un addr;
  socklen_t length;
  throw_if(make_address(app, ::geteuid(), addr, length), "seam::session_server: name");
  m_listener.reset(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!m_listener) throw std::system_error(last_error(), "seam::session_server: socket");
  if (::bind(m_listener.get(), reinterpret_cast<const sockaddr*>(&addr), length) != 0) {
    if (errno == EADDRINUSE) throw std::system_error(errc::server_exists, "seam::session_server");
    throw std::system_error(last_error(), "seam::session_server: bind");
  }
  if (::listen(m_listener.get(), SOMAXCONN) != 0) {
    throw std::system_error(last_error(), "seam::session_server: listen");
  }
}

session session_server::accept(duration timeout) {
  std::error_code ec;
  session s = accept(timeout, ec);
  throw_if(ec, "seam::session_server::accept");
  return s;
}

session session_server::accept(duration timeout, std::error_code& ec) noexcept {
  const bool forever = timeout.count() < 0;
  const auto deadline = clock::now() + (forever ? duration(0) : timeout);
  std::unique_ptr<std::byte[]> buffer(new (std::nothrow) std::byte[detail::max_packet]);
  if (!buffer) return ec = std::make_error_code(std::errc::not_enough_memory), session{};
  for (;;) {
    pollfd p{m_listener.get(), POLLIN, 0};
    const int wait_ms = forever ? -1 : static_cast<int>(left_until(deadline).count());
    if (!forever && clock::now() >= deadline) return ec = errc::timed_out, session{};
    const int r = ::poll(&p, 1, wait_ms);
    if (r < 0 && errno != EINTR) return ec = last_error(), session{};
    if (r <= 0) continue;
    unique_fd conn{::accept4(m_listener.get(), nullptr, nullptr, SOCK_CLOEXEC)};
    if (!conn) {
      // Out of descriptors: the client stays queued and poll stays readable, so retrying
      // would spin. Say so instead.
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        return ec = last_error(), session{};
      }
      continue;  // the client gave up already
    }
    detail::size_buffers(conn.get());
    ucred cred{};
    socklen_t cred_size = sizeof cred;
    if (::getsockopt(conn.get(), SOL_SOCKET, SO_PEERCRED, &cred, &cred_size) != 0) continue;
    const bool same_user =
        m_options.allowed_uids.empty() && m_options.allowed_gids.empty() && cred.uid == ::geteuid();
    const bool listed = std::find(m_options.allowed_uids.begin(), m_options.allowed_uids.end(),
                                  cred.uid) != m_options.allowed_uids.end() ||
                        std::find(m_options.allowed_gids.begin(), m_options.allowed_gids.end(),
                                  cred.gid) != m_options.allowed_gids.end();
    if (!same_user && !listed) {
      send_refusal(conn.get(), errc::refused);
      ++m_rejected;
      continue;
    }
    detail::frame f;
    std::error_code step = detail::receive_frame(conn.get(), f, {buffer.get(), detail::max_packet},
                                                 m_options.handshake_timeout);
    arena_view peer;
    if (!step) step = open_peer(f, detail::frame_kind::hello, peer);
    if (step == errc::version_mismatch) send_refusal(conn.get(), errc::version_mismatch);
    std::unique_ptr<arena> own;
    if (!step) own = make_arena(m_options, "seam-session", step);
    if (!step) {
      step = send_hello(conn.get(), detail::frame_kind::welcome, *own, m_options.handshake_timeout);
    }
    if (step) {
      ++m_rejected;
      continue;
    }
    return session(
        start_core(std::move(conn), std::move(own), std::move(peer), cred, m_options, ec));
  }
}

}  // namespace seam
