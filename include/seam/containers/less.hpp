#pragma once
/// \file
/// `seam::less`: the default order of `seam::map`, `multimap`, `set` and `multiset`.

#include <functional>
#include <string_view>

#include "seam/containers/hash.hpp"

namespace seam {

/// The default key order of Seam's ordered containers: `std::less<K>`, and for string keys a
/// transparent comparison of characters, so that a `seam::map<seam::string, …>` is searched
/// with a `const char*`, a `std::string_view` or a `std::string` without building a key: a
/// reader process, which has no arena to build a `seam::string` in, looks up by any string.
/// Stateless; any thread; may live in shared memory.
template <class K>
struct less : std::less<K> {};

/// The order of string keys: by characters, as `std::string_view` compares them (any string type
/// with any other).
template <detail::char_string K>
struct less<K> {
  /// Enables heterogeneous lookup: `find(std::string_view)` on string keys.
  using is_transparent = void;

  /// The hash, or the comparison, of its arguments.
  template <detail::string_key A, detail::string_key B>
  bool operator()(const A& a, const B& b) const noexcept {
    return detail::as_string_view(a) < detail::as_string_view(b);
  }
};

}  // namespace seam
