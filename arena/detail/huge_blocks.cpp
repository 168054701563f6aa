#include "arena/detail/huge_blocks.hpp"

#include <algorithm>
#include <cstring>

#include "arena/detail/os.hpp"

namespace seam::detail {
namespace {

std::size_t round_up(std::size_t n, std::size_t to) noexcept { return (n + to - 1) & ~(to - 1); }

}  // namespace

huge_blocks::huge_blocks(int fd, std::byte* base, std::size_t begin, std::size_t capacity) noexcept
    : m_fd(fd),
      m_base(base),
      m_begin(begin),
      m_capacity_pages(capacity / page),
      m_bounds(pack(round_up(begin, page) / page, capacity / page)) {}

bool huge_blocks::bump(std::size_t from, std::size_t to) noexcept {
  std::uint64_t b = m_bounds.load(std::memory_order_relaxed);
  do {
    // Only this class moves the huge top, under the mutex; the floor may move meanwhile.
    if (low(b) * page != from || to > high(b) * page) return false;
  } while (!m_bounds.compare_exchange_weak(b, pack(to / page, high(b)), std::memory_order_release,
                                           std::memory_order_relaxed));
  return true;
}

void* huge_blocks::allocate(std::size_t size, std::size_t alignment, bool zero) noexcept {
  size = round_up(size, page);
  alignment = std::max(alignment, page);
  const auto base = reinterpret_cast<std::uintptr_t>(m_base);
  auto aligned = [&](std::size_t at) { return round_up(base + at, alignment) - base; };
  std::size_t start = 0;
  std::size_t dirty_from = 0, dirty_to = 0;  // a part of the block that may hold old bytes
  {
    std::lock_guard lock(m_mutex);
    const std::size_t top = low(m_bounds.load(std::memory_order_relaxed)) * page;
    bool found = false;
    // First fit by address: low blocks first, so a growing block tends to have free room after
    // it, and the top of the region stays free to give back to jemalloc.
    for (auto it = m_free.begin(); it != m_free.end(); ++it) {
      const std::size_t at = it->first, end = at + it->second.size;
      start = aligned(at);
      const bool last = end == top;
      if (start + size > end && !(last && bump(top, start + size))) continue;
      const range r = it->second;
      if (r.dirty) m_dirty_bytes -= r.size;
      m_free.erase(it);
      if (start > at) insert_free(at, start - at, r.dirty);
      if (start + size < end) insert_free(start + size, end - start - size, r.dirty);
      if (r.dirty) {
        dirty_from = start;
        dirty_to = std::min(start + size, end);
      }
      found = true;
      break;
    }
    if (!found) {
      start = aligned(top);
      if (!bump(top, start + size)) return nullptr;
      if (start > top) insert_free(top, start - top, false);
    }
    m_live.emplace(start, size);
    m_live_bytes += size;
  }
  if (zero && dirty_to > dirty_from) std::memset(m_base + dirty_from, 0, dirty_to - dirty_from);
  return m_base + start;
}

void huge_blocks::deallocate(void* p) noexcept {
  const auto at = static_cast<std::size_t>(static_cast<std::byte*>(p) - m_base);
  std::lock_guard lock(m_mutex);
  auto it = m_live.find(at);
  if (it == m_live.end()) return;  // not a block: a bug of the caller's, ignored
  const std::size_t size = it->second;
  m_live.erase(it);
  m_live_bytes -= size;
  insert_free(at, size, true);
  if (m_dirty_bytes > dirty_limit) punch_dirty();
}

// Records [at, at + size) as free, merged with free neighbours. Called with the mutex held.
void huge_blocks::insert_free(std::size_t at, std::size_t size, bool dirty) noexcept {
  auto next = m_free.lower_bound(at);
  if (next != m_free.end() && at + size == next->first) {
    size += next->second.size;
    if (next->second.dirty) m_dirty_bytes -= next->second.size;
    dirty = dirty || next->second.dirty;
    next = m_free.erase(next);
  }
  if (next != m_free.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second.size == at) {
      at = prev->first;
      size += prev->second.size;
      if (prev->second.dirty) m_dirty_bytes -= prev->second.size;
      dirty = dirty || prev->second.dirty;
      m_free.erase(prev);
    }
  }
  // A range partly dirty counts as dirty: purging it punches a few clean pages too.
  if (dirty) m_dirty_bytes += size;
  m_free.emplace(at, range{size, dirty});
}

std::size_t huge_blocks::expand(void* p, std::size_t min_size, std::size_t preferred_size) noexcept {
  const auto at = static_cast<std::size_t>(static_cast<std::byte*>(p) - m_base);
  std::lock_guard lock(m_mutex);
  auto it = m_live.find(at);
  if (it == m_live.end()) return 0;
  const std::size_t size = it->second;
  if (preferred_size < min_size) preferred_size = min_size;
  if (min_size <= size) {
    if (preferred_size >= size) return size;
    // Shrink to the preferred size, but never to a size that is not huge.
    const std::size_t kept = round_up(std::max(preferred_size, threshold + 1), page);
    if (kept >= size) return size;
    insert_free(at + kept, size - kept, true);
    it->second = kept;
    m_live_bytes -= size - kept;
    if (m_dirty_bytes > dirty_limit) punch_dirty();
    return kept;
  }
  const std::size_t end = at + size;
  const std::size_t top = low(m_bounds.load(std::memory_order_relaxed)) * page;
  auto next = m_free.find(end);
  const std::size_t room = next == m_free.end() ? 0 : next->second.size;
  for (std::size_t want : {preferred_size, min_size}) {
    const std::size_t grown = round_up(want, page);
    const std::size_t need = grown - size;
    if (need <= room) {
      const range r = next->second;
      if (r.dirty) m_dirty_bytes -= r.size;
      m_free.erase(next);
      if (need < room) insert_free(end + need, room - need, r.dirty);
    } else if (end + room == top && bump(top, end + need)) {
      // The last block of the region (or only free room after it): move the top.
      if (room != 0) {
        if (next->second.dirty) m_dirty_bytes -= room;
        m_free.erase(next);
      }
    } else {
      continue;
    }
    it->second = grown;
    m_live_bytes += need;
    return grown;
  }
  return size;
}

std::size_t huge_blocks::usable_size(const void* p) const noexcept {
  const auto at = static_cast<std::size_t>(static_cast<const std::byte*>(p) - m_base);
  std::lock_guard lock(m_mutex);
  auto it = m_live.find(at);
  return it == m_live.end() ? 0 : it->second;
}

void huge_blocks::punch_dirty() noexcept {
  for (auto& [at, r] : m_free) {
    if (r.dirty && punch_hole(m_fd, at, r.size)) r.dirty = false;
  }
  m_dirty_bytes = 0;
  for (const auto& [at, r] : m_free) {
    if (r.dirty) m_dirty_bytes += r.size;
  }
}

void huge_blocks::purge() noexcept {
  std::lock_guard lock(m_mutex);
  punch_dirty();
}

std::size_t huge_blocks::allocated() const noexcept {
  std::lock_guard lock(m_mutex);
  return m_live_bytes;
}

std::size_t huge_blocks::reserved() const noexcept {
  const std::uint64_t b = m_bounds.load(std::memory_order_relaxed);
  return (low(b) * page - m_begin) + (m_capacity_pages - high(b)) * page;
}

// The free range at the top of the huge region goes back to the space between the bounds, so
// jemalloc can have it. Its pages are punched first: jemalloc is told fresh ranges are zero.
bool huge_blocks::give_back_top() noexcept {
  std::lock_guard lock(m_mutex);
  if (m_free.empty()) return false;
  auto last = std::prev(m_free.end());
  std::uint64_t b = m_bounds.load(std::memory_order_relaxed);
  if (last->first + last->second.size != low(b) * page) return false;
  if (last->second.dirty) {
    if (!punch_hole(m_fd, last->first, last->second.size)) return false;
    m_dirty_bytes -= last->second.size;
  }
  while (!m_bounds.compare_exchange_weak(b, pack(last->first / page, high(b)),
                                         std::memory_order_release, std::memory_order_relaxed)) {
  }
  m_free.erase(last);
  return true;
}

void* huge_blocks::carve_for_jemalloc(std::size_t size, std::size_t alignment) noexcept {
  const auto base = reinterpret_cast<std::uintptr_t>(m_base);
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::uint64_t b = m_bounds.load(std::memory_order_relaxed);
    for (;;) {
      const std::size_t top = low(b) * page, floor = high(b) * page;
      if (size > floor - top) break;
      const std::uintptr_t addr = (base + floor - size) & ~(std::uintptr_t{alignment} - 1);
      if (addr < base + top) break;
      const std::size_t start = addr - base;
      if (m_bounds.compare_exchange_weak(b, pack(low(b), start / page), std::memory_order_relaxed)) {
        return m_base + start;
      }
    }
    if (attempt == 0 && !give_back_top()) return nullptr;
  }
  return nullptr;
}

}  // namespace seam::detail
