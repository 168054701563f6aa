#pragma once
// The stream transport: messages of bytes over a stream socket (the copying path, and
// machines that share no memory), each prefixed with its length. No fds, no handles.

#include "seam/base/unique_fd.hpp"
#include "seam/channel/transport.hpp"

namespace seam::detail {

class stream_transport final : public channel_transport {
 public:
  stream_transport(unique_fd socket, std::size_t max_bytes) noexcept
      : m_socket(std::move(socket)), m_max_bytes(max_bytes) {}

  std::error_code send(std::span<const std::span<const std::byte>> parts, std::span<const int> fds,
                       std::span<const handle<std::byte>> handles,
                       duration timeout) noexcept override;
  std::error_code receive(message& out, duration timeout) noexcept override;
  int native_handle() const noexcept override { return m_socket.get(); }
  void shutdown() noexcept override;
  std::size_t max_message_bytes() const noexcept override { return m_max_bytes; }

 private:
  unique_fd m_socket;
  std::size_t m_max_bytes;
};

}  // namespace seam::detail
