#pragma once
/// \file
/// `seam::detail::hash_iterator`: the iterator of `seam::hash_map` and `seam::hash_set`, which
/// walks the full slots of a `seam::detail::hash_core` by its control bytes.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <type_traits>

#include "seam/containers/detail/hash_group.hpp"

namespace seam::detail {

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
  friend class hash_core;  // builds iterators, reads their position, calls skip_free

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
