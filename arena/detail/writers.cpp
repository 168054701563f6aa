#include "arena/detail/writers.hpp"

#include <unistd.h>

#include "arena/detail/os.hpp"
#include "seam/arena/error.hpp"

namespace seam::detail {
namespace {

enum : std::uint64_t { slot_free = 0, slot_live = 1, slot_dead = 2 };

constexpr std::uint64_t kind_of(std::uint64_t state) noexcept { return state & 0xff; }
constexpr std::uint32_t generation_of(std::uint64_t state) noexcept {
  return static_cast<std::uint32_t>(state >> 8) & 0xffffff;
}
constexpr int pid_of(std::uint64_t state) noexcept { return static_cast<int>(state >> 32); }
constexpr std::uint64_t make_state(std::uint64_t kind, std::uint32_t generation,
                                   std::uint64_t pid) noexcept {
  return kind | (std::uint64_t{generation} << 8) | (pid << 32);
}

template <class T>
T load(const T& v, int order = __ATOMIC_ACQUIRE) noexcept {
  return __atomic_load_n(&v, order);
}
template <class T>
bool exchange_if(T& v, T& expected, T desired) noexcept {
  return __atomic_compare_exchange_n(&v, &expected, desired, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE);
}

constexpr std::size_t round_up(std::size_t n, std::size_t to) noexcept {
  return (n + to - 1) & ~(to - 1);
}

}  // namespace

std::size_t writers_region_bytes(std::size_t capacity) noexcept {
  return round_up(sizeof(writers_header) + sizeof(std::uint32_t) * (capacity >> chunk_shift),
                  4096);
}

void shared_writers::format(std::byte* base, std::size_t capacity, std::size_t region) noexcept {
  auto* h = reinterpret_cast<writers_header*>(base + region);
  h->magic = writers_magic;
  h->chunk_shift = chunk_shift;
  h->chunk_count = capacity >> chunk_shift;
  h->writer_slots = max_writers;
  h->first_free = region + writers_region_bytes(capacity);
}

shared_writers::shared_writers(std::byte* base, std::size_t capacity, std::size_t region,
                               bool creator, bool sole, std::error_code& ec) noexcept
    : m_base(base),
      m_capacity(capacity),
      m_pid(::getpid()),
      m_creator(creator),
      m_sole(sole),
      m_region_end(region + writers_region_bytes(capacity)),
      m_header(reinterpret_cast<writers_header*>(base + region)) {
  if (m_region_end > capacity || load(m_header->magic) != writers_magic ||
      load(m_header->chunk_shift) != chunk_shift ||
      load(m_header->chunk_count) != (capacity >> chunk_shift) ||
      load(m_header->writer_slots) != max_writers) {
    ec = errc::corrupt_arena;
    return;
  }
  if (!take_slot()) {
    reap();
    if (!take_slot()) {
      ec = errc::arena_full;
      return;
    }
  }
  ec.clear();
}

shared_writers::~shared_writers() {
  if (m_slot == nullptr || ::getpid() != m_pid) return;
  // Leaving: the slot's chunks become orphans (their blocks stay valid for other writers'
  // containers); pushes for this generation now fail and are counted as orphan frees.
  std::uint64_t state = load(m_slot->state);
  while (generation_of(state) == m_generation && kind_of(state) == slot_live &&
         !exchange_if(m_slot->state, state, make_state(slot_free, m_generation, 0))) {
  }
}

std::uint32_t* shared_writers::chunks() const noexcept {
  return reinterpret_cast<std::uint32_t*>(m_header + 1);
}

bool shared_writers::take_slot() noexcept {
  const auto pid = static_cast<std::uint64_t>(::getpid());
  for (unsigned i = 0; i < max_writers; ++i) {
    writer_slot& s = m_header->slots[i];
    std::uint64_t state = load(s.state);
    if (kind_of(state) == slot_live) continue;
    std::uint32_t generation = (generation_of(state) + 1) & 0xffffff;
    if (generation == 0) generation = 1;
    if (!exchange_if(s.state, state, make_state(slot_live, generation, pid))) continue;
    // Blocks pushed to the previous occupant and never taken back are dropped: its heap is gone.
    const std::uint64_t head =
        __atomic_exchange_n(&s.remote_head, std::uint64_t{generation} << 40, __ATOMIC_ACQ_REL);
    (void)head;
    const std::uint64_t pushed = load(s.pushed), collected = load(s.collected);
    if (pushed > collected) {
      __atomic_fetch_add(&m_header->orphan_frees, pushed - collected, __ATOMIC_RELAXED);
    }
    __atomic_store_n(&s.collected, pushed, __ATOMIC_RELAXED);
    m_slot = &s;
    m_index = i;
    m_generation = generation;
    return true;
  }
  return false;
}

std::size_t shared_writers::claim(std::size_t least, std::size_t want, std::size_t& got) noexcept {
  got = 0;
  std::uint64_t first = load(m_header->first_free);
  for (;;) {
    // The bump pointer is another process's word: in range, and on a chunk boundary once past
    // the first claim.
    if (first < m_region_end || first > m_capacity ||
        (first != m_region_end && (first & (chunk_bytes - 1)) != 0)) {
      m_corrupt.store(true, std::memory_order_relaxed);
      return 0;
    }
    std::size_t end = round_up(first + want, chunk_bytes);
    if (end > m_capacity || end < first) end = m_capacity;
    if (end - first < least) return 0;
    if (exchange_if(m_header->first_free, first, std::uint64_t{end})) {
      const std::uint32_t entry = (m_index + 1) | (m_generation << 8);
      for (std::size_t c = first >> chunk_shift; c < (end >> chunk_shift); ++c) {
        __atomic_store_n(&chunks()[c], entry, __ATOMIC_RELEASE);
      }
      got = end - first;
      return first;
    }
  }
}

void shared_writers::free_remote(std::size_t offset) noexcept {
  const std::size_t c = offset >> chunk_shift;
  const std::uint32_t entry = c < (m_capacity >> chunk_shift) ? load(chunks()[c]) : 0;
  const unsigned index = (entry & 0xff) - 1;  // wraps for 0: no owner
  const std::uint32_t generation = entry >> 8;
  if (index >= max_writers || (offset & 15) != 0 ||
      (index == m_index && generation == m_generation)) {
    m_corrupt.store(true, std::memory_order_relaxed);  // no owner: a wild pointer or garbage
    return;
  }
  writer_slot& s = m_header->slots[index];
  const std::uint64_t state = load(s.state);
  if (kind_of(state) == slot_live && generation_of(state) == generation) {
    // Counted before the push: the owner's walk is bounded by the count. Not taken back when
    // the push fails below (the slot changed hands), so the count never undercounts a list.
    __atomic_fetch_add(&s.pushed, 1, __ATOMIC_ACQ_REL);
    std::uint64_t head = load(s.remote_head, __ATOMIC_RELAXED);
    while ((head >> 40) == generation) {
      __atomic_store_n(reinterpret_cast<std::uint64_t*>(m_base + offset),
                       (head & offset_mask) << 4, __ATOMIC_RELAXED);
      if (__atomic_compare_exchange_n(&s.remote_head, &head, (offset >> 4) | (head & ~offset_mask),
                                      true, __ATOMIC_RELEASE, __ATOMIC_RELAXED)) {
        m_sent.fetch_add(1, std::memory_order_relaxed);
        return;
      }
    }
  }
  // The owner is dead or gone: its heap died with it, the block stays where it is.
  __atomic_fetch_add(&m_header->orphan_frees, 1, __ATOMIC_RELAXED);
}

void shared_writers::mark_dead(unsigned index, std::uint64_t state) noexcept {
  writer_slot& s = m_header->slots[index];
  if (exchange_if(s.state, state, make_state(slot_dead, generation_of(state), 0))) {
    // The blocks pushed to it will never be taken back: count them as dropped now.
    const std::uint64_t pushed = load(s.pushed), collected = load(s.collected);
    if (pushed > collected) {
      __atomic_fetch_add(&m_header->orphan_frees, pushed - collected, __ATOMIC_RELAXED);
      __atomic_store_n(&s.collected, pushed, __ATOMIC_RELAXED);
    }
  }
  m_watched[index].pidfd.reset();
  m_watched[index].state = 0;
}

void shared_writers::reap() noexcept {
  if (m_reaping.test_and_set(std::memory_order_acquire)) return;  // another thread is at it
  for (unsigned i = 0; i < max_writers; ++i) {
    if (i == m_index) continue;
    const std::uint64_t state = load(m_header->slots[i].state);
    watched& w = m_watched[i];
    if (kind_of(state) != slot_live) {
      if (w.pidfd) w.pidfd.reset();
      continue;
    }
    if (w.state != state || !w.pidfd) {
      // A new occupant: watch its process. A pid that does not name a process (or is garbage)
      // means the occupant ended without leaving.
      w.pidfd.reset();
      w.state = 0;
      if (pid_of(state) <= 0) {
        mark_dead(i, state);
        continue;
      }
      unique_fd fd = open_pidfd(pid_of(state));
      if (!fd) {
        if (errno == ESRCH) mark_dead(i, state);
        continue;
      }
      if (load(m_header->slots[i].state) != state) continue;  // it changed: look again next time
      w.pidfd = std::move(fd);
      w.state = state;
    }
    if (process_ended(w.pidfd.get())) mark_dead(i, state);
  }
  m_reaping.clear(std::memory_order_release);
}

writers_counters shared_writers::counters() noexcept {
  reap();
  writers_counters c;
  c.remote_frees_sent = m_sent.load(std::memory_order_relaxed);
  c.remote_frees_returned = m_returned.load(std::memory_order_relaxed);
  const std::uint64_t pushed = load(m_slot->pushed), collected = load(m_slot->collected);
  c.remote_frees_pending = pushed > collected ? pushed - collected : 0;
  c.orphan_frees = load(m_header->orphan_frees, __ATOMIC_RELAXED);
  std::uint64_t states[max_writers];
  for (unsigned i = 0; i < max_writers; ++i) {
    states[i] = load(m_header->slots[i].state);
    if (kind_of(states[i]) == slot_live) ++c.live_writers;
  }
  std::uint64_t first = load(m_header->first_free);
  if (first > m_capacity) first = m_capacity;
  for (std::size_t i = 0; i < (round_up(first, chunk_bytes) >> chunk_shift); ++i) {
    const std::uint32_t entry = load(chunks()[i], __ATOMIC_RELAXED);
    const unsigned index = (entry & 0xff) - 1;
    if (entry == 0) continue;  // claimed, its entry not written yet
    if (index >= max_writers || kind_of(states[index]) != slot_live ||
        generation_of(states[index]) != (entry >> 8)) {
      c.orphaned_bytes += chunk_bytes;
    }
  }
  return c;
}

}  // namespace seam::detail
