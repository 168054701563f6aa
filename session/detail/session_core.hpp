#pragma once
// The shared state of one session: the socket to the peer, the arenas on both sides, and the
// lend table. The process's reactor thread (reactor.hpp) reads the peer's control messages.

#include <sys/types.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <unordered_map>
#include <vector>

#include "seam/arena/arena.hpp"
#include "seam/arena/arena_view.hpp"
#include "seam/session/session.hpp"
#include "seam/session/wire.hpp"
#include "session/detail/protocol.hpp"
#include "session/detail/reactor.hpp"

namespace seam::detail {

class session_core : public reactor_client, public std::enable_shared_from_this<session_core> {
 public:
  /// Channels the peer opened that are not accepted yet; one more is a protocol error.
  static constexpr std::size_t max_pending_channels = 256;
  /// Arenas the peer may share with us (its session arena included).
  static constexpr std::size_t max_peer_arenas = 64;

  session_core(unique_fd socket, std::unique_ptr<seam::arena> own, arena_view peer, pid_t pid,
               uid_t uid, const session_options& options);
  session_core(const session_core&) = delete;
  session_core& operator=(const session_core&) = delete;
  ~session_core();

  /// Hands the socket to the process's reactor, which reads the peer's control messages.
  void start();
  /// Closes the session and leaves the reactor: once this returns (off the reactor thread), no
  /// callback of this session runs any more.
  void stop() noexcept;
  /// Closes the session for `reason`: once; releases every lend, wakes waiters, calls on_close.
  void close(std::error_code reason) noexcept;

  bool is_open() const;
  std::error_code reason() const;
  void on_close(std::function<void(std::error_code)> callback);
  /// Adds a hook that `close` calls (at once if closed); returns its id for `unwatch_close`.
  std::uint64_t watch_close(std::function<void()> hook);
  void unwatch_close(std::uint64_t id) noexcept;
  bool wait_closed(std::chrono::milliseconds timeout) const;

  std::error_code share(seam::arena& a, access mode = access::read_only) noexcept;
  /// Takes the read-write fd of the arena `arena_id` (0: the first not taken yet) that the
  /// peer shared for writing, waiting up to `timeout` for it to arrive.
  std::error_code take_writable(std::uint64_t arena_id, std::chrono::milliseconds timeout,
                                unique_fd& out) noexcept;
  std::error_code offer_channel(std::span<const std::byte> setup,
                                std::span<const int> fds) noexcept;
  std::error_code take_channel_offer(session::channel_offer& out,
                                     std::chrono::milliseconds timeout) noexcept;
  /// `counted`: false for a transport's own memory, which `lent_count` and `max_lends` ignore.
  handle<std::byte> lend(const void* p, std::size_t size, std::function<void()> release,
                         bool counted = true);
  std::size_t lent_count() const noexcept { return m_lent.load(std::memory_order_relaxed); }
  /// The peer's arena `arena_id`, or null.
  std::shared_ptr<const arena_view> peer_view(std::uint64_t arena_id) const;
  /// Fills `out` with the peer's arenas in the order they arrived (its session arena first) and
  /// returns how many. Views are never removed: the pointers live as long as this core.
  std::size_t peer_views(std::array<const arena_view*, max_peer_arenas>& out) const noexcept;
  /// Releases one lend of `h` as if the peer had (for a lend whose send failed).
  void release_local(handle<std::byte> h);
  /// Remembers that `h` is no longer borrowed; the session thread tells the peer soon, or an
  /// awake carrier does (see `release_carrier`).
  void queue_release(handle<std::byte> h) noexcept;
  /// A release carrier woke (`+1`) or goes to sleep (`-1`: what is queued for carriers goes
  /// over the socket now).
  void carrier_awake(bool awake) noexcept;
  /// How many releases wait for carriers (a look without the lock).
  const std::atomic<std::size_t>& in_band_count() const noexcept { return m_in_band_count; }
  /// Takes up to `out.size()` releases queued for carriers.
  std::size_t take_in_band(std::span<handle<std::byte>> out) noexcept;
  /// Releases the peer sent in a carrier's message; false if one was never lent.
  bool release_in_band(std::span<const handle<std::byte>> handles) noexcept;
  /// The one check from a handle the peer sent to a pointer (see `session::resolve`).
  const void* resolve(handle<std::byte> h, std::size_t size, std::size_t alignment,
                      std::error_code& ec) const noexcept;

  /// Publications (`seam/session/published.hpp`, session/publication.cpp): what handles the
  /// subscribe and unsubscribe messages of the publication whose block is `key` (`owner`), or
  /// the subscribed answer for the reader slots `key` (not `owner`). Called from the session's
  /// thread with a message `decode_control` checked; must not block.
  using publication_handler = std::function<void(const control&)>;
  std::uint64_t add_publication_handler(handle<std::byte> key, bool owner,
                                        publication_handler handler);
  void remove_publication_handler(std::uint64_t id) noexcept;
  /// Sends a control packet to the peer (publications' messages), waiting for room: from a
  /// user's thread.
  std::error_code send_control(const packet& p) noexcept { return send(p); }
  /// Queues a control packet for the peer and sends what the socket takes now, without
  /// waiting: a reply from the reactor thread, which must never wait on one peer. A peer that
  /// lets more than `max_queued_replies` pile up (it asks and does not read) gets its session
  /// closed with `errc::protocol_error`.
  std::error_code queue_control(packet p) noexcept;
  static constexpr std::size_t max_queued_replies = 1024;

  seam::arena& arena() const noexcept { return *m_arena; }
  pid_t peer_pid() const noexcept { return m_peer_pid; }
  uid_t peer_uid() const noexcept { return m_peer_uid; }

 private:
  struct lend_entry {
    std::size_t count = 0;
    std::function<void()> release;
    bool counted = true;
  };
  struct key_hash {
    std::size_t operator()(const handle<std::byte>& h) const noexcept {
      return std::hash<std::uint64_t>()(h.arena_id ^ (h.offset * 0x9E3779B97F4A7C15ull));
    }
  };

  struct publication_entry {
    std::uint64_t id;
    handle<std::byte> key;
    bool owner;
    publication_handler handler;
  };
  void on_ready(std::uint32_t events, std::span<std::byte> buffer) noexcept override;
  void on_posted() noexcept override;
  /// Leaves the reactor; with `wait`, also waits for a callback in progress (unless on the
  /// reactor thread).
  void leave_reactor(bool wait) noexcept;
  std::error_code dispatch(frame& f);
  /// subscribe, subscribed, unsubscribe: to the handler of their key (session/publication.cpp).
  std::error_code dispatch_publication(const control& c);
  /// Under m_mutex: moves the releases queued for carriers to those the reactor sends; true if
  /// that list was empty (the reactor needs a post). Throws `bad_alloc`.
  bool spill_in_band();
  /// Has the reactor send the queued releases soon.
  void post_releases() noexcept;
  /// Under `lock` (of m_mutex): waits on m_changed until `ready()`, up to `timeout` (negative:
  /// forever; zero: one look). `errc::would_block` or `errc::timed_out` if it is not ready.
  template <class Ready>
  std::error_code wait_ready(std::unique_lock<std::mutex>& lock,
                             std::chrono::milliseconds timeout, Ready ready) {
    if (timeout.count() < 0) {
      m_changed.wait(lock, ready);
    } else if (timeout.count() == 0) {
      if (!ready()) return errc::would_block;
    } else if (!m_changed.wait_for(lock, timeout, ready)) {
      return errc::timed_out;
    }
    return {};
  }
  /// Releases one lend of each handle; false if one was never lent. `flush_caches`: this
  /// thread's caches of the lendable arenas are flushed if something was freed.
  bool release(std::span<const handle<std::byte>> handles, bool flush_caches = true);
  /// Sends the queued replies, then the queued releases, without waiting (on the reactor
  /// thread): what does not fit in the socket now waits for it to drain (EPOLLOUT), so a peer
  /// that does not read stalls only its own session.
  std::error_code flush_releases() noexcept;
  std::error_code send(const packet& p) noexcept;

  const unique_fd m_socket;
  const std::unique_ptr<seam::arena> m_arena;
  const pid_t m_peer_pid;
  const uid_t m_peer_uid;
  const session_options m_options;

  mutable std::mutex m_mutex;
  mutable std::condition_variable m_changed;
  bool m_open = true;
  bool m_closed = false;  // the close finished: lends released, on_close called
  std::error_code m_reason;
  std::function<void(std::error_code)> m_on_close;
  std::vector<std::pair<std::uint64_t, std::function<void()>>> m_close_hooks;
  std::uint64_t m_next_hook = 1;
  std::vector<std::shared_ptr<const arena_view>> m_peer_views;
  std::vector<seam::arena*> m_lendable;
  std::vector<seam::arena*> m_shared_writable;  // ours, shared for writing
  // The peer's arenas shared for writing and not attached yet: id and read-write fd.
  std::vector<std::pair<std::uint64_t, unique_fd>> m_writable;
  std::size_t m_writable_offers = 0;  // how many the peer sent (bounded like its views)
  std::unordered_map<handle<std::byte>, lend_entry, key_hash> m_lends;
  std::atomic<std::size_t> m_lent{0};
  std::deque<session::channel_offer> m_channels;  // opened by the peer, not yet accepted
  std::vector<handle<std::byte>> m_releases;      // ours to send
  // Releases for carriers (see release_carrier), since `m_in_band_since`, while carriers are
  // awake. `m_in_band_count` mirrors the size for a look without the lock.
  std::vector<handle<std::byte>> m_in_band;
  std::chrono::steady_clock::time_point m_in_band_since;
  std::atomic<std::size_t> m_in_band_count{0};
  std::size_t m_awake_carriers = 0;
  std::deque<packet> m_replies;                   // ours to send, before the releases
  std::vector<publication_entry> m_publication_handlers;
  std::uint64_t m_next_publication_handler = 1;
  std::mutex m_send_mutex;  // one packet at a time on the socket
  reactor* m_reactor = nullptr;
  std::atomic<std::uint64_t> m_reactor_id{0};  // 0: not (or no longer) in the reactor
  bool m_want_write = false;                   // reactor thread only: EPOLLOUT asked for
};

/// What ties a `borrowed<T>` to its session: tells the lender when dropped, and keeps the
/// lender's arena mapped meanwhile.
struct borrow_token {
  std::weak_ptr<session_core> core;
  handle<std::byte> lent;
  std::shared_ptr<const arena_view> view;
  ~borrow_token() {
    if (auto c = core.lock()) c->queue_release(lent);
  }
};

}  // namespace seam::detail
