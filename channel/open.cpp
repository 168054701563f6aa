// How a session opens and accepts channels: the transport's setup travels in the session's
// channel message (`session::offer_channel`), its first byte naming the transport.

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <utility>

#include "channel/detail/ring_transport.hpp"
#include "channel/detail/socket_transport.hpp"
#include "seam/channel/channel.hpp"
#include "seam/session/session.hpp"
#include "seam/session/wire.hpp"

namespace seam {
namespace {

// The first byte of a channel's setup.
enum class setup_kind : std::uint8_t { socket = 1, ring = 2 };

// A ring channel's setup (the opener's, in the session's channel message) and the acceptor's
// answer (on the channel's socket): where the side's block is, and its ring's size.
struct ring_setup {
  std::uint8_t kind;
  std::uint8_t reserved[7];
  std::uint64_t capacity;
  std::uint64_t spin_ns;  // the opener's spin, which the acceptor adopts (bounded)
  std::uint64_t arena_id;
  std::uint64_t offset;
};

std::span<const std::byte> bytes_of(const auto& value) {
  return std::as_bytes(std::span(&value, 1));
}

bool is_seqpacket(int fd) {
  int type = 0;
  socklen_t size = sizeof type;
  return ::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &size) == 0 && type == SOCK_SEQPACKET;
}

// Only an eventfd may be written to as one: anything else (a pipe the peer never reads) could
// block or mean something else.
bool is_eventfd(int fd) {
  char target[64];
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  const ssize_t n = ::readlink(path.c_str(), target, sizeof target);
  return n > 0 && std::string_view(target, static_cast<std::size_t>(n)) == "anon_inode:[eventfd]";
}

// This side's block, in the session's arena, lent to the peer: freed once this side and the
// peer's lend both let go (or the session ends).
std::shared_ptr<detail::ring_block> make_block(session& s, std::uint64_t capacity,
                                               handle<detail::ring_block>& lent) {
  seam::arena& a = s.arena();
  const std::size_t size = sizeof(detail::ring_block) + capacity;
  void* p = a.allocate(size, alignof(detail::ring_block), std::nothrow);
  if (p == nullptr) throw std::system_error(errc::arena_full, "seam::session::open_channel: ring");
  auto* b = ::new (p) detail::ring_block{};
  b->magic = detail::ring_block::magic_value;
  b->capacity = capacity;
  b->sender_cpu.store(-1, std::memory_order_relaxed);
  std::shared_ptr<detail::ring_block> block(
      b, [&a, size, keep = s.keep_alive()](detail::ring_block* q) {
        q->~ring_block();
        a.deallocate(q, size, alignof(detail::ring_block));
      });
  lent = s.lend_for_transport(b, [block] {});
  return block;
}

// The peer's block and the ring behind it, checked through the session (arena shared by the
// peer, inside it, aligned); its fixed fields must say what the setup said.
using borrow_function = decltype(std::declval<const session&>().borrower());
std::error_code borrow_peer_block(const borrow_function& borrow, const ring_setup& setup,
                                  borrowed<const std::byte>& out) {
  std::error_code ec;
  out = borrow({setup.arena_id, setup.offset}, sizeof(detail::ring_block) + setup.capacity,
               alignof(detail::ring_block), ec);
  if (ec) return ec;
  const auto* block = reinterpret_cast<const detail::ring_block*>(out.get());
  if (block->magic != detail::ring_block::magic_value || block->capacity != setup.capacity) {
    return errc::protocol_error;
  }
  return {};
}

bool valid_capacity(std::uint64_t c) {
  return std::has_single_bit(c) && c >= detail::min_ring_bytes && c <= detail::max_ring_bytes;
}

std::chrono::nanoseconds spin_of(std::uint64_t ns) {
  // A peer's value: bounded to a second, or forever or adaptive as it said.
  if (ns == static_cast<std::uint64_t>(channel_options::spin_forever.count())) {
    return channel_options::spin_forever;
  }
  if (ns == static_cast<std::uint64_t>(channel_options::spin_adaptive.count())) {
    return channel_options::spin_adaptive;
  }
  return std::chrono::nanoseconds(std::min<std::uint64_t>(ns, 1'000'000'000));
}

channel make_ring_channel(session& s, std::shared_ptr<detail::ring_block> own, unique_fd aux,
                          unique_fd own_event, borrowed<const std::byte> peer,
                          unique_fd peer_event, detail::ring_answer answer,
                          std::chrono::nanoseconds spin) {
  auto wake = std::make_shared<detail::ring_wake>();
  wake->own_event = std::move(own_event);
  auto watch = s.watch_close([wake] { wake->wake_all(); });
  return channel(std::make_unique<detail::ring_transport>(
                     std::move(own), std::move(wake), std::move(watch), std::move(aux),
                     std::move(peer), std::move(peer_event), std::move(answer), spin,
                     s.release_carrier()),
                 s.handle_checker());
}

// The opener does not wait for the acceptor: the channel reads its answer (the acceptor's
// block and eventfd) when it first needs the acceptor's half (see ring_transport).
channel open_ring(session& s, const channel_options& options, std::error_code& ec) {
  const std::uint64_t capacity = std::bit_ceil(std::clamp<std::uint64_t>(
      options.ring_bytes, detail::min_ring_bytes, detail::max_ring_bytes));
  unique_fd mine, theirs;
  if ((ec = detail::make_socket_pair(mine, theirs))) return {};
  unique_fd own_event{::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
  if (!own_event) return ec = {errno, std::system_category()}, channel{};
  handle<detail::ring_block> lent;
  auto own = make_block(s, capacity, lent);
  const ring_setup setup{static_cast<std::uint8_t>(setup_kind::ring),
                         {},
                         capacity,
                         static_cast<std::uint64_t>(options.spin.count()),
                         lent.arena_id,
                         lent.offset};
  const int fds[] = {theirs.get(), own_event.get()};
  s.offer_channel(bytes_of(setup), fds, ec);
  if (ec) {
    s.unlend(lent);
    return {};
  }
  theirs.reset();
  detail::ring_answer answer = [borrow = s.borrower(), kind = setup.kind, capacity](
                                   int socket, std::chrono::milliseconds timeout,
                                   borrowed<const std::byte>& block,
                                   unique_fd& event) -> std::error_code {
    std::array<std::byte, 128> buffer;
    detail::frame f;
    if (auto ec = detail::receive_frame(socket, f, buffer, timeout)) return ec;
    ring_setup theirs{};
    if (f.kind != detail::frame_kind::data || f.bytes.size() != sizeof theirs ||
        f.fds.size() != 1 || !f.handles.empty()) {
      return errc::protocol_error;
    }
    std::memcpy(&theirs, f.bytes.data(), sizeof theirs);
    if (theirs.kind != kind || theirs.capacity != capacity || !is_eventfd(f.fds[0].get())) {
      return errc::protocol_error;
    }
    if (auto ec = borrow_peer_block(borrow, theirs, block)) return ec;
    event = std::move(f.fds[0]);
    return {};
  };
  // Until the answer comes, our lend stays (until the session ends, or the peer releases it).
  return make_ring_channel(s, std::move(own), std::move(mine), std::move(own_event), {}, {},
                           std::move(answer), options.spin);
}

channel accept_ring(session& s, session::channel_offer& offer, std::error_code& ec) {
  ring_setup setup{};
  if (offer.setup.size() != sizeof setup || offer.fds.size() != 2) {
    return ec = errc::protocol_error, channel{};
  }
  std::memcpy(&setup, offer.setup.data(), sizeof setup);
  if (!valid_capacity(setup.capacity) || !is_seqpacket(offer.fds[0].get()) ||
      !is_eventfd(offer.fds[1].get())) {
    return ec = errc::protocol_error, channel{};
  }
  borrowed<const std::byte> peer;
  if ((ec = borrow_peer_block(s.borrower(), setup, peer))) return {};
  unique_fd own_event{::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
  if (!own_event) return ec = {errno, std::system_category()}, channel{};
  handle<detail::ring_block> lent;
  auto own = make_block(s, setup.capacity, lent);
  const ring_setup answer{setup.kind,    {},         setup.capacity, setup.spin_ns,
                          lent.arena_id, lent.offset};
  const int event_fd = own_event.get();
  detail::size_buffers(offer.fds[0].get());
  ec = detail::send_frame(offer.fds[0].get(), detail::frame_kind::data, {}, bytes_of(answer),
                          {&event_fd, 1}, std::chrono::seconds(10));
  if (ec == errc::peer_closed) {
    // The opener closed its end already. What it sent is still ours to read, as on a socket
    // channel; it will never take our half.
    ec.clear();
    s.unlend(lent);
  } else if (ec) {
    s.unlend(lent);
    return {};
  }
  return make_ring_channel(s, std::move(own), std::move(offer.fds[0]), std::move(own_event),
                           std::move(peer), std::move(offer.fds[1]), {}, spin_of(setup.spin_ns));
}

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

channel session::open_channel(transport t) { return open_channel(channel_options{.transport = t}); }

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
    case transport::ring:
      try {
        return open_ring(*this, options, ec);
      } catch (const std::system_error& e) {
        ec = e.code();
      } catch (const std::bad_alloc&) {
        ec = std::make_error_code(std::errc::not_enough_memory);
      }
      return {};
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
    case setup_kind::ring:
      try {
        return accept_ring(*this, offer, ec);
      } catch (const std::system_error& e) {
        ec = e.code();
      } catch (const std::bad_alloc&) {
        ec = std::make_error_code(std::errc::not_enough_memory);
      }
      return {};
  }
  // A transport this side does not know: the peer broke the protocol.
  ec = errc::protocol_error;
  return {};
}

}  // namespace seam
