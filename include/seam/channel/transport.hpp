#pragma once
/// \file
/// `seam::transport` (which one a channel uses) and `seam::channel_transport`, the interface a
/// transport implements under `seam::channel`.

#include <chrono>
#include <cstddef>
#include <span>
#include <system_error>

#include "seam/base/export.hpp"
#include "seam/base/handle.hpp"
#include "seam/channel/message.hpp"

namespace seam {

/// How a channel's messages travel.
enum class transport {
  /// A `SOCK_SEQPACKET` socket pair: one system call per message and per wake-up.
  socket,
  /// Two rings in shared memory (one per direction), with futex wake-ups.
  ring,
};

/// One end of a transport: moves messages, checks their framing, and nothing more (the
/// channel above checks handles and remembers failures). Implementations live in the channel
/// layer (`channel/`); all calls are `noexcept` and report errors as codes.
///
/// Threads: one thread may send while another receives. Private memory.
class SEAM_API channel_transport {
 public:
  /// Timeouts, in milliseconds; negative waits forever.
  using duration = std::chrono::milliseconds;

  virtual ~channel_transport() = default;

  /// Sends one message made of `parts` (concatenated), `fds` and `handles`, waiting up to
  /// `timeout` for room (negative: forever; zero: `errc::would_block`).
  virtual std::error_code send(std::span<const std::span<const std::byte>> parts,
                               std::span<const int> fds, std::span<const handle<std::byte>> handles,
                               duration timeout) noexcept = 0;
  /// Receives the next message into `out`, waiting up to `timeout`. `errc::would_block`,
  /// `errc::timed_out` and `std::errc::too_many_files_open` leave the transport usable; any
  /// other error means it is not.
  virtual std::error_code receive(message& out, duration timeout) noexcept = 0;
  /// A descriptor that polls readable when `receive` would not block.
  virtual int native_handle() const noexcept = 0;
  /// Ends the conversation: the peer's next receive fails with `errc::peer_closed`.
  virtual void shutdown() noexcept = 0;
  /// Largest message (all parts together) `send` takes.
  virtual std::size_t max_message_bytes() const noexcept = 0;
};

}  // namespace seam
