#pragma once
/// \file
/// The control bytes of `seam::detail::hash_core`: their values, groups of 16 matched at once
/// (SSE2), and the sequence of groups a probe visits.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace seam::detail {

using ctrl_t = std::int8_t;
inline constexpr ctrl_t k_empty = -128;   // never used since the last rebuild
inline constexpr ctrl_t k_deleted = -2;   // erased while its group was full: lookups go on
inline constexpr ctrl_t k_sentinel = -1;  // after the last slot: stops iteration
inline constexpr std::size_t k_group_width = 16;

/// The control bytes of one aligned group of 16 slots; each `match` returns a bit per slot.
class ctrl_group {
 public:
#ifdef __SSE2__
  explicit ctrl_group(const ctrl_t* p) noexcept
      : m_bytes(_mm_load_si128(reinterpret_cast<const __m128i*>(p))) {}
  std::uint32_t match(ctrl_t h2) const noexcept {
    return static_cast<std::uint32_t>(
        _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_set1_epi8(h2), m_bytes)));
  }
  /// Empty or deleted: the only bytes with the sign bit set, except the sentinel.
  std::uint32_t match_free() const noexcept {
    return static_cast<std::uint32_t>(_mm_movemask_epi8(m_bytes));
  }
  /// Full or sentinel: where an iterator stops.
  std::uint32_t match_stop() const noexcept {
    const __m128i free = _mm_cmpgt_epi8(_mm_set1_epi8(k_sentinel), m_bytes);
    return static_cast<std::uint32_t>(_mm_movemask_epi8(free)) ^ 0xffffu;
  }
#else
  // Portable fallback; the target is x86-64, where SSE2 is always present.
  explicit ctrl_group(const ctrl_t* p) noexcept { std::memcpy(m_bytes, p, k_group_width); }
  std::uint32_t match(ctrl_t h2) const noexcept {
    return where([h2](ctrl_t c) { return c == h2; });
  }
  std::uint32_t match_free() const noexcept {
    return where([](ctrl_t c) { return c < 0; });
  }
  std::uint32_t match_stop() const noexcept {
    return where([](ctrl_t c) { return c >= k_sentinel; });
  }
#endif
  std::uint32_t match_empty() const noexcept { return match(k_empty); }
  /// Full slots (in a group of slots, which holds no sentinel).
  std::uint32_t match_full() const noexcept { return match_free() ^ 0xffffu; }

 private:
#ifdef __SSE2__
  __m128i m_bytes;
#else
  template <class Pred>
  std::uint32_t where(Pred pred) const noexcept {
    std::uint32_t bits = 0;
    for (std::size_t i = 0; i < k_group_width; ++i) bits |= std::uint32_t{pred(m_bytes[i])} << i;
    return bits;
  }
  ctrl_t m_bytes[k_group_width];
#endif
};

/// The index of the lowest set bit of a match, which must not be 0: unlike
/// `std::countr_zero`, the builtin need not handle 0, which saves a test and a move where the
/// compiler cannot see that the match is not empty.
inline std::size_t first_bit(std::uint32_t match) noexcept {
  return static_cast<std::uint32_t>(__builtin_ctz(match));
}

/// The groups a lookup visits: the home group chosen by the hash's high bits (h1), then
/// groups at growing distances (1, 2, 3… groups further), which over a power-of-two number of
/// groups reaches each group exactly once. `next()` is false once every group was visited.
class probe_seq {
 public:
  probe_seq(std::size_t hash, std::size_t capacity) noexcept
      : m_mask(capacity / k_group_width - 1), m_group(home(hash, m_mask)) {}
  /// The first group of `hash` among `mask + 1` groups.
  static std::size_t home(std::size_t hash, std::size_t mask) noexcept {
    return (hash >> 7) & mask;
  }
  /// Index of the group's first slot.
  std::size_t offset() const noexcept { return m_group * k_group_width; }
  bool next() noexcept {
    m_group = (m_group + ++m_step) & m_mask;
    return m_step <= m_mask;
  }

 private:
  std::size_t m_mask;
  std::size_t m_group;
  std::size_t m_step = 0;
};

}  // namespace seam::detail
