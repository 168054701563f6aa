#pragma once
/// \file
/// `seam::unordered_map`, `unordered_multimap`, `unordered_set` and `unordered_multiset`:
/// Seam's node-based hash tables in the current arena (`detail/node_table.hpp`). Elements stay
/// where they were built, as in std; for the fastest lookups of elements that may move, see
/// `seam::hash_map` (a flat table).

#include "seam/containers/unordered_map.hpp"
#include "seam/containers/unordered_set.hpp"
