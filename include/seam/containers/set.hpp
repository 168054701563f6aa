#pragma once
/// \file
/// `seam::set` and `seam::multiset`: ordered trees in the current arena.

#include <boost/container/set.hpp>
#include <functional>

#include "seam/containers/allocator.hpp"

namespace seam {

/// An ordered set in an arena.
template <class Key, class Compare = std::less<Key>>
using set = boost::container::set<Key, Compare, allocator<Key>>;
template <class Key, class Compare = std::less<Key>>
using multiset = boost::container::multiset<Key, Compare, allocator<Key>>;

}  // namespace seam
