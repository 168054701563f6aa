#include "channel/detail/ring_transport.hpp"

#include <poll.h>
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

void ring_wake::set_peer(borrowed<const std::byte> peer) noexcept {
  std::lock_guard lock(m_mutex);
  m_peer = std::move(peer);
}

void ring_wake::wake_all() noexcept {
  session_closed.store(true, std::memory_order_seq_cst);
  {
    // Our receiver sleeps on the peer's tail, our sender on the peer's head: wake both through
    // our read-only mapping of the peer's block (FUTEX_WAKE does not write).
    std::lock_guard lock(m_mutex);
    if (const auto* p = reinterpret_cast<const ring_block*>(m_peer.get())) {
      futex_wake(futex_word(p->tail));
      futex_wake(futex_word(p->head));
    }
  }
  if (own_event) signal_event(own_event.get());
}

ring_transport::ring_transport(std::shared_ptr<ring_block> own, std::shared_ptr<ring_wake> wake,
                               std::shared_ptr<void> watch, unique_fd aux,
                               borrowed<const std::byte> peer, unique_fd peer_event,
                               ring_answer answer, std::chrono::nanoseconds spin)
    : m_own(std::move(own)),
      m_wake(std::move(wake)),
      m_watch(std::move(watch)),
      m_answer(std::move(answer)),
      m_own_ring(ring_bytes_of(m_own.get())),
      m_capacity(m_own->capacity),
      m_aux(std::move(aux)),
      m_spin(spin) {
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
  if (waiting != 0) {
    futex_wake(futex_word(m_own->tail));
    if ((waiting & 2) != 0 && m_peer_event) signal_event(m_peer_event.get());
  }
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
  // The peer sleeps on our tail (receiving) or our head (sending).
  futex_wake(futex_word(m_own->tail));
  futex_wake(futex_word(m_own->head));
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

bool ring_transport::wait_for_change(const ring_block* peer, const std::uint32_t* word,
                                     std::uint32_t expected, clock::time_point start,
                                     duration timeout, bool& spun) noexcept {
  const bool forever = timeout.count() < 0;
  const auto deadline = start + timeout;
  if (!spun && m_spin.count() > 0) {
    // Spin first: a peer that answers within the spin time costs no system call on either side.
    spun = true;
    const bool spin_forever = m_spin == std::chrono::nanoseconds::max();
    const auto spin_end = clock::now() + (spin_forever ? std::chrono::nanoseconds(0) : m_spin);
    for (std::uint32_t i = 1;; ++i) {
      if (__atomic_load_n(word, __ATOMIC_ACQUIRE) != expected) return true;
      cpu_relax();
      if (i % 16 == 0) {
        const auto now = clock::now();
        if (!forever && now >= deadline) return false;
        if (!spin_forever && now >= spin_end) break;
        if (m_wake->session_closed.load(std::memory_order_relaxed) ||
            peer->closed.load(std::memory_order_relaxed)) {
          return true;
        }
      }
    }
  }
  std::chrono::nanoseconds left{-1};
  if (!forever) {
    left = deadline - clock::now();
    if (left.count() <= 0) return false;
  }
  futex_wait(word, expected, left);
  return forever || clock::now() < deadline;
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

  // Room: the peer's head, checked, must be far enough along.
  const auto start = clock::now();
  std::error_code ec;
  const ring_block* peer = peer_block(duration(0), ec);
  if (peer == nullptr && ec != errc::would_block) return ec;
  bool spun = false;
  for (;;) {
    if (m_wake->session_closed.load(std::memory_order_acquire)) return errc::peer_closed;
    if (peer == nullptr) {
      // The acceptor has not answered yet, so it has read nothing: room is what we never used.
      if (m_tail + need <= m_capacity) break;
      if (timeout.count() == 0) return errc::would_block;
      peer = peer_block(left_of(start, timeout), ec);
      if (peer == nullptr) return ec == errc::would_block ? errc::timed_out : ec;
      continue;
    }
    if (peer->closed.load(std::memory_order_acquire)) return errc::peer_closed;
    const std::uint64_t head = peer->head.load(std::memory_order_acquire);
    if (!check_indices(head, m_tail, m_capacity)) return errc::protocol_error;
    if (m_tail + need - head <= m_capacity) break;
    if (timeout.count() == 0) return errc::would_block;
    // Announce the wait, then look again (the peer reads our flag after moving its head).
    m_own->writer_waiting.store(1, std::memory_order_seq_cst);
    const std::uint64_t again = peer->head.load(std::memory_order_seq_cst);
    bool in_time = true;
    if (again == head) {
      in_time = wait_for_change(peer, futex_word(peer->head), static_cast<std::uint32_t>(head),
                                start, timeout, spun);
    }
    m_own->writer_waiting.store(0, std::memory_order_relaxed);
    if (!in_time) return errc::timed_out;
  }

  // Descriptors first, on the channel's socket: they are there when the record is.
  if (!fds.empty()) {
    if (auto ec = send_frame(m_aux.get(), frame_kind::data, {}, {}, fds, timeout)) return ec;
  }
  const record_header header{record_header::magic_value, static_cast<std::uint32_t>(bytes),
                             static_cast<std::uint32_t>(handles.size()),
                             static_cast<std::uint32_t>(fds.size())};
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
  m_tail += need;
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

std::error_code ring_transport::receive(message& out, duration timeout) noexcept {
  if (m_shut) return errc::peer_closed;
  const auto start = clock::now();
  std::error_code ec;
  const ring_block* peer = peer_block(timeout, ec);
  if (peer == nullptr) return ec;
  bool spun = false;
  bool drained = false;
  std::uint64_t tail;
  for (;;) {
    tail = peer->tail.load(std::memory_order_acquire);
    if (!check_indices(m_head, tail, m_capacity)) return errc::protocol_error;
    if (tail != m_head) break;
    // Empty. The peer's close (or death) ends the wait once everything it sent is read.
    if (peer->closed.load(std::memory_order_acquire)) return errc::peer_closed;
    if (m_wake->session_closed.load(std::memory_order_acquire)) return errc::peer_closed;
    const bool registered = m_registered.load(std::memory_order_relaxed);
    if (registered && !drained) {
      // An epoll user: the eventfd goes quiet only while the ring is empty; look once more.
      drain_event(m_wake->own_event.get());
      drained = true;
      continue;
    }
    if (timeout.count() == 0) return errc::would_block;
    m_own->reader_waiting.store(1 | (registered ? 2u : 0u), std::memory_order_seq_cst);
    const std::uint64_t again = peer->tail.load(std::memory_order_seq_cst);
    bool in_time = true;
    if (again == m_head && !peer->closed.load(std::memory_order_acquire)) {
      in_time = wait_for_change(peer, futex_word(peer->tail), static_cast<std::uint32_t>(m_head),
                                start, timeout, spun);
    }
    m_own->reader_waiting.store(registered ? 2 : 0, std::memory_order_relaxed);
    if (!in_time) return errc::timed_out;
  }
  record_header header;
  std::uint64_t used = 0;
  if ((ec = read_record(m_peer_ring, m_capacity, m_head, tail, channel::max_fds, header, out,
                        used))) {
    return ec;
  }
  out.fds.clear();
  if (header.fds != 0) {
    if ((ec = receive_fds(out, header.fds))) return ec;
  }
  m_head += used;
  m_own->head.store(m_head, std::memory_order_seq_cst);
  if (peer->writer_waiting.load(std::memory_order_seq_cst) != 0) {
    futex_wake(futex_word(m_own->head));
  }
  if (m_registered.load(std::memory_order_relaxed) &&
      peer->tail.load(std::memory_order_acquire) == m_head) {
    // Emptied: the eventfd goes quiet, unless a message came in between (then it stays set).
    drain_event(m_wake->own_event.get());
    if (peer->tail.load(std::memory_order_seq_cst) != m_head) signal_event(m_wake->own_event.get());
  }
  return {};
}

}  // namespace seam::detail
