#pragma once
/// \file
/// `seam::set` and `seam::multiset`: ordered trees in the current arena.

#include <functional>
#include <initializer_list>
#include <type_traits>

#include "seam/containers/allocator.hpp"
#include "seam/containers/detail/keys.hpp"
#include "seam/containers/detail/tree.hpp"
#include "seam/containers/less.hpp"

namespace seam {

namespace detail {

template <class K, class Compare, bool Unique>
using set_tree = tree<set_elements<K>, Compare, allocator<K>, Unique>;

}  // namespace detail

/// An ordered set in an arena: the interface of `std::set`, on the same tree and with the same
/// contract as `seam::map` (lives in an arena, changed only by the owner, read in place by any
/// process that maps it; const members only read). Elements are immutable through iterators
/// (`iterator` is `const_iterator`).
template <class Key, class Compare = seam::less<Key>>
class set : public detail::set_tree<Key, Compare, true> {
  using base = detail::set_tree<Key, Compare, true>;

 public:
  /// Orders elements by their keys.
  using value_compare = Compare;
  using typename base::value_type;

  using base::base;
  set() = default;
  /// Replaces the contents with `values`.
  set& operator=(std::initializer_list<value_type> values) {
    base::operator=(values);
    return *this;
  }

  /// The comparison of elements (by key).
  value_compare value_comp() const { return this->key_comp(); }
};

/// An ordered set with equal keys allowed, kept in insertion order: the interface of
/// `std::multiset`, with the contract of `seam::set`.
template <class Key, class Compare = seam::less<Key>>
class multiset : public detail::set_tree<Key, Compare, false> {
  using base = detail::set_tree<Key, Compare, false>;

 public:
  /// Orders elements by their keys.
  using value_compare = Compare;
  using typename base::value_type;

  using base::base;
  multiset() = default;
  /// Replaces the contents with `values`.
  multiset& operator=(std::initializer_list<value_type> values) {
    base::operator=(values);
    return *this;
  }

  /// The comparison of elements (by key).
  value_compare value_comp() const { return this->key_comp(); }
};

}  // namespace seam
