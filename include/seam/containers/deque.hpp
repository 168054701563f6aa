#pragma once
/// \file
/// `seam::deque`: `boost::container::deque` in the current arena.

#include <boost/container/deque.hpp>

#include "seam/containers/allocator.hpp"

namespace seam {

/// A double-ended queue in an arena.
template <class T>
using deque = boost::container::deque<T, allocator<T>>;

}  // namespace seam
