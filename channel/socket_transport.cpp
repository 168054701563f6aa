#include "channel/detail/socket_transport.hpp"

#include <sys/socket.h>

#include <cstring>

#include "seam/channel/channel.hpp"
#include "seam/session/wire.hpp"

namespace seam::detail {

static_assert(channel::max_message_bytes + sizeof(frame_header) == max_packet);
static_assert(channel::max_fds == detail::max_fds);

std::error_code socket_transport::send(std::span<const std::span<const std::byte>> parts,
                                       std::span<const int> fds,
                                       std::span<const handle<std::byte>> handles,
                                       duration timeout) noexcept {
  if (parts.size() <= 1) {
    return send_frame(m_socket.get(), frame_kind::data, handles,
                      parts.empty() ? std::span<const std::byte>() : parts[0], fds, timeout);
  }
  // A packet is one datagram: join the parts (at most a packet's worth).
  std::size_t total = 0;
  for (const auto& p : parts) total += p.size();
  if (total > max_message_bytes()) return errc::message_too_large;
  if (!m_buffer) {
    m_buffer.reset(new (std::nothrow) std::byte[max_packet]);
    if (!m_buffer) return std::make_error_code(std::errc::not_enough_memory);
  }
  std::byte* at = m_buffer.get();
  for (const auto& p : parts) {
    if (!p.empty()) std::memcpy(at, p.data(), p.size());
    at += p.size();
  }
  return send_frame(m_socket.get(), frame_kind::data, handles, {m_buffer.get(), total}, fds,
                    timeout);
}

std::error_code socket_transport::receive(message& out, duration timeout) noexcept {
  if (!m_buffer) {
    m_buffer.reset(new (std::nothrow) std::byte[max_packet]);
    if (!m_buffer) return std::make_error_code(std::errc::not_enough_memory);
  }
  frame f;
  if (auto ec = receive_frame(m_socket.get(), f, {m_buffer.get(), max_packet}, timeout)) return ec;
  if (f.kind != frame_kind::data) return errc::protocol_error;
  try {
    out.bytes.assign(f.bytes.begin(), f.bytes.end());
  } catch (const std::bad_alloc&) {
    return std::make_error_code(std::errc::not_enough_memory);
  }
  out.fds = std::move(f.fds);
  out.handles = std::move(f.handles);
  return {};
}

void socket_transport::shutdown() noexcept {
  if (m_socket) ::shutdown(m_socket.get(), SHUT_RDWR);
}

std::size_t socket_transport::max_message_bytes() const noexcept {
  return max_packet - sizeof(frame_header);
}

}  // namespace seam::detail
