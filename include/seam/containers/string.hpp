#pragma once
/// \file
/// `seam::string`: `boost::container::basic_string` in the current arena.

#include <boost/container/string.hpp>
#include <string>

#include "seam/containers/allocator.hpp"

namespace seam {

/// A string whose characters live in an arena (short strings live inside the object).
template <class CharT, class Traits = std::char_traits<CharT>>
using basic_string = boost::container::basic_string<CharT, Traits, allocator<CharT>>;
using string = basic_string<char>;

}  // namespace seam
