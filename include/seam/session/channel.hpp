#pragma once
/// \file
/// `seam::channel`: ordered messages of bytes, file descriptors and handles between two
/// processes.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <system_error>
#include <vector>

#include "seam/arena/handle.hpp"
#include "seam/arena/unique_fd.hpp"

namespace seam {

/// A message received from a channel. Owns the descriptors that came with it.
struct message {
  std::vector<std::byte> bytes;
  std::vector<unique_fd> fds;
  /// Handles into arenas the session can read (checked: arena known, inside it).
  std::vector<handle<std::byte>> handles;

  /// The bytes as text.
  std::string_view text() const noexcept {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
};

/// One end of a two-way channel: a `SOCK_SEQPACKET` socket, so message boundaries and order
/// are kept. Made by `session::open_channel()` / `session::accept_channel()`, or from any
/// connected seqpacket socket.
///
/// Limits: a message's bytes and handles together stay under `max_message_bytes`, and carry at
/// most `max_fds` descriptors; larger data belongs in an arena (send a handle). Every message
/// received is input from another process: its framing is checked, and so is each handle
/// (arena shared by the peer, inside it). A peer that sends a malformed message is broken or
/// hostile: the channel reports the error, shuts the socket down (the peer sees the channel
/// closed) and fails every later call with that error. The descriptor itself stays open until
/// `close()` or destruction, so an fd watched by epoll or Asio is never reused under it.
///
/// Blocking calls take a timeout; a zero timeout never blocks (`errc::would_block`), and
/// `native_handle()` can be watched with epoll or Boost.Asio for readiness. One thread may
/// send while another receives; two threads must not receive (or send) at once. Lives in
/// private memory.
class channel {
 public:
  using duration = std::chrono::milliseconds;
  /// Waits with no limit.
  static constexpr duration forever{-1};
  /// Default time a send may wait for a peer that does not read: after that, `errc::timed_out`.
  static constexpr duration default_send_timeout{std::chrono::seconds(10)};
  static constexpr std::size_t max_message_bytes = (std::size_t{256} << 10) - 16;
  static constexpr std::size_t max_fds = 16;

  /// Checks a handle that arrived; empty means handles are not accepted at all.
  using handle_checker = std::function<std::error_code(const handle<std::byte>&)>;

  /// A closed channel.
  channel() noexcept = default;
  /// Takes a connected `SOCK_SEQPACKET` socket; `checker` validates received handles.
  explicit channel(unique_fd socket, handle_checker checker = {});
  channel(channel&&) noexcept = default;
  channel& operator=(channel&&) noexcept = default;
  ~channel() = default;

  /// Sends one message. Throws `std::system_error`: `errc::peer_closed`, `errc::timed_out`,
  /// `errc::message_too_large`, `errc::too_many_fds`.
  void send(std::span<const std::byte> bytes, std::span<const int> fds = {},
            std::span<const handle<std::byte>> handles = {},
            duration timeout = default_send_timeout);
  void send(std::span<const std::byte> bytes, std::span<const int> fds,
            std::span<const handle<std::byte>> handles, duration timeout,
            std::error_code& ec) noexcept;
  /// Sends text (convenience).
  void send(std::string_view text) {
    send(std::as_bytes(std::span<const char>(text.data(), text.size())));
  }

  /// Receives the next message, waiting up to `timeout`. Throws `std::system_error`.
  message receive(duration timeout = forever);
  /// As `receive`; returns false and sets `ec` on failure (`errc::would_block` with a zero
  /// timeout and nothing queued).
  bool receive(message& out, duration timeout, std::error_code& ec) noexcept;
  /// Non-blocking receive: a message if one is queued.
  std::optional<message> try_receive();

  /// The socket, for epoll/Asio readiness (readable: a message or EOF is queued).
  int native_handle() const noexcept { return m_socket.get(); }
  /// False once closed, or once the peer left or broke the protocol.
  bool is_open() const noexcept { return m_socket && !m_failed; }
  /// Ends the conversation for `why` (e.g. the peer broke a protocol above this channel): the
  /// peer sees the channel closed, later calls fail with `why`, the descriptor stays open.
  void shutdown(std::error_code why) noexcept;
  /// Closes this end; the peer's next receive sees `errc::peer_closed`.
  void close() noexcept;

 private:
  unique_fd m_socket;
  std::error_code m_failed;  // why the channel is unusable (peer gone, protocol broken)
  handle_checker m_checker;
  std::unique_ptr<std::byte[]> m_buffer;  // one packet, allocated on first receive
};

}  // namespace seam
