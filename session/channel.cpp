#include "seam/session/channel.hpp"

#include <sys/socket.h>

#include "seam/arena/error.hpp"
#include "session/detail/wire.hpp"

namespace seam {

static_assert(channel::max_message_bytes + sizeof(detail::frame_header) == detail::max_packet);
static_assert(channel::max_fds == detail::max_fds);

channel::channel(unique_fd socket, handle_checker checker)
    : m_socket(std::move(socket)), m_checker(std::move(checker)) {}

void channel::send(std::span<const std::byte> bytes, std::span<const int> fds,
                   std::span<const handle<std::byte>> handles, duration timeout) {
  std::error_code ec;
  send(bytes, fds, handles, timeout, ec);
  throw_if(ec, "seam::channel::send");
}

void channel::send(std::span<const std::byte> bytes, std::span<const int> fds,
                   std::span<const handle<std::byte>> handles, duration timeout,
                   std::error_code& ec) noexcept {
  if (!m_socket || m_failed) {
    ec = m_failed ? m_failed : std::error_code(errc::peer_closed);
    return;
  }
  ec = detail::send_frame(m_socket.get(), detail::frame_kind::data, handles, bytes, fds, timeout);
}

message channel::receive(duration timeout) {
  message m;
  std::error_code ec;
  receive(m, timeout, ec);
  throw_if(ec, "seam::channel::receive");
  return m;
}

bool channel::receive(message& out, duration timeout, std::error_code& ec) noexcept {
  if (!m_socket || m_failed) {
    ec = m_failed ? m_failed : std::error_code(errc::peer_closed);
    return false;
  }
  if (!m_buffer) {
    m_buffer.reset(new (std::nothrow) std::byte[detail::max_packet]);
    if (!m_buffer) {
      ec = std::make_error_code(std::errc::not_enough_memory);
      return false;
    }
  }
  detail::frame f;
  ec = detail::receive_frame(m_socket.get(), f, {m_buffer.get(), detail::max_packet}, timeout);
  if (!ec && f.kind != detail::frame_kind::data) ec = errc::protocol_error;
  if (!ec && !f.handles.empty()) {
    if (!m_checker) ec = errc::unknown_arena;
    for (const auto& h : f.handles) {
      if (ec) break;
      ec = m_checker(h);
    }
  }
  if (ec) {
    // The peer is gone, or broke the protocol: nothing more will make sense on this channel.
    // Timeouts and our own lack of descriptors leave it open.
    // Compared as error codes (category address and value), not as conditions: no virtual
    // call, which matters when the process is out of descriptors and a sanitizer checks it.
    if (ec != errc::would_block && ec != errc::timed_out &&
        ec != std::make_error_code(std::errc::too_many_files_open)) {
      shutdown(ec);
    }
    return false;
  }
  out.bytes = std::move(f.bytes);
  out.fds = std::move(f.fds);
  out.handles = std::move(f.handles);
  return true;
}

std::optional<message> channel::try_receive() {
  message m;
  std::error_code ec;
  if (receive(m, duration{0}, ec)) return m;
  if (ec == errc::would_block) return std::nullopt;
  throw std::system_error(ec, "seam::channel::try_receive");
}

void channel::shutdown(std::error_code why) noexcept {
  if (!m_failed) m_failed = why;
  if (m_socket) ::shutdown(m_socket.get(), SHUT_RDWR);
}

void channel::close() noexcept {
  m_socket.reset();
  m_failed.clear();
}

}  // namespace seam
