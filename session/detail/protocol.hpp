#pragma once
// The session protocol's messages above the wire: the handshake body and the shape of each
// control message. Pure checks of bytes from the peer, shared by the session and the fuzzers.

#include <cstdint>
#include <cstring>
#include <system_error>

#include "seam/arena/error.hpp"
#include "session/detail/wire.hpp"

namespace seam::detail {

inline constexpr std::uint64_t hello_magic = 0x4e4f495353455353;  // "SSESSION"
inline constexpr std::uint32_t protocol_version = 1;

/// The body of hello and welcome packets (each also carries the sender's arena fd).
struct hello_body {
  std::uint64_t magic;
  std::uint32_t version;
  std::uint32_t pid;
  std::uint64_t arena_id;
};

/// Checks a hello (or welcome) and extracts its body. The fd is checked by mapping it.
inline std::error_code decode_hello(const frame& f, frame_kind expected, hello_body& body) noexcept {
  if (f.kind != expected || f.bytes.size() != sizeof body || f.fds.size() != 1 ||
      !f.handles.empty()) {
    return errc::protocol_error;
  }
  std::memcpy(&body, f.bytes.data(), sizeof body);
  if (body.magic != hello_magic) return errc::protocol_error;
  if (body.version != protocol_version) return errc::version_mismatch;
  return {};
}

/// Checks the shape of a control message on an open session: its kind, and the fds, handles
/// and bytes that kind carries. What the handles name is checked by the session.
inline std::error_code check_control(const frame& f) noexcept {
  switch (f.kind) {
    case frame_kind::channel:
    case frame_kind::share:
      return f.fds.size() == 1 && f.handles.empty() && f.bytes.empty()
                 ? std::error_code()
                 : std::error_code(errc::protocol_error);
    case frame_kind::release:
      return f.fds.empty() && f.bytes.empty() && !f.handles.empty()
                 ? std::error_code()
                 : std::error_code(errc::protocol_error);
    default:
      return errc::protocol_error;
  }
}

}  // namespace seam::detail
