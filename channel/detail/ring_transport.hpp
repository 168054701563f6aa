#pragma once
// The ring transport: messages through two shared-memory rings (one per direction, see
// ring.hpp), spin then futex wake-ups, descriptors over the channel's own socket in the order
// the ring's records name them, and an eventfd for epoll/Asio users.

#include <atomic>
#include <chrono>
#include <memory>

#include "channel/detail/ring.hpp"
#include "seam/base/unique_fd.hpp"
#include "seam/channel/transport.hpp"
#include "seam/session/session.hpp"

namespace seam::detail {

/// What the session's close hook needs, shared with it: the hook may run while the transport
/// is being destroyed, so it owns what it touches.
struct ring_wake {
  std::atomic<bool> session_closed{false};
  borrowed<const ring_block> peer;  // keeps the peer's arena mapped
  unique_fd own_event;              // our eventfd: readable for epoll users
  /// Wakes every waiter of this side (they then see `session_closed`).
  void wake_all() noexcept;
};

class ring_transport final : public channel_transport {
 public:
  /// `own`: this side's block (lent to the peer, freed when the last of the lend and this
  /// transport lets go); `wake`: the peer's block, borrowed, and our eventfd; `aux`: the
  /// channel's socket; `peer_event`: the peer's eventfd, signalled when it waits with epoll.
  ring_transport(std::shared_ptr<ring_block> own, std::shared_ptr<ring_wake> wake,
                 std::shared_ptr<void> watch, unique_fd aux, unique_fd peer_event,
                 std::chrono::nanoseconds spin) noexcept;
  ~ring_transport() override;

  std::error_code send(std::span<const std::span<const std::byte>> parts, std::span<const int> fds,
                       std::span<const handle<std::byte>> handles,
                       duration timeout) noexcept override;
  std::error_code receive(message& out, duration timeout) noexcept override;
  int native_handle() const noexcept override;
  void shutdown() noexcept override;
  std::size_t max_message_bytes() const noexcept override;

 private:
  using clock = std::chrono::steady_clock;
  // Spins, then sleeps on `word` while it holds `expected`, until `deadline_of(timeout)`.
  // Returns false once the time is up.
  bool wait_for_change(const std::uint32_t* word, std::uint32_t expected, clock::time_point start,
                       duration timeout, bool& spun) noexcept;
  std::error_code receive_fds(message& out, std::uint32_t count) noexcept;

  std::shared_ptr<ring_block> m_own;
  std::shared_ptr<ring_wake> m_wake;
  std::shared_ptr<void> m_watch;  // the session's close hook, removed with the transport
  const ring_block* m_peer;
  const std::byte* m_peer_ring;
  std::byte* m_own_ring;
  std::uint64_t m_capacity;
  unique_fd m_aux;
  unique_fd m_peer_event;
  std::chrono::nanoseconds m_spin;
  std::uint64_t m_tail = 0;                       // ours, published in m_own->tail
  std::uint64_t m_head = 0;                       // ours, published in m_own->head
  mutable std::atomic<bool> m_registered{false};  // native_handle() was asked for
  std::atomic<bool> m_shut{false};                // shut down (by either thread)
};

}  // namespace seam::detail
