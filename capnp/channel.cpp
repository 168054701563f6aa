#include "seam/capnp/channel.hpp"

#include <algorithm>
#include <cstring>
#include <new>

#include "capnp/detail/segments.hpp"
#include "seam/session/error.hpp"

namespace seam::capnp {
namespace {

using ::capnp::word;
using clock = std::chrono::steady_clock;

// First in every message's bytes: what the message is, and its correlation id.
struct wire_header {
  std::uint32_t kind;
  std::uint32_t reserved;
  std::uint64_t id;
};
static_assert(sizeof(wire_header) % sizeof(word) == 0, "the copied words stay aligned");

[[noreturn]] void fail(std::error_code ec, const char* what) { throw std::system_error(ec, what); }

std::span<const std::byte> bytes_of(const auto& value) {
  return std::as_bytes(std::span(&value, 1));
}

}  // namespace

channel::channel(seam::session& session, seam::channel ch, reader_options options)
    : m_session(&session), m_channel(std::move(ch)), m_options(options) {}

channel::channel(seam::channel ch, reader_options options)
    : m_channel(std::move(ch)), m_options(options) {}

channel channel::copying(unique_fd stream_socket, reader_options options) {
  // The stream carries the header, the segment table and the words.
  const std::size_t limit =
      sizeof(wire_header) + (options.max_segments + 2) * 4 + options.max_copy_words * sizeof(word);
  return channel(seam::channel::stream(std::move(stream_socket), limit), options);
}

void channel::send_as(kind what, std::uint64_t id, message_builder& message,
                      std::span<const int> fds, duration timeout) {
  const wire_header header{static_cast<std::uint32_t>(what), 0, id};
  auto segs = message.getSegmentsForOutput();
  std::error_code ec;
  if (m_session == nullptr) {
    // By copy: Cap'n Proto's stream framing (segment count - 1, each size, padded to a word),
    // then the words, gathered from the segments without joining them.
    std::vector<std::uint32_t> table(segs.size() + 1 + (segs.size() % 2 == 0 ? 1 : 0), 0);
    table[0] = static_cast<std::uint32_t>(segs.size() - 1);
    for (std::size_t i = 0; i < segs.size(); ++i) {
      table[i + 1] = static_cast<std::uint32_t>(segs[i].size());
    }
    std::vector<std::span<const std::byte>> parts{bytes_of(header),
                                                  std::as_bytes(std::span(table))};
    for (const auto& s : segs) parts.push_back(std::as_bytes(std::span(s.begin(), s.size())));
    m_channel.send_parts(parts, fds, {}, timeout, ec);
    if (ec) fail(ec, "seam::capnp::channel::send");
    return;
  }
  // By handle: a segment table in the arena, lent to the peer with the segments behind it.
  seam::arena& a = message.arena();
  const std::size_t bytes =
      sizeof(detail::table_header) + segs.size() * sizeof(detail::segment_ref);
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
    lent = m_session->lend(
        table, [owner = message.m_segments, &a, table, bytes] { a.deallocate(table, bytes, 8); });
  } catch (...) {
    a.deallocate(table, bytes, 8);
    throw;
  }
  m_channel.send(bytes_of(header), fds, {&lent, 1}, timeout, ec);
  if (ec) {
    m_session->unlend(lent);
    fail(ec, "seam::capnp::channel::send");
  }
}

channel::envelope channel::receive_any(duration timeout) {
  seam::message m = m_channel.receive(timeout);
  wire_header header{};
  if (m.bytes.size() < sizeof header) {
    m_channel.shutdown(errc::protocol_error);
    fail(errc::protocol_error, "seam::capnp::channel::receive: not a Cap'n Proto message");
  }
  std::memcpy(&header, m.bytes.data(), sizeof header);
  std::unique_ptr<message_reader::state> state;
  try {
    if (m.handles.size() == 1 && m.bytes.size() == sizeof header) {
      // By handle: only a channel of a session can read the peer's arena.
      if (m_session == nullptr) fail(errc::unknown_arena, "seam::capnp::channel::receive");
      state = detail::open_table(*m_session, m.handles[0], m_options);
    } else if (m.handles.empty()) {
      state = std::make_unique<message_reader::state>();
      state->copy = std::move(m.bytes);
      const std::span<const std::byte> body{state->copy.data() + sizeof header,
                                            state->copy.size() - sizeof header};
      throw_if(detail::decode_copy(body, m_options, *state), "seam::capnp::channel::receive");
      state->open(m_options);
    } else {
      fail(errc::protocol_error, "seam::capnp::channel::receive: not a Cap'n Proto message");
    }
  } catch (const std::system_error&) {
    m_channel.shutdown(errc::protocol_error);  // a peer that sends a bad message is broken
    throw;
  }
  state->fds = std::move(m.fds);
  if (header.kind < 1 || header.kind > 3)
    fail(errc::protocol_error, "seam::capnp::channel::receive");
  return {static_cast<kind>(header.kind), header.id, message_reader(std::move(state))};
}

void channel::send(message_builder& message, std::span<const int> fds, duration timeout) {
  send_as(kind::oneway, 0, message, fds, timeout);
}

message_reader channel::receive_message(duration timeout) {
  envelope e = receive_any(timeout);
  if (e.what != kind::oneway)
    fail(errc::protocol_error, "seam::capnp::channel: expected a message");
  return std::move(e.message);
}

message_reader channel::request(message_builder& message, duration timeout) {
  const std::uint64_t id = m_next_id++;
  const auto deadline = clock::now() + timeout;
  send_as(kind::request, id, message, {}, timeout);
  for (;;) {
    const auto left = std::chrono::duration_cast<duration>(deadline - clock::now());
    if (timeout.count() >= 0 && left.count() <= 0)
      fail(errc::timed_out, "seam::capnp::channel::request");
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
  if (e.what != kind::request)
    fail(errc::protocol_error, "seam::capnp::channel: expected a request");
  return {e.id, std::move(e.message)};
}

void channel::reply(const incoming_request& to, message_builder& message, duration timeout) {
  send_as(kind::response, to.id, message, {}, timeout);
}

void channel::send(message_builder& message, std::span<const int> fds, duration timeout,
                   std::error_code& ec) noexcept {
  capture_error(ec, [&] { send(message, fds, timeout); });
}

message_reader channel::receive_message(duration timeout, std::error_code& ec) noexcept {
  return capture_error(ec, [&] { return receive_message(timeout); });
}

message_reader channel::request(message_builder& message, duration timeout,
                                std::error_code& ec) noexcept {
  return capture_error(ec, [&] { return request(message, timeout); });
}

incoming_request channel::receive_request(duration timeout, std::error_code& ec) noexcept {
  return capture_error(ec, [&] { return receive_request(timeout); });
}

void channel::reply(const incoming_request& to, message_builder& message, duration timeout,
                    std::error_code& ec) noexcept {
  capture_error(ec, [&] { reply(to, message, timeout); });
}

}  // namespace seam::capnp
