#pragma once
/// \file
/// `seam::flat_map` / `flat_set` (and multi- forms): sorted vectors in the current arena.

#include <boost/container/flat_map.hpp>
#include <boost/container/flat_set.hpp>
#include <functional>
#include <utility>

#include "seam/containers/allocator.hpp"

namespace seam {

/// A map kept as a sorted vector of pairs: fast lookups and iteration, slow inserts.
template <class Key, class T, class Compare = std::less<Key>>
using flat_map = boost::container::flat_map<Key, T, Compare, allocator<std::pair<Key, T>>>;
/// `boost::container::flat_multimap` with `seam::allocator`.
template <class Key, class T, class Compare = std::less<Key>>
using flat_multimap =
    boost::container::flat_multimap<Key, T, Compare, allocator<std::pair<Key, T>>>;
/// A set kept as a sorted vector.
template <class Key, class Compare = std::less<Key>>
using flat_set = boost::container::flat_set<Key, Compare, allocator<Key>>;
/// `boost::container::flat_multiset` with `seam::allocator`.
template <class Key, class Compare = std::less<Key>>
using flat_multiset = boost::container::flat_multiset<Key, Compare, allocator<Key>>;

}  // namespace seam
