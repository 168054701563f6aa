#pragma once
// The ring transport: messages through two shared-memory rings (one per direction, see
// ring.hpp), spin then futex wake-ups, descriptors over the channel's own socket in the order
// the ring's records name them, and an eventfd for epoll/Asio users.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>

#include "channel/detail/ring.hpp"
#include "seam/base/unique_fd.hpp"
#include "seam/channel/transport.hpp"
#include "seam/session/session.hpp"

namespace seam::detail {

/// What the session's close hook needs, shared with it: the hook may run while the transport
/// is being destroyed, so it owns what it touches.
struct ring_wake {
  /// 1 once the session closed (the peer is gone).
  std::atomic<std::uint32_t> session_closed{0};
  /// Threads of this side between their last look at `session_closed` and the end of their
  /// sleep on one of the peer's bells: `wake_all` rings until there are none.
  std::atomic<std::uint32_t> sleepers{0};
  unique_fd own_event;  // our eventfd: readable for epoll users
  bool closed() const noexcept { return session_closed.load(std::memory_order_acquire) != 0; }
  /// Keeps the peer's block mapped, from when the peer's answer arrived.
  void set_peer(borrowed<const std::byte> peer) noexcept;
  /// Wakes every waiter of this side (they then see `session_closed`).
  void wake_all() noexcept;

 private:
  std::mutex m_mutex;  // the hook runs on the session's thread, `set_peer` on a user's
  borrowed<const std::byte> m_peer;
};

/// The end of the channel's setup that an opener waits for: reads the acceptor's answer from
/// the channel's socket (waiting up to the timeout) and gives the acceptor's block, checked,
/// and its eventfd. `errc::would_block` (timeout 0) or `errc::timed_out` while it is not there.
using ring_answer =
    std::function<std::error_code(int socket, std::chrono::milliseconds timeout,
                                  borrowed<const std::byte>& block, unique_fd& event)>;

class ring_transport final : public channel_transport {
 public:
  /// `own`: this side's block (lent to the peer, freed when the last of the lend and this
  /// transport lets go); `wake`: our eventfd, and the peer's block once known; `aux`: the
  /// channel's socket. The acceptor knows the peer's block and eventfd (`peer`, `peer_event`:
  /// signalled when the peer waits with epoll); the opener passes empty ones and `answer`,
  /// and learns them when the acceptor's answer arrives: it may send before that (the ring
  /// is empty), so that `open_channel` need not wait for the peer to accept, as with a socket.
  ring_transport(std::shared_ptr<ring_block> own, std::shared_ptr<ring_wake> wake,
                 std::shared_ptr<void> watch, unique_fd aux, borrowed<const std::byte> peer,
                 unique_fd peer_event, ring_answer answer, std::chrono::nanoseconds spin,
                 release_carrier carrier);
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
  // Waits once, until the peer moves `index` away from `expected` (or either side closes, or
  // `deadline`): spins for the spin time, then says so in `flag` (`1 | keep`: the peer then
  // rings `bell`) and sleeps on `bell`. The caller looks again, whatever woke it.
  void wait_for_change(const ring_block* peer, const std::atomic<std::uint64_t>& index,
                       std::uint64_t expected, const std::atomic<std::uint32_t>& bell,
                       std::atomic<std::uint32_t>& flag, std::uint32_t keep,
                       std::chrono::nanoseconds& budget, clock::time_point deadline) noexcept;
  // Until the peer published more than we read (m_peer_tail > m_head) or the channel ends.
  std::error_code wait_for_data(const ring_block* peer, duration timeout) noexcept;
  // Until the ring has room for `need` bytes (m_tail + need - m_peer_head <= m_capacity).
  std::error_code wait_for_room(const ring_block* peer, std::uint64_t need,
                                duration timeout) noexcept;
  std::error_code receive_fds(message& out, std::uint32_t count) noexcept;
  // Writes a record at m_tail (not yet published) and moves m_tail past it.
  void write_record(const record_header& header, std::span<const handle<std::byte>> handles,
                    std::span<const std::span<const std::byte>> parts) noexcept;
  // The peer's block, waiting up to `timeout` for the acceptor's answer if it is not known yet;
  // null with `ec` set if it is not there.
  const ring_block* peer_block(duration timeout, std::error_code& ec) noexcept;
  void adopt_peer(borrowed<const std::byte> peer, unique_fd peer_event) noexcept;
  // Wakes the peer's receiver if it said it sleeps (and its eventfd if it watches one), after
  // our tail moved.
  void wake_reader(const ring_block* peer) noexcept;
  // True if a message may be waiting (for an epoll user's eventfd): the peer's tail is ahead.
  bool peer_has_data(const ring_block* peer) const noexcept;

  std::shared_ptr<ring_block> m_own;
  std::shared_ptr<ring_wake> m_wake;
  std::shared_ptr<void> m_watch;  // the session's close hook, removed with the transport
  // Set once, by whichever thread sees the acceptor's answer first (under m_answer_mutex).
  std::atomic<const ring_block*> m_peer{nullptr};
  const std::byte* m_peer_ring = nullptr;
  std::mutex m_answer_mutex;
  ring_answer m_answer;            // until the answer came (opener only)
  std::error_code m_answer_error;  // the answer was bad: the channel is broken
  std::byte* m_own_ring;
  std::uint64_t m_capacity;
  unique_fd m_aux;
  unique_fd m_peer_event;
  std::chrono::nanoseconds m_spin;
  // Releases of the session ride in this channel's records (release_carrier). Its send side
  // (`take`) is the sending thread's, its awake state the receiving thread's; destroyed with
  // the transport, it sends what waited for our sends over the session.
  release_carrier m_carrier;
  // Sending side (one thread at a time).
  std::uint64_t m_tail = 0;       // ours, published in m_own->tail
  std::uint64_t m_peer_head = 0;  // the peer's head when we last looked: room is known
  std::int32_t m_cpu = -1;        // published in m_own->sender_cpu
  std::chrono::nanoseconds m_send_budget;  // adaptive spin waiting for room
  // Receiving side (one thread at a time).
  std::uint64_t m_head = 0;       // ours, published in m_own->head
  std::uint64_t m_peer_tail = 0;  // the peer's tail when we last looked: records to read
  std::chrono::nanoseconds m_receive_budget;  // adaptive spin waiting for data
  mutable std::atomic<bool> m_registered{false};  // native_handle() was asked for
  std::atomic<bool> m_shut{false};                // shut down (by either thread)
};

}  // namespace seam::detail
