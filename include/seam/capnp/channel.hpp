#pragma once
/// \file
/// `seam::capnp::channel`: Cap'n Proto messages between two processes, by handle (zero copy)
/// or by Cap'n Proto's stream serialization (copying), with request/response correlation.

#include <chrono>
#include <cstdint>
#include <span>
#include <utility>

#include "seam/base/export.hpp"
#include "seam/base/unique_fd.hpp"
#include "seam/capnp/message.hpp"
#include "seam/channel/channel.hpp"
#include "seam/session/session.hpp"

namespace seam::capnp {

/// A request received by a server, to answer with `channel::reply`.
struct incoming_request {
  /// Identifies the request: `channel::reply` answers it.
  std::uint64_t id = 0;
  /// The request's message, read in place.
  message_reader message;
};

/// A response typed by its schema.
template <class Schema>
struct response {
  /// The response's message, read in place.
  message_reader message;
  /// The response's root as `Schema`.
  typename Schema::Reader root() { return message.root<Schema>(); }
};

/// Carries Cap'n Proto messages over a `seam::channel`, whatever its transport.
///
/// By handle (made from a session and one of its channels): `send` puts only the handle of the
/// message's segment table in the channel message and lends the message; the receiver reads the
/// segments in place, read-only, after checking the table (count, bounds, alignment: it is
/// input from another process), and releases the lend when its `message_reader` goes. A 1 GiB
/// message costs what a 100-byte one does.
///
/// By copy (made from a channel alone, e.g. `seam::channel::stream` over a stream socket, or
/// `channel::copying`): the message's words in Cap'n Proto's standard stream serialization, for
/// peers that cannot map the arena, and as a baseline. A receiver reads either form.
///
/// Request/response: `request` sends with a fresh correlation id and waits for the response
/// with that id; a late response to an earlier request (which timed out) is dropped and counted
/// in `stale_responses()`; anything else out of place is `errc::protocol_error`.
///
/// Errors: `std::system_error` with `seam::errc` codes (`timed_out`, `peer_closed`,
/// `protocol_error` for a malformed message, which also shuts the channel down, handle and
/// arena errors of the session); every call has a non-throwing overload taking
/// `std::error_code&`.
///
/// Not thread-safe: one thread uses a channel at a time. Private memory.
class SEAM_API channel {
 public:
  /// Timeouts, in milliseconds; negative waits forever.
  using duration = std::chrono::milliseconds;
  /// A timeout that never expires.
  static constexpr duration forever = seam::channel::forever;

  /// Zero copy over `ch`, a channel of `session` (which must outlive this channel).
  channel(seam::session& session, seam::channel ch, reader_options options = {});
  /// Copying over `ch`: messages travel as bytes.
  explicit channel(seam::channel ch, reader_options options = {});
  /// Copying over a connected stream socket (`AF_UNIX, SOCK_STREAM`, or TCP).
  static channel copying(unique_fd stream_socket, reader_options options = {});

  /// Move constructor.
  channel(channel&&) noexcept = default;
  /// Move assignment.
  channel& operator=(channel&&) noexcept = default;

  /// Sends a one-way message (and `fds`, zero copy only). The builder may be sent again, to
  /// this or other channels; its segments stay alive until every receiver let go.
  void send(message_builder& message, std::span<const int> fds = {},
            duration timeout = seam::channel::default_send_timeout);
  /// As `send`, reporting errors in `ec` instead of throwing (the builder is then not sent).
  void send(message_builder& message, std::span<const int> fds, duration timeout,
            std::error_code& ec) noexcept;
  /// Receives the next one-way message.
  message_reader receive_message(duration timeout = forever);
  /// As `receive_message`, reporting errors in `ec` (and returning an empty reader).
  message_reader receive_message(duration timeout, std::error_code& ec) noexcept;

  /// Sends `message` as a request and waits up to `timeout` for its response.
  message_reader request(message_builder& message, duration timeout);
  /// Sends `message` as a request and waits up to `timeout` for its response.
  template <class Schema>
  response<Schema> request(message_builder& message, duration timeout) {
    return {request(message, timeout)};
  }
  /// As `request`, reporting errors in `ec` (and returning an empty reader).
  message_reader request(message_builder& message, duration timeout,
                         std::error_code& ec) noexcept;
  /// As `request`, reporting errors in `ec` (and returning an empty response).
  template <class Schema>
  response<Schema> request(message_builder& message, duration timeout,
                           std::error_code& ec) noexcept {
    return {request(message, timeout, ec)};
  }
  /// Server side: waits for the next request.
  incoming_request receive_request(duration timeout = forever);
  /// As `receive_request`, reporting errors in `ec`.
  incoming_request receive_request(duration timeout, std::error_code& ec) noexcept;
  /// Server side: answers `to`.
  void reply(const incoming_request& to, message_builder& message,
             duration timeout = seam::channel::default_send_timeout);
  /// As `reply`, reporting errors in `ec`.
  void reply(const incoming_request& to, message_builder& message, duration timeout,
             std::error_code& ec) noexcept;

  /// Late responses dropped so far.
  std::size_t stale_responses() const noexcept { return m_stale; }
  /// True if messages travel as handles into arenas (no copy), false for the copying channel.
  bool zero_copy() const noexcept { return m_session != nullptr; }
  /// The channel's descriptor, for readiness (epoll/Asio).
  int native_handle() const noexcept { return m_channel.native_handle(); }
  /// Closes the channel now (`seam::channel::close`): its descriptors and, for a ring, its
  /// ring in the session's arena go. Every later call fails.
  void close() noexcept { m_channel.close(); }

 private:
  enum class kind : std::uint32_t { oneway = 1, request = 2, response = 3 };
  struct envelope {
    kind what;
    std::uint64_t id;
    message_reader message;
  };
  void send_as(kind what, std::uint64_t id, message_builder& message, std::span<const int> fds,
               duration timeout);
  envelope receive_any(duration timeout);

  seam::session* m_session = nullptr;  // lends the messages sent, when set
  seam::channel m_channel;
  reader_options m_options;
  std::uint64_t m_next_id = 1;
  std::size_t m_stale = 0;
};

}  // namespace seam::capnp
