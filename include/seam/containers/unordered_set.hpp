#pragma once
/// \file
/// `seam::unordered_set` and `seam::unordered_multiset`: node-based hash tables in the current
/// arena.

#include <initializer_list>
#include <type_traits>

#include "seam/containers/allocator.hpp"
#include "seam/containers/detail/keys.hpp"
#include "seam/containers/detail/node_table.hpp"
#include "seam/containers/hash.hpp"

namespace seam {

namespace detail {

template <class K, class Hash, class Eq, bool Unique>
using set_node_table = node_table<set_elements<K>, Hash, Eq, allocator<K>, Unique>;

}  // namespace detail

/// A hash set in an arena: the interface of `std::unordered_set`, on the same table and with
/// the same contract as `seam::unordered_map` (lives in an arena, changed only by the owner,
/// read in place by any process that maps it; const members only read; elements never move;
/// transparent lookups of `seam::string` keys). Elements are immutable through iterators
/// (`iterator` is `const_iterator`).
template <class Key, class Hash = seam::hash<Key>, class Eq = seam::equal_to<Key>>
class unordered_set : public detail::set_node_table<Key, Hash, Eq, true> {
  using base = detail::set_node_table<Key, Hash, Eq, true>;

 public:
  using typename base::value_type;

  using base::base;
  unordered_set() = default;
  /// Replaces the contents with `values`.
  unordered_set& operator=(std::initializer_list<value_type> values) {
    base::operator=(values);
    return *this;
  }
};

/// A hash set with equal keys allowed: the interface of `std::unordered_multiset`, with the
/// contract of `seam::unordered_set`. Equal elements are adjacent in iteration.
template <class Key, class Hash = seam::hash<Key>, class Eq = seam::equal_to<Key>>
class unordered_multiset : public detail::set_node_table<Key, Hash, Eq, false> {
  using base = detail::set_node_table<Key, Hash, Eq, false>;

 public:
  using typename base::value_type;

  using base::base;
  unordered_multiset() = default;
  /// Replaces the contents with `values`.
  unordered_multiset& operator=(std::initializer_list<value_type> values) {
    base::operator=(values);
    return *this;
  }
};

}  // namespace seam
