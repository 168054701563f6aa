#include "session/detail/protocol.hpp"

#include <cstring>

namespace seam::detail {
namespace {

template <class T>
std::vector<std::byte> bytes_of(const T& value) {
  const auto* p = reinterpret_cast<const std::byte*>(&value);
  return {p, p + sizeof value};
}

}  // namespace

std::error_code send_packet(int fd, const packet& p, timeout wait) noexcept {
  return send_frame(fd, p.kind, p.handles, p.bytes, p.fds, wait);
}

packet encode_hello(frame_kind kind, std::uint32_t pid, std::uint64_t arena_id, int arena_fd) {
  const hello_body body{hello_magic, protocol_version, pid, arena_id};
  return {kind, {}, bytes_of(body), {arena_fd}};
}

namespace {

// A refusal's reason on the wire: a session_errc as is, an arena limit as 1000 + its value (the
// two enums overlap).
constexpr std::uint32_t arena_reason_base = 1000;

std::uint32_t wire_reason(std::error_code why) noexcept {
  if (why.category() == arena_category()) {
    return arena_reason_base + static_cast<std::uint32_t>(why.value());
  }
  if (why.category() == session_category()) return static_cast<std::uint32_t>(why.value());
  return static_cast<std::uint32_t>(errc::refused);
}

}  // namespace

bool is_refusal_reason(std::error_code ec) noexcept {
  return ec == errc::refused || ec == errc::version_mismatch || ec == errc::timed_out ||
         ec == errc::busy || ec == errc::arena_too_large || ec == errc::descriptor_limit ||
         ec == errc::out_of_memory || ec == errc::address_space_limit ||
         ec == errc::map_count_limit;
}

packet encode_refuse(std::error_code why, int error_number) {
  if (!is_refusal_reason(why)) why = errc::refused;
  const std::uint32_t body[2] = {wire_reason(why), static_cast<std::uint32_t>(error_number)};
  return {frame_kind::refuse, {}, bytes_of(body), {}};
}

packet encode_channel(std::span<const std::byte> setup, std::span<const int> fds) {
  return {frame_kind::channel, {}, {setup.begin(), setup.end()}, {fds.begin(), fds.end()}};
}

packet encode_share(int arena_fd) { return {frame_kind::share, {}, {}, {arena_fd}}; }

packet encode_share_writable(int arena_fd) {
  return {frame_kind::share_writable, {}, {}, {arena_fd}};
}

packet encode_release(std::span<const handle<std::byte>> handles) {
  return {frame_kind::release, {handles.begin(), handles.end()}, {}, {}};
}

packet encode_subscribe(handle<std::byte> block, handle<std::byte> slots, std::uint32_t count) {
  return {frame_kind::subscribe, {block, slots}, bytes_of(count), {}};
}

packet encode_subscribed(handle<std::byte> block, handle<std::byte> slots,
                         subscribe_status status) {
  return {frame_kind::subscribed, {block, slots}, bytes_of(static_cast<std::uint32_t>(status)),
          {}};
}

packet encode_unsubscribe(handle<std::byte> block, handle<std::byte> slots) {
  return {frame_kind::unsubscribe, {block, slots}, {}, {}};
}

std::error_code subscribe_error(std::uint32_t status) noexcept {
  switch (static_cast<subscribe_status>(status)) {
    case subscribe_status::ok:
      return {};
    case subscribe_status::not_published:
      return errc::not_published;
    case subscribe_status::bad_slots:
      return errc::handle_out_of_range;
    case subscribe_status::too_many:
      return errc::lend_limit;
  }
  return errc::protocol_error;
}

std::error_code decode_hello(const frame& f, frame_kind expected, hello_body& body) noexcept {
  if (f.kind != expected || f.bytes.size() != sizeof body || f.fds.size() != 1 ||
      !f.handles.empty()) {
    return errc::protocol_error;
  }
  std::memcpy(&body, f.bytes.data(), sizeof body);
  if (body.magic != hello_magic) return errc::protocol_error;
  if (body.version != protocol_version) return errc::version_mismatch;
  return {};
}

std::error_code decode_refuse(const frame& f, int* error_number) noexcept {
  std::uint32_t body[2] = {static_cast<std::uint32_t>(errc::refused), 0};
  // 4 bytes: a peer from before refusals carried an errno.
  if (f.kind == frame_kind::refuse && (f.bytes.size() == 4 || f.bytes.size() == 8) &&
      f.fds.empty() && f.handles.empty()) {
    std::memcpy(body, f.bytes.data(), f.bytes.size());
  }
  if (error_number != nullptr) {
    // An errno is a small positive number; anything else is noise from the peer.
    *error_number = body[1] < 4096 ? static_cast<int>(body[1]) : 0;
  }
  std::error_code why;
  if (body[0] >= arena_reason_base && body[0] < arena_reason_base + 100) {
    why = make_error_code(static_cast<arena_errc>(body[0] - arena_reason_base));
  } else if (body[0] < 100) {
    why = make_error_code(static_cast<session_errc>(body[0]));
  }
  // Any other answer is a refusal too: the peer hung up on us.
  return is_refusal_reason(why) ? why : std::error_code(errc::refused);
}

std::error_code decode_control(frame& f, control& out) noexcept {
  bool valid = false;
  switch (f.kind) {
    case frame_kind::channel:
      // decode_frame does not bound the fds: what this decoder accepts, it answers for.
      valid = !f.fds.empty() && f.fds.size() <= max_fds && f.handles.empty() && !f.bytes.empty() &&
              f.bytes.size() <= max_channel_setup;
      break;
    case frame_kind::share:
    case frame_kind::share_writable:
      valid = f.fds.size() == 1 && f.handles.empty() && f.bytes.empty();
      break;
    case frame_kind::release:
      valid = f.fds.empty() && f.bytes.empty() && !f.handles.empty() &&
              f.handles.size() <= max_release_handles;
      break;
    case frame_kind::subscribe:
    case frame_kind::subscribed:
      valid = f.fds.empty() && f.handles.size() == 2 && f.bytes.size() == sizeof out.value;
      break;
    case frame_kind::unsubscribe:
      valid = f.fds.empty() && f.handles.size() == 2 && f.bytes.empty();
      break;
    default:
      break;
  }
  if (!valid) return errc::protocol_error;
  std::uint32_t value = 0;
  if (f.kind == frame_kind::subscribe || f.kind == frame_kind::subscribed) {
    std::memcpy(&value, f.bytes.data(), sizeof value);
    // A reader announces at least one slot and at most what the owner is willing to scan.
    if (f.kind == frame_kind::subscribe && (value == 0 || value > max_reader_slots)) {
      return errc::protocol_error;
    }
  }
  out.value = value;
  out.kind = f.kind;
  out.fds = std::move(f.fds);
  f.fds.clear();
  // Only a channel's bytes are setup; a subscribe's are its value.
  if (f.kind == frame_kind::channel) out.setup = f.bytes;
  out.handles = f.handles;
  return {};
}

}  // namespace seam::detail
