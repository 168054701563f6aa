#include "seam/channel/capnp_channel.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>

#include "channel/detail/segments.hpp"
#include "seam/arena/error.hpp"
#include "session/detail/wire.hpp"

namespace seam::capnp {
namespace {

using ::capnp::word;
using clock = std::chrono::steady_clock;

// Before every message, in the seam message bytes (zero copy) or the stream (copying).
struct wire_header {
  std::uint32_t kind;
  std::uint32_t reserved;
  std::uint64_t id;
};

// Once a message has started to arrive on the stream, the rest may take this long between
// two reads before the peer is considered stuck.
constexpr std::chrono::seconds stream_stall{10};

[[noreturn]] void fail(std::error_code ec, const char* what) { throw std::system_error(ec, what); }

// Reads exactly `size` bytes; the first wait is bounded by `timeout`, later ones by the stall
// limit.
void read_exact(int fd, void* out, std::size_t size, std::chrono::milliseconds timeout) {
  auto* p = static_cast<char*>(out);
  bool first = true;
  while (size > 0) {
    const ssize_t n = ::recv(fd, p, size, MSG_DONTWAIT);
    if (n > 0) {
      p += n;
      size -= static_cast<std::size_t>(n);
      first = false;
      continue;
    }
    if (n == 0) fail(errc::peer_closed, "seam::capnp::channel::receive");
    if (errno == EINTR) continue;
    if (errno != EAGAIN) fail({errno, std::system_category()}, "seam::capnp::channel::receive");
    const std::chrono::milliseconds wait = first ? timeout : stream_stall;
    if (auto ec = seam::detail::wait_ready(fd, POLLIN, wait, clock::now() + wait)) {
      fail(ec, "seam::capnp::channel::receive");
    }
  }
}

// Writes every byte of `iov` (modified as it goes).
void write_all(int fd, std::vector<iovec>& iov, std::chrono::milliseconds timeout) {
  std::size_t at = 0;
  while (at < iov.size()) {
    msghdr msg{};
    msg.msg_iov = iov.data() + at;
    msg.msg_iovlen = std::min<std::size_t>(iov.size() - at, 1024);  // IOV_MAX
    ssize_t n = ::sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EPIPE || errno == ECONNRESET) fail(errc::peer_closed, "seam::capnp::channel::send");
      if (errno != EAGAIN) fail({errno, std::system_category()}, "seam::capnp::channel::send");
      if (auto ec = seam::detail::wait_ready(fd, POLLOUT, timeout, clock::now() + timeout)) {
        fail(ec, "seam::capnp::channel::send");
      }
      continue;
    }
    auto left = static_cast<std::size_t>(n);
    while (at < iov.size() && left >= iov[at].iov_len) left -= iov[at++].iov_len;
    if (left > 0) {
      iov[at].iov_base = static_cast<char*>(iov[at].iov_base) + left;
      iov[at].iov_len -= left;
    }
  }
}

}  // namespace

channel::channel(seam::session& session, seam::channel ch, reader_options options)
    : m_session(&session), m_channel(std::move(ch)), m_options(options) {}

channel::channel(unique_fd stream_socket, reader_options options)
    : m_stream(std::move(stream_socket)), m_options(options) {}

channel channel::copying(unique_fd stream_socket, reader_options options) {
  return channel(std::move(stream_socket), options);
}

int channel::native_handle() const noexcept {
  return m_session ? m_channel.native_handle() : m_stream.get();
}

void channel::send_as(kind what, std::uint64_t id, message_builder& message,
                      std::span<const int> fds, duration timeout) {
  const wire_header header{static_cast<std::uint32_t>(what), 0, id};
  auto segs = message.getSegmentsForOutput();
  if (!m_session) {
    if (!fds.empty()) fail(errc::too_many_fds, "seam::capnp::channel::send: copying carries no fds");
    // Cap'n Proto's stream framing: segment count - 1, each size, padded to a word.
    std::vector<std::uint32_t> table(segs.size() + 1 + (segs.size() % 2 == 0 ? 1 : 0), 0);
    table[0] = static_cast<std::uint32_t>(segs.size() - 1);
    for (std::size_t i = 0; i < segs.size(); ++i) table[i + 1] = static_cast<std::uint32_t>(segs[i].size());
    std::vector<iovec> iov;
    iov.push_back({const_cast<wire_header*>(&header), sizeof header});
    iov.push_back({table.data(), table.size() * sizeof(std::uint32_t)});
    for (const auto& s : segs) iov.push_back({const_cast<word*>(s.begin()), s.size() * sizeof(word)});
    write_all(m_stream.get(), iov, timeout);
    return;
  }
  // Zero copy: a segment table in the arena, lent to the peer with the segments behind it.
  seam::arena& a = message.arena();
  const std::size_t bytes = sizeof(detail::table_header) + segs.size() * sizeof(detail::segment_ref);
  auto* table = static_cast<std::byte*>(a.allocate(bytes, 8));
  ::new (table) detail::table_header{static_cast<std::uint32_t>(segs.size()), 0};
  auto* refs = reinterpret_cast<detail::segment_ref*>(table + sizeof(detail::table_header));
  for (std::size_t i = 0; i < segs.size(); ++i) {
    const auto* start = reinterpret_cast<const std::byte*>(segs[i].begin());
    refs[i] = {a.handle_of(start).offset, segs[i].size()};
  }
  handle<std::byte> lent;
  try {
    // The release keeps the builder's segments alive until the peer is done.
    lent = m_session->lend(table, [owner = message.m_segments, &a, table, bytes] {
      a.deallocate(table, bytes, 8);
    });
  } catch (...) {
    a.deallocate(table, bytes, 8);
    throw;
  }
  std::error_code ec;
  m_channel.send(std::as_bytes(std::span(&header, 1)), fds, {&lent, 1}, timeout, ec);
  if (ec) {
    m_session->unlend(lent);
    fail(ec, "seam::capnp::channel::send");
  }
}

channel::envelope channel::receive_any(duration timeout) {
  wire_header header{};
  std::unique_ptr<message_reader::state> state;
  if (!m_session) {
    read_exact(m_stream.get(), &header, sizeof header, timeout);
    std::uint32_t count_minus_one = 0;
    read_exact(m_stream.get(), &count_minus_one, sizeof count_minus_one, stream_stall);
    if (count_minus_one >= m_options.max_segments) {
      m_stream.reset();  // the rest of the stream cannot be trusted or skipped
      fail(errc::protocol_error, "seam::capnp::channel::receive: too many segments");
    }
    const std::size_t count = count_minus_one + 1;
    std::vector<std::uint32_t> sizes(count + (count % 2 == 0 ? 1 : 0));
    read_exact(m_stream.get(), sizes.data(), sizes.size() * sizeof(std::uint32_t), stream_stall);
    std::size_t total = 0;
    for (std::size_t i = 0; i < count; ++i) total += sizes[i];
    if (total == 0 || total > m_options.max_copy_words) {
      m_stream.reset();
      fail(errc::message_too_large, "seam::capnp::channel::receive");
    }
    state = std::make_unique<message_reader::state>();
    state->copy = kj::heapArray<word>(total);
    read_exact(m_stream.get(), state->copy.begin(), total * sizeof(word), stream_stall);
    std::size_t at = 0;
    for (std::size_t i = 0; i < count; ++i) {
      state->segment_list.push_back({state->copy.begin() + at, sizes[i]});
      at += sizes[i];
    }
    state->words = total;
    state->open(m_options);
  } else {
    seam::message m = m_channel.receive(timeout);
    if (m.bytes.size() != sizeof header || m.handles.size() != 1) {
      m_channel.shutdown(errc::protocol_error);
      fail(errc::protocol_error, "seam::capnp::channel::receive: not a Cap'n Proto message");
    }
    std::memcpy(&header, m.bytes.data(), sizeof header);
    try {
      state = detail::open_table(*m_session, m.handles[0], m_options);
    } catch (const std::system_error&) {
      m_channel.shutdown(errc::protocol_error);  // a peer that sends a bad table is broken or hostile
      throw;
    }
    state->fds = std::move(m.fds);
  }
  if (header.kind < 1 || header.kind > 3) fail(errc::protocol_error, "seam::capnp::channel::receive");
  return {static_cast<kind>(header.kind), header.id, message_reader(std::move(state))};
}

void channel::send(message_builder& message, std::span<const int> fds, duration timeout) {
  send_as(kind::oneway, 0, message, fds, timeout);
}

message_reader channel::receive_message(duration timeout) {
  envelope e = receive_any(timeout);
  if (e.what != kind::oneway) fail(errc::protocol_error, "seam::capnp::channel: expected a message");
  return std::move(e.message);
}

message_reader channel::request(message_builder& message, duration timeout) {
  const std::uint64_t id = m_next_id++;
  const auto deadline = clock::now() + timeout;
  send_as(kind::request, id, message, {}, timeout);
  for (;;) {
    const auto left = std::chrono::duration_cast<duration>(deadline - clock::now());
    if (timeout.count() >= 0 && left.count() <= 0) fail(errc::timed_out, "seam::capnp::channel::request");
    envelope e = receive_any(timeout.count() < 0 ? forever : left);
    if (e.what == kind::response && e.id == id) return std::move(e.message);
    if (e.what == kind::response && e.id < id) {
      ++m_stale;  // the answer to a request that timed out: drop it
      continue;
    }
    fail(errc::protocol_error, "seam::capnp::channel::request: unexpected message");
  }
}

incoming_request channel::receive_request(duration timeout) {
  envelope e = receive_any(timeout);
  if (e.what != kind::request) fail(errc::protocol_error, "seam::capnp::channel: expected a request");
  return {e.id, std::move(e.message)};
}

void channel::reply(const incoming_request& to, message_builder& message, duration timeout) {
  send_as(kind::response, to.id, message, {}, timeout);
}

}  // namespace seam::capnp
