// The server's side: the listening socket, the peer check, and handshakes in parallel, each with
// its own deadline, so that a slow or silent client delays no other.

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <unordered_map>
#include <vector>

#include "seam/session/error.hpp"
#include "seam/session/session.hpp"
#include "session/detail/handshake.hpp"
#include "session/detail/protocol.hpp"

namespace seam {
namespace detail {

/// The server's handshakes in progress: connections accepted whose hello has not come yet.
struct handshake_table {
  using clock = std::chrono::steady_clock;
  struct pending {
    unique_fd conn;
    ucred cred;
    clock::time_point deadline;
  };
  std::vector<pending> pending;
  std::unordered_map<uid_t, std::size_t> per_uid;
  // Closed to make room when accept4 meets EMFILE, so that the client can still be told why.
  unique_fd spare;
  std::unique_ptr<std::byte[]> buffer;
  std::error_code last_rejection;

  void drop(std::size_t i) {
    if (--per_uid[pending[i].cred.uid] == 0) per_uid.erase(pending[i].cred.uid);
    pending[i] = std::move(pending.back());
    pending.pop_back();
  }
};

}  // namespace detail

namespace {

using clock = std::chrono::steady_clock;

unique_fd open_spare() noexcept { return unique_fd{::open("/dev/null", O_RDONLY | O_CLOEXEC)}; }

}  // namespace

session_server::session_server(std::string_view app, server_options options)
    : m_options(std::move(options)), m_table(std::make_unique<detail::handshake_table>()) {
  sockaddr_un addr;
  socklen_t length;
  throw_if(detail::make_address(app, ::geteuid(), addr, length), "seam::session_server: name");
  m_listener.reset(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!m_listener) throw std::system_error(detail::last_error(), "seam::session_server: socket");
  if (::bind(m_listener.get(), reinterpret_cast<const sockaddr*>(&addr), length) != 0) {
    if (errno == EADDRINUSE) throw std::system_error(errc::server_exists, "seam::session_server");
    throw std::system_error(detail::last_error(), "seam::session_server: bind");
  }
  if (::listen(m_listener.get(), SOMAXCONN) != 0) {
    throw std::system_error(detail::last_error(), "seam::session_server: listen");
  }
  m_table->spare = open_spare();
  m_table->buffer.reset(new std::byte[detail::max_packet]);
}

session_server::session_server(session_server&&) noexcept = default;
session_server& session_server::operator=(session_server&&) noexcept = default;
session_server::~session_server() = default;

std::size_t session_server::pending() const noexcept {
  return m_table ? m_table->pending.size() : 0;
}

std::error_code session_server::last_rejection() const noexcept {
  return m_table ? m_table->last_rejection : std::error_code(errc::peer_closed);
}

session session_server::accept(duration timeout) {
  std::error_code ec;
  session s = accept(timeout, ec);
  throw_if(ec, "seam::session_server::accept");
  return s;
}

// Turns a connection away: answers why (when it can), counts it, and remembers why.
void session_server::reject(int fd, std::error_code why) noexcept {
  if (fd >= 0 && (detail::is_refusal_reason(why) || detail::is_limit(why))) {
    detail::send_refusal(fd, why);
  }
  ++m_rejected;
  m_table->last_rejection = why;
}

// A new connection from the listener: checked, bounded, then its handshake goes on with the
// others. Returns a limit this process hit, which `accept` reports.
std::error_code session_server::admit(std::vector<int>& ready) noexcept {
  auto& table = *m_table;
  unique_fd conn{::accept4(m_listener.get(), nullptr, nullptr, SOCK_CLOEXEC)};
  if (!conn) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED) {
      return errc::would_block;
    }
    const std::error_code why = detail::last_error();
    if (why == errc::descriptor_limit && table.spare) {
      // Out of descriptors: the client would wait in the backlog and the listener would stay
      // readable. Free the spare one, take the client, tell it why, and let it go.
      table.spare.reset();
      unique_fd late{::accept4(m_listener.get(), nullptr, nullptr, SOCK_CLOEXEC)};
      reject(late.get(), why);
      late.reset();
      table.spare = open_spare();
      return why;
    }
    return detail::is_limit(why) ? why : std::error_code(errc::would_block);
  }
  detail::size_buffers(conn.get());
  ucred cred{};
  socklen_t cred_size = sizeof cred;
  if (::getsockopt(conn.get(), SOL_SOCKET, SO_PEERCRED, &cred, &cred_size) != 0) return {};
  const bool same_user =
      m_options.allowed_uids.empty() && m_options.allowed_gids.empty() && cred.uid == ::geteuid();
  const bool listed = std::find(m_options.allowed_uids.begin(), m_options.allowed_uids.end(),
                                cred.uid) != m_options.allowed_uids.end() ||
                      std::find(m_options.allowed_gids.begin(), m_options.allowed_gids.end(),
                                cred.gid) != m_options.allowed_gids.end();
  if (!same_user && !listed) {
    reject(conn.get(), errc::refused);
    return {};
  }
  auto uid_count = table.per_uid.find(cred.uid);
  const std::size_t of_uid = uid_count == table.per_uid.end() ? 0 : uid_count->second;
  if (table.pending.size() >= m_options.max_pending_handshakes ||
      of_uid >= m_options.max_pending_per_uid) {
    reject(conn.get(), errc::busy);
    return {};
  }
  try {
    table.pending.push_back({std::move(conn), cred, clock::now() + m_options.handshake_timeout});
    ++table.per_uid[cred.uid];
    ready.push_back(table.pending.back().conn.get());  // its hello may be there already
  } catch (const std::bad_alloc&) {
    return errc::out_of_memory;
  }
  return {};
}

// The hello of pending handshake `i` arrived (or the client left): finishes the handshake.
// Returns the session, or an empty one with `ec` set to a limit of this process (other
// failures are the client's: rejected, and `ec` stays clear).
bool session_server::finish(std::size_t i, session& out, std::error_code& ec) noexcept {
  auto& table = *m_table;
  detail::frame f;
  std::error_code step = detail::receive_frame(
      table.pending[i].conn.get(), f, {table.buffer.get(), detail::max_packet}, detail::timeout{0});
  if (step == errc::would_block) return false;  // not yet
  unique_fd conn = std::move(table.pending[i].conn);
  const ucred cred = table.pending[i].cred;
  table.drop(i);
  arena_view peer;
  if (!step && f.kind == detail::frame_kind::refuse) {
    // The client gave up (it hit a limit of its own) and says why.
    reject(-1, detail::decode_refuse(f));
    return false;
  }
  step = detail::name_limit(step);
  if (!step)
    step = detail::open_peer(f, detail::frame_kind::hello, m_options.peer_arena_limit, peer);
  std::unique_ptr<arena> own;
  if (!step) own = detail::make_arena(m_options, step);
  if (!step) {
    step = detail::send_hello(conn.get(), detail::frame_kind::welcome, *own, detail::timeout{0});
  }
  if (step) {
    reject(conn.get(), step);
    if (detail::is_limit(step)) ec = step;
    return false;
  }
  out = session(
      detail::start_core(std::move(conn), std::move(own), std::move(peer), cred, m_options, step));
  if (step) {
    reject(-1, step);
    if (detail::is_limit(step)) ec = step;
    return false;
  }
  return true;
}

session session_server::accept(duration timeout, std::error_code& ec) noexcept {
  if (!m_table) return ec = errc::peer_closed, session{};
  auto& table = *m_table;
  const bool forever = timeout.count() < 0;
  const auto deadline = clock::now() + (forever ? duration(0) : timeout);
  std::vector<pollfd> polled;
  std::vector<int> ready;  // pending handshakes to look at, by descriptor
  ec.clear();
  for (;;) {
    // Handshakes past their deadline: the client is told, and the slot is free again.
    const auto now = clock::now();
    auto next = clock::time_point::max();
    for (std::size_t i = 0; i < table.pending.size();) {
      if (table.pending[i].deadline <= now) {
        reject(table.pending[i].conn.get(), errc::timed_out);
        table.drop(i);
        continue;
      }
      next = std::min(next, table.pending[i].deadline);
      ++i;
    }
    if (!forever && now >= deadline) return ec = errc::timed_out, session{};
    if (!forever) next = std::min(next, deadline);
    int wait_ms = -1;
    if (next != clock::time_point::max()) {
      wait_ms = static_cast<int>(std::max<std::int64_t>(
          1, std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count() + 1));
    }
    try {
      ready.reserve(table.pending.size() + 64);
      polled.assign(1, pollfd{m_listener.get(), POLLIN, 0});
      for (const auto& p : table.pending) polled.push_back({p.conn.get(), POLLIN, 0});
    } catch (const std::bad_alloc&) {
      return ec = errc::out_of_memory, session{};
    }
    const int r = ::poll(polled.data(), polled.size(), wait_ms);
    if (r < 0 && errno != EINTR) return ec = detail::last_error(), session{};
    if (r <= 0) continue;
    // Clients whose hello came: by descriptor, as `admit` and `finish` reorder the table.
    ready.clear();
    for (std::size_t i = 1; i < polled.size(); ++i) {
      if (polled[i].revents != 0) ready.push_back(polled[i].fd);
    }
    session found;
    bool got = false;
    auto finish_ready = [&] {
      for (const int raw : ready) {
        if (got || ec) break;
        auto it = std::find_if(table.pending.begin(), table.pending.end(),
                               [raw](const auto& p) { return p.conn.get() == raw; });
        if (it == table.pending.end()) continue;
        got = finish(static_cast<std::size_t>(it - table.pending.begin()), found, ec);
      }
      ready.clear();
    };
    // The pending ones first: a client that hung up frees its slot for one waiting to come in.
    finish_ready();
    if (ec) return {};
    if (got) return found;
    if (polled[0].revents & POLLIN) {
      // Take every waiting client now (up to a bound per turn), each checked and bounded.
      for (int n = 0; n < 64; ++n) {
        const std::error_code admitted = admit(ready);
        if (admitted == errc::would_block) break;
        if (admitted) return ec = admitted, session{};
      }
    }
    // New clients whose hello is there already.
    finish_ready();
    if (ec) return {};
    if (got) return found;
  }
}

}  // namespace seam
