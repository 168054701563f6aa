#pragma once
// The socket transport: one SOCK_SEQPACKET packet per message, in the session's wire format
// (`frame_kind::data`), fds as SCM_RIGHTS.

#include <memory>

#include "seam/base/unique_fd.hpp"
#include "seam/channel/transport.hpp"

namespace seam::detail {

class socket_transport final : public channel_transport {
 public:
  explicit socket_transport(unique_fd socket) noexcept : m_socket(std::move(socket)) {}

  std::error_code send(std::span<const std::span<const std::byte>> parts, std::span<const int> fds,
                       std::span<const handle<std::byte>> handles,
                       duration timeout) noexcept override;
  std::error_code receive(message& out, duration timeout) noexcept override;
  int native_handle() const noexcept override { return m_socket.get(); }
  void shutdown() noexcept override;
  std::size_t max_message_bytes() const noexcept override;

 private:
  unique_fd m_socket;
  std::unique_ptr<std::byte[]> m_buffer;  // one packet, allocated on first use
};

}  // namespace seam::detail
