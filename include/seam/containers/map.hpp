#pragma once
/// \file
/// `seam::map` and `seam::multimap`: ordered trees in the current arena.

#include <boost/container/map.hpp>
#include <functional>
#include <utility>

#include "seam/containers/allocator.hpp"

namespace seam {

/// An ordered map (a red-black tree of `seam::ptr`-linked nodes) in an arena. Pass
/// `std::less<>` as `Compare` to look up `seam::string` keys by `std::string_view`.
template <class Key, class T, class Compare = std::less<Key>>
using map = boost::container::map<Key, T, Compare, allocator<std::pair<const Key, T>>>;
template <class Key, class T, class Compare = std::less<Key>>
using multimap = boost::container::multimap<Key, T, Compare, allocator<std::pair<const Key, T>>>;

}  // namespace seam
