#pragma once
/// \file
/// The building blocks of `seam::detail::hash_table`: control bytes, groups of 16 matched at
/// once (SSE2), the probe sequence, and the iterator that walks the full slots.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <type_traits>

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

/// The groups a lookup visits: the home group chosen by the hash's high bits (h1), then
/// groups at growing distances (1, 2, 3… groups further), which over a power-of-two number of
/// groups reaches each group exactly once. `next()` is false once every group was visited.
class probe_seq {
 public:
  probe_seq(std::size_t hash, std::size_t capacity) noexcept
      : m_mask(capacity / k_group_width - 1), m_group((hash >> 7) & m_mask) {}
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

/// `U` is the non-const form of the const type `T`.
template <class U, class T>
concept mutable_form_of = std::is_same_v<const U, T> && !std::is_same_v<U, T>;

/// A forward iterator over the full slots. Transient: it lives in one process's private
/// memory and holds raw pointers into the mapping it was made from.
template <class T>
class hash_iterator {
 public:
  using iterator_category = std::forward_iterator_tag;
  using value_type = std::remove_const_t<T>;
  using difference_type = std::ptrdiff_t;
  using pointer = T*;
  using reference = T&;

  hash_iterator() noexcept = default;
  /// iterator -> const_iterator (implicit, as in std).
  template <mutable_form_of<T> U>
  hash_iterator(const hash_iterator<U>& other) noexcept  // NOLINT: implicit on purpose
      : m_ctrl(other.m_ctrl), m_slot(other.m_slot) {}

  reference operator*() const noexcept { return *m_slot; }
  pointer operator->() const noexcept { return m_slot; }
  hash_iterator& operator++() noexcept {
    ++m_ctrl;
    ++m_slot;
    skip_free();
    return *this;
  }
  hash_iterator operator++(int) noexcept {
    hash_iterator old = *this;
    ++*this;
    return old;
  }
  friend bool operator==(const hash_iterator& a, const hash_iterator& b) noexcept {
    return a.m_ctrl == b.m_ctrl;
  }

 private:
  template <class>
  friend class hash_iterator;
  template <class, class, class, class>
  friend class hash_table;  // builds iterators and calls skip_free

  hash_iterator(const ctrl_t* ctrl, T* slot) noexcept : m_ctrl(ctrl), m_slot(slot) {}

  // Moves to the next full slot at or after this one. The sentinel group after the last slot
  // stops the scan, so the iterator needs no end pointer. Groups are 16-byte aligned.
  void skip_free() noexcept {
    for (;;) {
      const auto offset = reinterpret_cast<std::uintptr_t>(m_ctrl) & (k_group_width - 1);
      const std::uint32_t stops = ctrl_group(m_ctrl - offset).match_stop() >> offset;
      if (stops != 0) {
        const auto n = static_cast<std::size_t>(std::countr_zero(stops));
        m_ctrl += n;
        m_slot += n;
        return;
      }
      m_ctrl += k_group_width - offset;
      m_slot += k_group_width - offset;
    }
  }

  const ctrl_t* m_ctrl = nullptr;
  T* m_slot = nullptr;
};

}  // namespace seam::detail
