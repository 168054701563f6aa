#include "channel/detail/ring_transport.hpp"

#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <thread>

#include "channel/detail/futex.hpp"
#include "seam/channel/channel.hpp"
#include "seam/session/wire.hpp"

namespace seam::detail {
namespace {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

void signal_event(int fd) noexcept {
  const std::uint64_t one = 1;
  [[maybe_unused]] ssize_t r = ::write(fd, &one, sizeof one);
}

// What is left of `timeout` (negative: forever) since `start`, never negative.
std::chrono::milliseconds left_of(std::chrono::steady_clock::time_point start,
                                  std::chrono::milliseconds timeout) noexcept {
  if (timeout.count() < 0) return timeout;
  const auto used = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  return used >= timeout ? std::chrono::milliseconds(0) : timeout - used;
}

// Rings a bell of our block: the peer sleeps on it until it changes.
void ring_bell(std::atomic<std::uint32_t>& bell) noexcept {
  bell.fetch_add(1, std::memory_order_seq_cst);
  futex_wake(futex_word(bell));
}

void drain_event(int fd) noexcept {
  std::uint64_t count;
  [[maybe_unused]] ssize_t r = ::read(fd, &count, sizeof count);
}

}  // namespace

std::error_code read_record(const std::byte* ring, std::uint64_t capacity, std::uint64_t head,
                            std::uint64_t tail, std::size_t max_fds, record_header& header,
                            message& out, std::uint64_t& used) noexcept {
  if (!check_indices(head, tail, capacity) || tail == head) return errc::protocol_error;
  if (auto ec = decode_record(ring, capacity, head, tail - head, max_fds, header)) return ec;
  try {
    out.handles.resize(header.handles);
    out.bytes.resize(header.bytes);
  } catch (const std::bad_alloc&) {
    return std::make_error_code(std::errc::not_enough_memory);
  }
  std::uint64_t at = head + sizeof header;
  if (header.handles != 0) {
    ring_read(ring, capacity, at, out.handles.data(),
              out.handles.size() * sizeof(handle<std::byte>));
    at += std::uint64_t{header.handles} * sizeof(handle<std::byte>);
  }
  if (header.bytes != 0) ring_read(ring, capacity, at, out.bytes.data(), header.bytes);
  used = record_size(header.bytes, header.handles);
  return {};
}

// Spin policy of `channel_options::spin_adaptive`: the budget doubles while spinning catches
// the peer or a sleep ends soon after, and halves (to none) while sleeps are long.
constexpr std::chrono::nanoseconds max_adaptive_spin = std::chrono::microseconds(50);
constexpr std::chrono::nanoseconds min_adaptive_spin = std::chrono::microseconds(1);
constexpr std::chrono::nanoseconds first_adaptive_spin = std::chrono::microseconds(10);

void adapt(std::chrono::nanoseconds& budget, bool caught, std::chrono::nanoseconds waited) {
  if (caught) {
    // Caught late in the spin: give the next wait more room.
    if (waited * 2 > budget) budget = std::min(budget * 2, max_adaptive_spin);
  } else if (waited <= max_adaptive_spin) {
    // The answer came soon after we slept: a longer spin would have caught it.
    budget = std::clamp(budget * 2, min_adaptive_spin, max_adaptive_spin);
  } else {
    budget = budget / 2 < min_adaptive_spin ? std::chrono::nanoseconds(0) : budget / 2;
  }
}

void ring_wake::set_peer(borrowed<const std::byte> peer) noexcept {
  std::lock_guard lock(m_mutex);
  m_peer = std::move(peer);
}

void ring_wake::wake_all() noexcept {
  session_closed.store(1, std::memory_order_seq_cst);
  if (own_event) signal_event(own_event.get());
  // A sleeper sleeps on one of the peer's bells, which the peer (gone) will not ring: wake it
  // through our read-only mapping (FUTEX_WAKE does not write). One that looked at
  // `session_closed` before our store may not be asleep yet, and would miss a single wake:
  // ring until every sleeper has left (each counted itself before it looked; both seq_cst).
  std::lock_guard lock(m_mutex);
  const auto* p = reinterpret_cast<const ring_block*>(m_peer.get());
  while (p != nullptr && sleepers.load(std::memory_order_seq_cst) != 0) {
    futex_wake(futex_word(p->data_bell));
    futex_wake(futex_word(p->room_bell));
    std::this_thread::yield();
  }
}

ring_transport::ring_transport(std::shared_ptr<ring_block> own, std::shared_ptr<ring_wake> wake,
                               std::shared_ptr<void> watch, unique_fd aux,
                               borrowed<const std::byte> peer, unique_fd peer_event,
                               ring_answer answer, std::chrono::nanoseconds spin,
                               release_carrier carrier)
    : m_own(std::move(own)),
      m_wake(std::move(wake)),
      m_watch(std::move(watch)),
      m_answer(std::move(answer)),
      m_own_ring(ring_bytes_of(m_own.get())),
      m_capacity(m_own->capacity),
      m_aux(std::move(aux)),
      m_spin(spin),
      m_carrier(std::move(carrier)),
      m_send_budget(first_adaptive_spin),
      m_receive_budget(first_adaptive_spin) {
  if (peer) adopt_peer(std::move(peer), std::move(peer_event));
}

ring_transport::~ring_transport() {
  shutdown();
  // The hook goes first, then what it touched: our block stays until the peer's lend of it is
  // released too (m_own is shared with that release).
  m_watch.reset();
}

void ring_transport::adopt_peer(borrowed<const std::byte> peer, unique_fd peer_event) noexcept {
  const auto* block = reinterpret_cast<const ring_block*>(peer.get());
  m_peer_ring = ring_bytes_of(block);
  m_peer_event = std::move(peer_event);
  m_wake->set_peer(std::move(peer));
  m_peer.store(block, std::memory_order_seq_cst);
  // What we sent before now may be waited for already: the acceptor answered before it began
  // to receive. A sender that did not see the block yet left the wake-up to us (both seq_cst:
  // it stored its tail before it looked for the block, we published the block before this).
  wake_reader(block);
}

void ring_transport::wake_reader(const ring_block* peer) noexcept {
  const std::uint32_t waiting = peer->reader_waiting.load(std::memory_order_seq_cst);
  if ((waiting & 1) != 0) ring_bell(m_own->data_bell);
  if ((waiting & 2) != 0 && m_peer_event) signal_event(m_peer_event.get());
}

const ring_block* ring_transport::peer_block(duration timeout, std::error_code& ec) noexcept {
  const auto start = clock::now();
  for (;;) {
    ec.clear();
    if (const ring_block* p = m_peer.load(std::memory_order_seq_cst)) return p;
    {
      // Held only for a look that does not block: a thread waiting for the answer waits in
      // poll, so a sender that may not wait as long is never stuck behind it.
      std::lock_guard lock(m_answer_mutex);
      if (const ring_block* p = m_peer.load(std::memory_order_seq_cst)) return p;
      if (m_answer_error) return ec = m_answer_error, nullptr;
      if (m_shut) return ec = errc::peer_closed, nullptr;
      borrowed<const std::byte> block;
      unique_fd event;
      ec = m_answer(m_aux.get(), duration(0), block, event);
      if (!ec) {
        m_answer = nullptr;
        adopt_peer(std::move(block), std::move(event));
        return m_peer.load(std::memory_order_relaxed);
      }
      if (ec != errc::would_block) {
        m_answer_error = ec;  // a bad answer (or none ever: the peer left) ends the channel
        return nullptr;
      }
    }
    const duration left = left_of(start, timeout);
    if (left.count() == 0) {
      ec = timeout.count() == 0 ? errc::would_block : errc::timed_out;
      return nullptr;
    }
    pollfd p{m_aux.get(), POLLIN, 0};
    const int ms =
        left.count() < 0 ? -1 : static_cast<int>(std::min<std::int64_t>(left.count(), INT_MAX));
    const int waited = ::poll(&p, 1, ms);
    if (waited < 0 && errno != EINTR) {
      ec = {errno, std::system_category()};
      return nullptr;
    }
  }
}

void ring_transport::shutdown() noexcept {
  if (m_shut.exchange(true)) return;
  m_own->closed.store(1, std::memory_order_seq_cst);
  // The peer sleeps on one of our bells (receiving, or waiting for room).
  ring_bell(m_own->data_bell);
  ring_bell(m_own->room_bell);
  // Also ends a wait for the acceptor's answer.
  if (m_aux) ::shutdown(m_aux.get(), SHUT_RDWR);
  if (m_peer.load(std::memory_order_seq_cst) != nullptr && m_peer_event) {
    signal_event(m_peer_event.get());
  }
  // Our own waiters (another thread of ours) and epoll users see the end too.
  m_wake->wake_all();
}

int ring_transport::native_handle() const noexcept {
  if (!m_registered.exchange(true)) {
    // From now on every send of the peer signals our eventfd, not only sleeping receives.
    m_own->reader_waiting.store(2, std::memory_order_seq_cst);
    // A message may be queued already: make the fd readable so the user looks.
    signal_event(m_wake->own_event.get());
  }
  return m_wake->own_event.get();
}

std::size_t ring_transport::max_message_bytes() const noexcept {
  return m_capacity - sizeof(record_header);
}

void ring_transport::wait_for_change(const ring_block* peer,
                                     const std::atomic<std::uint64_t>& index,
                                     std::uint64_t expected,
                                     const std::atomic<std::uint32_t>& bell,
                                     std::atomic<std::uint32_t>& flag, std::uint32_t keep,
                                     std::chrono::nanoseconds& budget,
                                     clock::time_point deadline) noexcept {
  const bool adaptive = m_spin == channel_options::spin_adaptive;
  std::chrono::nanoseconds spin = adaptive ? budget : m_spin;
  if (adaptive && spin.count() > 0) {
    // The peer last sent from this CPU: it needs the CPU we would spin on to answer.
    const int cpu = ::sched_getcpu();
    if (cpu >= 0 && cpu == peer->sender_cpu.load(std::memory_order_relaxed)) spin = {};
  }
  const bool learn = adaptive && (spin.count() > 0 || budget.count() == 0);
  const auto began = clock::now();
  if (spin.count() > 0) {
    // Spin first, unannounced: a peer that answers within the spin time costs no system call
    // on either side.
    const auto spin_end =
        spin == channel_options::spin_forever ? clock::time_point::max() : began + spin;
    for (std::uint32_t i = 1;; ++i) {
      if (index.load(std::memory_order_acquire) != expected) {
        if (learn) adapt(budget, true, clock::now() - began);
        return;
      }
      cpu_relax();
      if (i % 16 == 0) {
        const auto now = clock::now();
        if (now >= deadline || now >= spin_end) break;
        if (m_wake->closed() || peer->closed.load(std::memory_order_acquire) != 0) return;
      }
    }
  }
  // The bell's value first, then say we sleep, then look once more: the peer moves its index
  // before it reads our flag, we store the flag before we read the index (all seq_cst), so
  // either we see the move or the peer rings the bell after we read it (and the futex sees the
  // new value). A close rings the bell too; our session's end is `ring_wake::wake_all`.
  // A receiver about to sleep will not send soon: the session's releases go without us.
  if (&flag == &m_own->reader_waiting) m_carrier.set_awake(false);
  const std::uint32_t rung = bell.load(std::memory_order_seq_cst);
  flag.store(1 | keep, std::memory_order_seq_cst);
  m_wake->sleepers.fetch_add(1, std::memory_order_seq_cst);
  if (index.load(std::memory_order_seq_cst) == expected &&
      peer->closed.load(std::memory_order_seq_cst) == 0 && !m_wake->closed()) {
    futex_wait(futex_word(bell), rung, deadline == clock::time_point::max()
                                           ? std::chrono::nanoseconds(-1)
                                           : std::max(deadline - clock::now(), clock::duration{}));
  }
  m_wake->sleepers.fetch_sub(1, std::memory_order_seq_cst);
  flag.store(keep, std::memory_order_relaxed);
  if (learn) adapt(budget, false, clock::now() - began);
}

std::error_code ring_transport::wait_for_room(const ring_block* peer, std::uint64_t need,
                                              duration timeout) noexcept {
  const auto start = clock::now();
  const auto deadline = timeout.count() < 0 ? clock::time_point::max() : start + timeout;
  std::error_code ec;
  for (;;) {
    if (m_wake->closed()) return errc::peer_closed;
    if (peer == nullptr) {
      // The acceptor has not answered yet, so it has read nothing: room is what we never used.
      if (m_tail + need <= m_capacity) return {};
      if (timeout.count() == 0) return errc::would_block;
      peer = peer_block(left_of(start, timeout), ec);
      if (peer == nullptr) return ec == errc::would_block ? errc::timed_out : ec;
      continue;
    }
    if (peer->closed.load(std::memory_order_acquire)) return errc::peer_closed;
    const std::uint64_t head = peer->head.load(std::memory_order_seq_cst);
    if (!check_indices(head, m_tail, m_capacity)) return errc::protocol_error;
    m_peer_head = head;
    if (m_tail + need - head <= m_capacity) return {};
    if (timeout.count() == 0) return errc::would_block;
    if (clock::now() >= deadline) return errc::timed_out;
    wait_for_change(peer, peer->head, head, peer->room_bell, m_own->writer_waiting, 0,
                    m_send_budget, deadline);
  }
}

std::error_code ring_transport::send(std::span<const std::span<const std::byte>> parts,
                                     std::span<const int> fds,
                                     std::span<const handle<std::byte>> handles,
                                     duration timeout) noexcept {
  if (m_shut) return errc::peer_closed;
  std::uint64_t bytes = 0;
  for (const auto& p : parts) bytes += p.size();
  if (handles.size() > m_capacity || bytes > m_capacity) return errc::message_too_large;
  const std::uint64_t need = record_size(bytes, handles.size());
  if (need > m_capacity) return errc::message_too_large;

  std::error_code ec;
  const ring_block* peer = m_peer.load(std::memory_order_acquire);
  if (peer == nullptr) {
    peer = peer_block(duration(0), ec);
    if (peer == nullptr && ec != errc::would_block) return ec;
  }
  if (m_wake->closed() || (peer != nullptr && peer->closed.load(std::memory_order_acquire))) {
    return errc::peer_closed;
  }
  // Room as of the peer's head we last read: the peer's line is read only when that is short.
  if (m_tail + need - m_peer_head > m_capacity) {
    if ((ec = wait_for_room(peer, need, timeout))) return ec;
    peer = m_peer.load(std::memory_order_acquire);
  }

  // Descriptors first, on the channel's socket: they are there when the record is.
  if (!fds.empty()) {
    if ((ec = send_frame(m_aux.get(), frame_kind::data, {}, {}, fds, timeout))) return ec;
  }
  // The session's releases ride ahead of the message, in the room there is now: in the same
  // publication, so they cost the peer nothing but the reading.
  constexpr std::size_t max_carried = 64;
  const std::uint64_t spare = m_capacity - (m_tail + need - m_peer_head);
  if (m_carrier.queued() && spare >= record_size(0, 1)) {
    std::array<handle<std::byte>, max_carried> carried;
    const std::size_t room = (spare - sizeof(record_header)) / sizeof(handle<std::byte>);
    const std::size_t n = m_carrier.take({carried.data(), std::min(room, max_carried)});
    if (n != 0) {
      write_record({record_header::release_magic, 0, static_cast<std::uint32_t>(n), 0},
                   {carried.data(), n}, {});
    }
  }
  write_record({record_header::magic_value, static_cast<std::uint32_t>(bytes),
                static_cast<std::uint32_t>(handles.size()), static_cast<std::uint32_t>(fds.size())},
               handles, parts);
  if (const int cpu = ::sched_getcpu(); cpu != m_cpu) {
    m_cpu = cpu;
    m_own->sender_cpu.store(cpu, std::memory_order_relaxed);
  }
  // Wake the peer only if it said it sleeps (or watches its eventfd). Both seq_cst: our tail
  // store and our load of its flag are ordered against its flag store and its load of our
  // tail, so one of us sees the other (no fence: TSan does not model fences).
  m_own->tail.store(m_tail, std::memory_order_seq_cst);
  // Before the acceptor's answer it cannot be waiting; once it is here, whoever adopts it
  // wakes the acceptor if it waits (adopt_peer).
  if (peer == nullptr) peer = peer_block(duration(0), ec);
  if (peer != nullptr) wake_reader(peer);
  return {};
}

void ring_transport::write_record(const record_header& header,
                                  std::span<const handle<std::byte>> handles,
                                  std::span<const std::span<const std::byte>> parts) noexcept {
  std::uint64_t at = m_tail;
  ring_write(m_own_ring, m_capacity, at, &header, sizeof header);
  at += sizeof header;
  if (!handles.empty()) {
    ring_write(m_own_ring, m_capacity, at, handles.data(), handles.size_bytes());
    at += handles.size_bytes();
  }
  for (const auto& p : parts) {
    ring_write(m_own_ring, m_capacity, at, p.data(), p.size());
    at += p.size();
  }
  m_tail += record_size(header.bytes, header.handles);
}

std::error_code ring_transport::receive_fds(message& out, std::uint32_t count) noexcept {
  // The sender put them on the socket before it published the record: they are queued, or the
  // peer is broken. A short wait covers a scheduler delay, not a missing packet.
  std::array<std::byte, 64> buffer;
  frame f;
  auto ec = receive_frame(m_aux.get(), f, buffer, std::chrono::seconds(5));
  if (ec == errc::timed_out || ec == errc::would_block) return errc::protocol_error;
  if (ec) return ec;
  if (f.kind != frame_kind::data || f.fds.size() != count || !f.bytes.empty() ||
      !f.handles.empty()) {
    return errc::protocol_error;
  }
  out.fds = std::move(f.fds);
  return {};
}

std::error_code ring_transport::wait_for_data(const ring_block* peer, duration timeout) noexcept {
  clock::time_point deadline{};
  bool drained = false;
  bool waited = false;
  for (;;) {
    std::uint64_t tail = peer->tail.load(std::memory_order_acquire);
    if (tail == m_head) {
      // Empty. The peer's close (or death) ends the wait once everything it sent is read: it
      // stored its last tail before it said so, so a tail read after that is the last.
      const bool ended =
          peer->closed.load(std::memory_order_seq_cst) != 0 || m_wake->closed();
      if (!ended) {
        const bool registered = m_registered.load(std::memory_order_relaxed);
        if (registered && !drained) {
          // An epoll user: the eventfd goes quiet only while the ring is empty; look again.
          drain_event(m_wake->own_event.get());
          drained = true;
          continue;
        }
        if (timeout.count() == 0) {
          // Nothing to read, and no wait: this thread goes idle (epoll users never sleep
          // here), so the session's releases do not wait for our sends.
          m_carrier.set_awake(false);
          return errc::would_block;
        }
        if (!waited) {
          deadline = timeout.count() < 0 ? clock::time_point::max() : clock::now() + timeout;
          waited = true;
        } else if (clock::now() >= deadline) {
          return errc::timed_out;
        }
        wait_for_change(peer, peer->tail, m_head, peer->data_bell, m_own->reader_waiting,
                        registered ? 2 : 0, m_receive_budget, deadline);
        continue;
      }
      tail = peer->tail.load(std::memory_order_acquire);
      if (tail == m_head) return errc::peer_closed;
    }
    if (!check_indices(m_head, tail, m_capacity)) return errc::protocol_error;
    m_peer_tail = tail;
    return {};
  }
}

bool ring_transport::peer_has_data(const ring_block* peer) const noexcept {
  return peer->tail.load(std::memory_order_seq_cst) != m_head;
}

std::error_code ring_transport::receive(message& out, duration timeout) noexcept {
  if (m_shut) return errc::peer_closed;
  std::error_code ec;
  const ring_block* peer = m_peer.load(std::memory_order_acquire);
  if (peer == nullptr && (peer = peer_block(timeout, ec)) == nullptr) return ec;
  record_header header;
  for (;;) {
    // Records up to the peer's tail we last read are there: its line is read only when they
    // are all read.
    if (m_peer_tail == m_head) {
      if ((ec = wait_for_data(peer, timeout))) return ec;
    }
    std::uint64_t used = 0;
    if ((ec = read_record(m_peer_ring, m_capacity, m_head, m_peer_tail, channel::max_fds, header,
                          out, used))) {
      return ec;
    }
    const bool releases = header.magic == record_header::release_magic;
    // Releases of our lends that the peer's session sent ahead of a message: applied here, on
    // this thread. A handle we never lent is a broken peer.
    if (releases && !m_carrier.apply(out.handles)) return errc::protocol_error;
    out.fds.clear();
    if (header.fds != 0) {
      if ((ec = receive_fds(out, header.fds))) return ec;
    }
    m_head += used;
    m_own->head.store(m_head, std::memory_order_seq_cst);
    if (peer->writer_waiting.load(std::memory_order_seq_cst) != 0) ring_bell(m_own->room_bell);
    if (!releases) break;
  }
  // Awake: until this thread sleeps in a receive, the session's releases wait for our sends.
  m_carrier.set_awake(true);
  if (m_registered.load(std::memory_order_relaxed) && !peer_has_data(peer)) {
    // Emptied: the eventfd goes quiet, unless a message came in between (then it stays set).
    drain_event(m_wake->own_event.get());
    if (peer_has_data(peer)) signal_event(m_wake->own_event.get());
  }
  return {};
}

}  // namespace seam::detail
