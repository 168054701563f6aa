#pragma once
/// \file
/// `seam::unordered_map` / `unordered_set` (and multi- forms): Boost.Unordered in the
/// current arena. For lookups that must be fast, prefer `seam::hash_map`: these node-based
/// tables walk a `seam::ptr` per probe.

#include <boost/container_hash/hash.hpp>
#include <boost/unordered_map.hpp>
#include <boost/unordered_set.hpp>
#include <functional>
#include <utility>

#include "seam/containers/allocator.hpp"

namespace seam {

template <class Key, class T, class Hash = boost::hash<Key>, class Eq = std::equal_to<Key>>
using unordered_map =
    boost::unordered_map<Key, T, Hash, Eq, allocator<std::pair<const Key, T>>>;
template <class Key, class T, class Hash = boost::hash<Key>, class Eq = std::equal_to<Key>>
using unordered_multimap =
    boost::unordered_multimap<Key, T, Hash, Eq, allocator<std::pair<const Key, T>>>;
template <class Key, class Hash = boost::hash<Key>, class Eq = std::equal_to<Key>>
using unordered_set = boost::unordered_set<Key, Hash, Eq, allocator<Key>>;
template <class Key, class Hash = boost::hash<Key>, class Eq = std::equal_to<Key>>
using unordered_multiset = boost::unordered_multiset<Key, Hash, Eq, allocator<Key>>;

}  // namespace seam
