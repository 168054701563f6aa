#pragma once
/// \file
/// `seam::channel`: ordered messages of bytes, file descriptors and handles between two
/// processes, over one of several transports.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <system_error>

#include "seam/base/export.hpp"
#include "seam/base/handle.hpp"
#include "seam/base/unique_fd.hpp"
#include "seam/channel/message.hpp"
#include "seam/channel/transport.hpp"
#include "seam/session/error.hpp"

namespace seam {

/// How `session::open_channel` makes a channel.
struct channel_options {
  /// Spin without end: a waiting side never sleeps (lowest latency, one busy core per waiter).
  static constexpr std::chrono::nanoseconds spin_forever = std::chrono::nanoseconds::max();
  /// Spin as long as spinning pays (the default): see `spin`.
  static constexpr std::chrono::nanoseconds spin_adaptive = std::chrono::nanoseconds(-1);

  /// Which transport carries the messages.
  seam::transport transport = transport::socket;
  /// Ring: bytes of each direction's ring, rounded up to a power of two (4 KiB to 1 GiB). A
  /// message (16-byte header, handles, bytes) must fit: larger ones fail with
  /// `errc::message_too_large` (send a handle instead).
  std::size_t ring_bytes = std::size_t{1} << 20;
  /// Ring: how long a receiver (or a sender waiting for room) polls the shared memory before it
  /// sleeps on a futex. A futex wake-up costs the sleeper 5-70 µs on a virtual machine (the
  /// idle CPU must be woken), against well under 1 µs for a spinning side.
  /// - `spin_adaptive` (the default) spins up to 50 µs while that catches the peer's answer,
  ///   and less (down to none) while the peer answers later than that. It never spins when the
  ///   peer last sent from the waiter's own CPU: the peer needs that CPU to answer.
  /// - 0 always sleeps; `spin_forever` never does (one busy core per waiting side);
  /// - any other value spins that long, then sleeps.
  std::chrono::nanoseconds spin = spin_adaptive;
};

/// One end of a two-way channel. Made by `session::open_channel()` /
/// `session::accept_channel()` (socket or ring transport), from any connected seqpacket socket,
/// or (`channel::stream`) from a stream socket, which carries bytes only.
///
/// Limits: a message's bytes and handles together stay under the transport's
/// `message_limit()` (`max_message_bytes` for sockets), and carry at most `max_fds`
/// descriptors; larger data belongs in an arena (send a handle). Every message received is
/// input from another process: its framing is checked by the transport, and each handle by the
/// session (arena shared by the peer, inside it). A peer that sends a malformed message is
/// broken or hostile: the channel reports the error, shuts the transport down (the peer sees
/// the channel closed) and fails every later call with that error. Descriptors stay open until
/// `close()` or destruction, so an fd watched by epoll or Asio is never reused under it.
///
/// Blocking calls take a timeout; a zero timeout never blocks (`errc::would_block`), and
/// `native_handle()` can be watched with epoll or Boost.Asio for readiness. One thread may
/// send while another receives; two threads must not receive (or send) at once. Lives in
/// private memory.
class SEAM_API channel {
 public:
  /// Timeouts, in milliseconds; negative waits forever.
  using duration = std::chrono::milliseconds;
  /// Waits with no limit.
  static constexpr duration forever{-1};
  /// Default time a send may wait for a peer that does not read: after that, `errc::timed_out`.
  static constexpr duration default_send_timeout{std::chrono::seconds(10)};
  /// Largest message of the socket transport (bytes and 16-byte handles together).
  static constexpr std::size_t max_message_bytes = (std::size_t{256} << 10) - 16;
  /// Most descriptors one message carries.
  static constexpr std::size_t max_fds = 16;

  /// Checks a handle that arrived; empty means handles are not accepted at all.
  using handle_checker = std::function<std::error_code(const handle<std::byte>&)>;

  /// A closed channel.
  channel() noexcept;
  /// Takes a connected `SOCK_SEQPACKET` socket; `checker` validates received handles.
  explicit channel(unique_fd socket, handle_checker checker = {});
  /// Takes a transport; `checker` validates received handles.
  explicit channel(std::unique_ptr<channel_transport> transport, handle_checker checker = {});
  /// Over a connected stream socket (`AF_UNIX, SOCK_STREAM`, or TCP): bytes only, messages up
  /// to `max_bytes` (the receiver allocates that much for a message that says so).
  static channel stream(unique_fd socket, std::size_t max_bytes = std::size_t{1} << 33);
  /// Move constructor.
  channel(channel&&) noexcept;
  /// Move assignment.
  channel& operator=(channel&&) noexcept;
  ~channel();

  /// Sends one message. Throws `std::system_error`: `errc::peer_closed`, `errc::timed_out`,
  /// `errc::message_too_large`, `errc::too_many_fds`.
  void send(std::span<const std::byte> bytes, std::span<const int> fds = {},
            std::span<const handle<std::byte>> handles = {},
            duration timeout = default_send_timeout);
  /// As the overload above, reporting errors in `ec` instead of throwing.
  void send(std::span<const std::byte> bytes, std::span<const int> fds,
            std::span<const handle<std::byte>> handles, duration timeout,
            std::error_code& ec) noexcept;
  /// Sends one message whose bytes are `parts` one after the other (no copy to join them).
  void send_parts(std::span<const std::span<const std::byte>> parts, std::span<const int> fds,
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

  /// For epoll/Asio readiness: readable when a message (or the end) is queued.
  int native_handle() const noexcept;
  /// Largest message this channel's transport carries.
  std::size_t message_limit() const noexcept;
  /// False once closed, or once the peer left or broke the protocol.
  bool is_open() const noexcept { return m_transport && !m_failed; }
  /// Ends the conversation for `why` (e.g. the peer broke a protocol above this channel): the
  /// peer sees the channel closed, later calls fail with `why`, the descriptor stays open.
  void shutdown(std::error_code why) noexcept;
  /// Closes this end; the peer's next receive sees `errc::peer_closed`.
  void close() noexcept;

 private:
  std::unique_ptr<channel_transport> m_transport;
  std::error_code m_failed;  // why the channel is unusable (peer gone, protocol broken)
  handle_checker m_checker;
};

}  // namespace seam
