#pragma once
/// \file
/// `seam::vector`: `boost::container::vector` in the current arena.

#include <boost/container/vector.hpp>

#include "seam/containers/allocator.hpp"

namespace seam {

/// A vector whose elements live in an arena; see `seam::allocator` for where it allocates.
/// Readers in other processes use it through `const` access only.
template <class T>
using vector = boost::container::vector<T, allocator<T>>;

}  // namespace seam
