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

// Adds [at, at + size) to `ranges`, merged with the ranges it touches.
void huge_blocks::insert(std::map<std::size_t, std::size_t>& ranges, std::size_t at,
                         std::size_t size) noexcept {
  auto next = ranges.lower_bound(at);
  if (next != ranges.end() && at + size == next->first) {
    size += next->second;
    next = ranges.erase(next);
  }
  if (next != ranges.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == at) {
      prev->second += size;
      return;
    }
  }
  ranges.emplace_hint(next, at, size);
}

// Removes [at, at + size) from `ranges`; returns how many bytes of it were there.
std::size_t huge_blocks::remove(std::map<std::size_t, std::size_t>& ranges, std::size_t at,
                                std::size_t size) noexcept {
  const std::size_t end = at + size;
  auto it = ranges.upper_bound(at);
  if (it != ranges.begin()) --it;
  std::size_t removed = 0;
  while (it != ranges.end() && it->first < end) {
    const std::size_t r_at = it->first, r_end = r_at + it->second;
    if (r_end <= at) {
      ++it;
      continue;
    }
    removed += std::min(r_end, end) - std::max(r_at, at);
    it = ranges.erase(it);
    if (r_at < at) ranges.emplace(r_at, at - r_at);
    if (r_end > end) it = ranges.emplace(end, r_end - end).first;
  }
  return removed;
}

void huge_blocks::insert_free(std::size_t at, std::size_t size) noexcept {
  insert(m_free, at, size);
}

// Takes [at, at + size) out of the free range `it` (which holds at least its start; the rest
// lies past the huge top, just bumped). Returns nothing: the caller learns what was dirty from
// `m_dirty` before the call if it needs to.
void huge_blocks::take_free(std::map<std::size_t, std::size_t>::iterator it, std::size_t at,
                            std::size_t size) noexcept {
  const std::size_t r_at = it->first, r_end = r_at + it->second;
  m_free.erase(it);
  if (at > r_at) m_free.emplace(r_at, at - r_at);
  if (at + size < r_end) m_free.emplace(at + size, r_end - at - size);
  m_dirty_bytes -= remove(m_dirty, at, size);
}

void* huge_blocks::allocate(std::size_t size, std::size_t alignment, bool zero) noexcept {
  size = round_up(size, page);
  alignment = std::max(alignment, page);
  const auto base = reinterpret_cast<std::uintptr_t>(m_base);
  auto aligned = [&](std::size_t at) { return round_up(base + at, alignment) - base; };
  std::size_t start = 0;
  bool dirty = false;  // whether the block may hold old bytes
  {
    std::lock_guard lock(m_mutex);
    const std::size_t top = low(m_bounds.load(std::memory_order_relaxed)) * page;
    bool found = false;
    // First fit by address: low blocks first, so a growing block tends to have free room after
    // it, and the top of the region stays free to give back to jemalloc.
    for (auto it = m_free.begin(); it != m_free.end(); ++it) {
      const std::size_t end = it->first + it->second;
      start = aligned(it->first);
      if (start + size > end && !(end == top && bump(top, start + size))) continue;
      const std::size_t before = m_dirty_bytes;
      take_free(it, start, size);
      dirty = m_dirty_bytes != before;
      found = true;
      break;
    }
    if (!found) {
      start = aligned(top);
      if (!bump(top, start + size)) return nullptr;
      if (start > top) insert_free(top, start - top);
    }
    m_live.emplace(start, size);
    m_live_bytes += size;
  }
  if (zero && dirty) std::memset(m_base + start, 0, size);
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
  release(at, size);
}

// [at, at + size) of a live block becomes free, its pages dirty. Called with the mutex held.
void huge_blocks::release(std::size_t at, std::size_t size) noexcept {
  insert_free(at, size);
  insert(m_dirty, at, size);
  m_dirty_bytes += size;
  if (m_dirty_bytes > dirty_limit && !m_keep_pages) punch_dirty();
}

std::size_t huge_blocks::expand(void* p, std::size_t min_size,
                                std::size_t preferred_size) noexcept {
  const auto at = static_cast<std::size_t>(static_cast<std::byte*>(p) - m_base);
  std::lock_guard lock(m_mutex);
  auto it = m_live.find(at);
  if (it == m_live.end()) return 0;
  const std::size_t size = it->second;
  if (preferred_size < min_size) preferred_size = min_size;
  if (min_size <= size) {
    if (preferred_size >= size) return size;
    const std::size_t kept = round_up(std::max(preferred_size, shrink_floor), page);
    if (kept >= size) return size;
    it->second = kept;
    m_live_bytes -= size - kept;
    release(at + kept, size - kept);
    return kept;
  }
  const std::size_t end = at + size;
  const std::size_t top = low(m_bounds.load(std::memory_order_relaxed)) * page;
  auto next = m_free.find(end);
  const std::size_t room = next == m_free.end() ? 0 : next->second;
  for (std::size_t want : {preferred_size, min_size}) {
    const std::size_t grown = round_up(want, page);
    const std::size_t need = grown - size;
    // Into the free room after the block, or past it by moving the top when the block (or that
    // room) is the last thing in the region.
    if (need > room && !(end + room == top && bump(top, end + need))) continue;
    if (room != 0) {
      take_free(next, end, std::min(need, room));
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
  for (auto it = m_dirty.begin(); it != m_dirty.end();) {
    if (punch_hole(m_fd, it->first, it->second)) {
      m_dirty_bytes -= it->second;
      it = m_dirty.erase(it);
    } else {
      ++it;
    }
  }
}

void huge_blocks::purge() noexcept {
  std::lock_guard lock(m_mutex);
  if (!m_keep_pages) punch_dirty();
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
  const std::size_t at = last->first, size = last->second;
  std::uint64_t b = m_bounds.load(std::memory_order_relaxed);
  if (at + size != low(b) * page) return false;
  if (m_keep_pages) {
    // No holes in a strict arena: zero the dirty parts (all inside this coalesced free range).
    for (auto it = m_dirty.lower_bound(at); it != m_dirty.end(); it = m_dirty.erase(it)) {
      std::memset(m_base + it->first, 0, it->second);
    }
  } else if (remove(m_dirty, at, size) != 0) {
    // Punched as a whole: clean pages in it cost nothing to punch.
    if (!punch_hole(m_fd, at, size)) {
      insert(m_dirty, at, size);  // keep counting it; jemalloc does not get it
      return false;
    }
  }
  m_dirty_bytes = 0;
  for (const auto& [d_at, d_size] : m_dirty) m_dirty_bytes += d_size;
  while (!m_bounds.compare_exchange_weak(b, pack(at / page, high(b)), std::memory_order_release,
                                         std::memory_order_relaxed)) {
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
      if (m_bounds.compare_exchange_weak(b, pack(low(b), start / page),
                                         std::memory_order_relaxed)) {
        return m_base + start;
      }
    }
    if (attempt == 0 && !give_back_top()) return nullptr;
  }
  return nullptr;
}

}  // namespace seam::detail
