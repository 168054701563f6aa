#pragma once
/// \file
/// `seam::list`: `boost::container::list` in the current arena.

#include <boost/container/list.hpp>

#include "seam/containers/allocator.hpp"

namespace seam {

/// A doubly linked list in an arena.
template <class T>
using list = boost::container::list<T, allocator<T>>;

}  // namespace seam
