#pragma once
/// \file
/// The wire of sessions and of socket channels: one SOCK_SEQPACKET packet per message, a fixed
/// header, handles, bytes, and file descriptors as SCM_RIGHTS. Everything read here comes from
/// another process and is checked against what actually arrived before anyone uses it.
///
/// Part of the session layer's interface for the layers above (the channel layer's socket
/// transport sends its messages with it); applications have no use for it.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>
#include <vector>

#include "seam/base/export.hpp"
#include "seam/base/handle.hpp"
#include "seam/base/unique_fd.hpp"

namespace seam::detail {

/// What a packet is. Session control kinds and channel kinds share the space so that a
/// packet sent to the wrong socket is refused, not misread.
enum class frame_kind : std::uint32_t {
  hello = 0x53450001,    // client -> server: protocol version, pid, session arena fd
  welcome = 0x53450002,  // server -> client: the same, from the server
  refuse = 0x53450003,   // server -> client: why not (bytes: one std::uint32_t seam::errc)
  channel = 0x53450004,  // session: one end of a new channel (one fd)
  share = 0x53450005,    // session: another arena the peer may read (one fd)
  release = 0x53450006,  // session: handles the sender no longer borrows
  data = 0x53450007,     // channel: a user message

  // Session: publications (seam/session/published.hpp).
  subscribe = 0x53450008,    // session: read a publication (handles: its block, our slots)
  subscribed = 0x53450009,   // session: the answer to subscribe (bytes: one std::uint32_t)
  unsubscribe = 0x5345000a,  // session: no longer read a publication (handles as subscribe)

  // Session: shared writers (seam::session::share with access::read_write).
  share_writable = 0x5345000b,  // session: an arena the peer may also write (one fd, read-write)
};

struct frame_header {
  std::uint32_t kind;
  std::uint32_t handles;  // 16-byte handles right after the header
  std::uint32_t bytes;    // payload bytes after the handles
  std::uint32_t fds;      // descriptors in the control data
};
static_assert(sizeof(frame_header) == 16);

/// Largest packet: header, handles and bytes together. Also the socket buffer size asked for.
inline constexpr std::size_t max_packet = std::size_t{256} << 10;
/// Most descriptors one packet may carry.
inline constexpr std::size_t max_fds = 16;

/// A received packet, checked: `handles` and `bytes` are exactly what the header announced,
/// and `fds` holds exactly `header.fds` descriptors (all close-on-exec).
struct frame {
  frame_kind kind{};
  std::vector<handle<std::byte>> handles;
  std::vector<std::byte> bytes;
  std::vector<unique_fd> fds;
};

/// A timeout: negative waits forever, zero never waits (`errc::would_block`).
using timeout = std::chrono::milliseconds;
inline constexpr timeout forever{-1};

/// Waits until `fd` has `events`: not at all if `wait` is zero (`errc::would_block`), forever
/// if negative, else until `deadline` (`errc::timed_out`).
SEAM_API std::error_code wait_ready(int fd, short events, timeout wait,
                                    std::chrono::steady_clock::time_point deadline) noexcept;

/// Sends one packet. Waits up to `wait` for room in the peer's queue, then fails with
/// `errc::timed_out`: a peer that never reads cannot block a sender forever.
SEAM_API std::error_code send_frame(int fd, frame_kind kind,
                                    std::span<const handle<std::byte>> handles,
                                    std::span<const std::byte> bytes, std::span<const int> fds,
                                    timeout wait) noexcept;

/// Receives one packet into `out`, waiting up to `wait`. `buffer` must hold `max_packet`
/// bytes. A packet that is too large, carries too many fds, or disagrees with its header is
/// consumed, its fds are closed, and an error is returned; the socket stays usable.
SEAM_API std::error_code receive_frame(int fd, frame& out, std::span<std::byte> buffer,
                                       timeout wait) noexcept;

/// Checks one packet's bytes against its header and the number of descriptors that came with
/// it, and fills `out` (all but its fds). Pure: the fuzzers call it directly.
SEAM_API std::error_code decode_frame(std::span<const std::byte> packet, std::size_t fds,
                                      frame& out) noexcept;

/// Creates a connected pair of close-on-exec SOCK_SEQPACKET sockets with large buffers.
SEAM_API std::error_code make_socket_pair(unique_fd& a, unique_fd& b) noexcept;

/// Gives `fd` send and receive buffers large enough for `max_packet`.
SEAM_API void size_buffers(int fd) noexcept;

}  // namespace seam::detail
