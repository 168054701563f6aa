// The heap's spans: the ranges of the arena it owns (one for an arena without shared writers,
// several claimed from the shared bump pointer with them), how huge blocks and jemalloc's
// extents are carved from them, and how blocks that other writers freed come back.
#include <algorithm>

#include "arena/detail/heap.hpp"

namespace seam::detail {

void heap::keep_pages() noexcept {
  std::lock_guard lock(m_span_mutex);
  m_keep_pages.store(true, std::memory_order_relaxed);
  for (unsigned i = 0, n = m_nspans.load(std::memory_order_relaxed); i < n; ++i) {
    m_spans[i]->keep_pages();
  }
}

std::size_t heap::reserved() const noexcept {
  std::size_t total = 0;
  for (unsigned i = 0, n = m_nspans.load(std::memory_order_acquire); i < n; ++i) {
    total += m_spans[i]->reserved();
  }
  return total;
}

huge_blocks* heap::huge_span(const void* p) const noexcept {
  const unsigned span = span_index(p);
  if (span == 0) return nullptr;
  huge_blocks& h = *m_spans[span - 1];
  return h.owns(p) ? &h : nullptr;
}

// Span sizes double from one chunk up to a sixteenth of the capacity (at most 4 GiB), or are
// what one request needs: a writer that allocates little claims little, and the space of a
// dead writer is never reused (its blocks stay valid), so short-lived writers must not eat the
// arena's address space.
bool heap::add_span(std::size_t least, std::size_t want) noexcept {
  const unsigned n = m_nspans.load(std::memory_order_relaxed);
  if (n == max_spans) return false;
  const std::size_t most = std::clamp((m_capacity / 16) & ~(chunk_bytes - 1), chunk_bytes,
                                      std::size_t{4} << 30);
  const std::size_t span = n >= 12 ? most : std::min(most, chunk_bytes << n);
  least = (least + chunk_bytes - 1) & ~(chunk_bytes - 1);
  std::size_t got = 0;
  const std::size_t at = m_writers->claim(least, std::max({least, span, want}), got);
  if (at == 0) return false;
  m_spans[n].emplace(m_fd, m_base, at, at + got);
  if (m_keep_pages.load(std::memory_order_relaxed)) m_spans[n]->keep_pages();
  for (std::size_t c = at >> chunk_shift; c < ((at + got) >> chunk_shift); ++c) {
    m_span_of[c].store(static_cast<std::uint8_t>(n + 1), std::memory_order_relaxed);
  }
  m_nspans.store(n + 1, std::memory_order_release);
  m_current.store(n, std::memory_order_release);
  return true;
}

// For jemalloc's extent hook: from the current span, or from a new one when it is full.
void* heap::carve(std::size_t size, std::size_t alignment) noexcept {
  const unsigned current = m_current.load(std::memory_order_acquire);
  if (void* p = m_spans[current]->carve_for_jemalloc(size, alignment)) return p;
  if (m_writers == nullptr) return nullptr;
  std::lock_guard lock(m_span_mutex);
  const unsigned now = m_current.load(std::memory_order_relaxed);
  if (now != current) {
    if (void* p = m_spans[now]->carve_for_jemalloc(size, alignment)) return p;
  }
  if (!add_span(size + alignment)) return nullptr;
  return m_spans[m_current.load(std::memory_order_relaxed)]->carve_for_jemalloc(size, alignment);
}

// A huge block from the newest span that has room, or from a new span.
void* heap::allocate_huge(std::size_t size, std::size_t alignment, bool zero) noexcept {
  unsigned n = m_nspans.load(std::memory_order_acquire);
  for (unsigned i = n; i-- > 0;) {
    if (void* p = m_spans[i]->allocate(size, alignment, zero)) return p;
  }
  if (m_writers == nullptr) return nullptr;
  std::lock_guard lock(m_span_mutex);
  for (unsigned i = m_nspans.load(std::memory_order_relaxed); i-- > n;) {
    if (void* p = m_spans[i]->allocate(size, alignment, zero)) return p;
  }
  if (!add_span(size + std::max(alignment, huge_blocks::page))) return nullptr;
  n = m_nspans.load(std::memory_order_relaxed);
  return m_spans[n - 1]->allocate(size, alignment, zero);
}

// A block of this heap that another writer freed.
void heap::free_local(void* p) noexcept {
  if (huge_blocks* span = huge_span(p)) {
    span->deallocate(p);
    return;
  }
  dallocx(p, flags(0, 0));
}

void heap::collect_remote() noexcept {
  if (m_writers == nullptr || forked()) return;
  m_writers->collect([this](std::size_t at) { return mine(m_base + at); },
                     [this](std::size_t at) { free_local(m_base + at); });
}

}  // namespace seam::detail
