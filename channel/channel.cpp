#include "seam/channel/channel.hpp"

#include "channel/detail/socket_transport.hpp"
#include "channel/detail/stream_transport.hpp"

namespace seam {

channel::channel() noexcept = default;
channel::channel(channel&&) noexcept = default;
channel& channel::operator=(channel&&) noexcept = default;
channel::~channel() = default;

channel::channel(unique_fd socket, handle_checker checker)
    : channel(std::make_unique<detail::socket_transport>(std::move(socket)), std::move(checker)) {}

channel::channel(std::unique_ptr<channel_transport> transport, handle_checker checker)
    : m_transport(std::move(transport)), m_checker(std::move(checker)) {}

channel channel::stream(unique_fd socket, std::size_t max_bytes) {
  return channel(std::make_unique<detail::stream_transport>(std::move(socket), max_bytes));
}

void channel::send(std::span<const std::byte> bytes, std::span<const int> fds,
                   std::span<const handle<std::byte>> handles, duration timeout) {
  std::error_code ec;
  send(bytes, fds, handles, timeout, ec);
  throw_if(ec, "seam::channel::send");
}

void channel::send(std::span<const std::byte> bytes, std::span<const int> fds,
                   std::span<const handle<std::byte>> handles, duration timeout,
                   std::error_code& ec) noexcept {
  send_parts({&bytes, 1}, fds, handles, timeout, ec);
}

void channel::send_parts(std::span<const std::span<const std::byte>> parts,
                         std::span<const int> fds, std::span<const handle<std::byte>> handles,
                         duration timeout, std::error_code& ec) noexcept {
  if (!m_transport || m_failed) {
    ec = m_failed ? m_failed : std::error_code(errc::peer_closed);
    return;
  }
  if (fds.size() > max_fds) {
    ec = errc::too_many_fds;
    return;
  }
  ec = m_transport->send(parts, fds, handles, timeout);
}

message channel::receive(duration timeout) {
  message m;
  std::error_code ec;
  receive(m, timeout, ec);
  throw_if(ec, "seam::channel::receive");
  return m;
}

bool channel::receive(message& out, duration timeout, std::error_code& ec) noexcept {
  if (!m_transport || m_failed) {
    ec = m_failed ? m_failed : std::error_code(errc::peer_closed);
    return false;
  }
  ec = m_transport->receive(out, timeout);
  // Every handle is checked here, once, by the session that knows the peer's arenas: the
  // message either arrives with all its handles valid or not at all.
  if (!ec && !out.handles.empty()) {
    if (!m_checker) ec = errc::unknown_arena;
    for (const auto& h : out.handles) {
      if (ec) break;
      ec = m_checker(h);
    }
  }
  if (ec) {
    out.fds.clear();
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
  return true;
}

std::optional<message> channel::try_receive() {
  message m;
  std::error_code ec;
  if (receive(m, duration{0}, ec)) return m;
  if (ec == errc::would_block) return std::nullopt;
  throw std::system_error(ec, "seam::channel::try_receive");
}

int channel::native_handle() const noexcept {
  return m_transport ? m_transport->native_handle() : -1;
}

std::size_t channel::message_limit() const noexcept {
  return m_transport ? m_transport->max_message_bytes() : 0;
}

void channel::shutdown(std::error_code why) noexcept {
  if (!m_failed) m_failed = why;
  if (m_transport) m_transport->shutdown();
}

void channel::close() noexcept {
  m_transport.reset();
  m_failed.clear();
}

}  // namespace seam
