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

packet encode_refuse(session_errc why) {
  return {frame_kind::refuse, {}, bytes_of(static_cast<std::uint32_t>(why)), {}};
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

std::error_code decode_refuse(const frame& f) noexcept {
  std::uint32_t why = 0;
  if (f.kind == frame_kind::refuse && f.bytes.size() == sizeof why && f.fds.empty() &&
      f.handles.empty()) {
    std::memcpy(&why, f.bytes.data(), sizeof why);
  }
  // Any other answer is a refusal too: the server hung up on us.
  return why == static_cast<std::uint32_t>(errc::version_mismatch)
             ? std::error_code(errc::version_mismatch)
             : std::error_code(errc::refused);
}

std::error_code decode_control(frame& f, control& out) noexcept {
  bool valid = false;
  switch (f.kind) {
    case frame_kind::channel:
      // decode_frame does not bound the fds: what this decoder accepts, it answers for.
      valid = !f.fds.empty() && f.fds.size() <= max_fds && f.handles.empty() &&
              !f.bytes.empty() && f.bytes.size() <= max_channel_setup;
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
