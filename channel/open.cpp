// How a session opens and accepts channels: the transport's setup travels in the session's
// channel message (`session::offer_channel`), its first byte naming the transport.

#include <sys/socket.h>

#include <cstdint>

#include "channel/detail/socket_transport.hpp"
#include "seam/channel/channel.hpp"
#include "seam/session/session.hpp"
#include "seam/session/wire.hpp"

namespace seam {
namespace {

// The first byte of a channel's setup.
enum class setup_kind : std::uint8_t { socket = 1 };

channel open_socket(session& s, std::error_code& ec) noexcept {
  unique_fd mine, theirs;
  if ((ec = detail::make_socket_pair(mine, theirs))) return {};
  const std::byte setup[] = {std::byte{static_cast<std::uint8_t>(setup_kind::socket)}};
  const int raw = theirs.get();
  s.offer_channel(setup, {&raw, 1}, ec);
  if (ec) return {};
  try {
    return channel(std::move(mine), s.handle_checker());
  } catch (const std::bad_alloc&) {
    ec = std::make_error_code(std::errc::not_enough_memory);
  }
  return {};
}

// A socket channel's end, from the peer: it must be a seqpacket socket and nothing else.
channel accept_socket(session& s, session::channel_offer& offer, std::error_code& ec) noexcept {
  int type = 0;
  socklen_t size = sizeof type;
  if (offer.setup.size() != 1 || offer.fds.size() != 1 ||
      ::getsockopt(offer.fds[0].get(), SOL_SOCKET, SO_TYPE, &type, &size) != 0 ||
      type != SOCK_SEQPACKET) {
    ec = errc::protocol_error;
    return {};
  }
  detail::size_buffers(offer.fds[0].get());
  try {
    return channel(std::move(offer.fds[0]), s.handle_checker());
  } catch (const std::bad_alloc&) {
    ec = std::make_error_code(std::errc::not_enough_memory);
  }
  return {};
}

}  // namespace

channel session::open_channel() { return open_channel(channel_options{}); }

channel session::open_channel(const channel_options& options) {
  std::error_code ec;
  channel ch = open_channel(options, ec);
  throw_if(ec, "seam::session::open_channel");
  return ch;
}

channel session::open_channel(const channel_options& options, std::error_code& ec) noexcept {
  switch (options.transport) {
    case transport::socket:
      return open_socket(*this, ec);
    default:
      ec = std::make_error_code(std::errc::invalid_argument);
      return {};
  }
}

channel session::accept_channel(duration timeout) {
  std::error_code ec;
  channel ch = accept_channel(timeout, ec);
  throw_if(ec, "seam::session::accept_channel");
  return ch;
}

channel session::accept_channel(duration timeout, std::error_code& ec) noexcept {
  channel_offer offer;
  if (!take_channel_offer(offer, timeout, ec)) return {};
  switch (static_cast<setup_kind>(offer.setup[0])) {
    case setup_kind::socket:
      return accept_socket(*this, offer, ec);
  }
  // A transport this side does not know: the peer broke the protocol.
  ec = errc::protocol_error;
  return {};
}

}  // namespace seam
