#pragma once
/// \file
/// How `emplace` of a map (`seam::map`, `seam::hash_map`) finds the key in its arguments
/// without building an element, so that an emplace of a present key allocates nothing.

#include <tuple>
#include <type_traits>

namespace seam::detail {

/// For maps of `std::pair<const K, V>` elements; the maps' element policies derive from it.
template <class K>
struct pair_keys {
  /// True if the arguments of `emplace` name the key without building a value: (key, mapped)
  /// or a pair whose first member is a key.
  template <class... Args>
  static constexpr bool key_in_args = [] {
    if constexpr (sizeof...(Args) == 2) {
      return std::is_same_v<std::remove_cvref_t<std::tuple_element_t<0, std::tuple<Args...>>>, K>;
    } else if constexpr (sizeof...(Args) == 1) {
      using arg = std::remove_cvref_t<std::tuple_element_t<0, std::tuple<Args...>>>;
      if constexpr (requires { typename arg::first_type; }) {
        return std::is_same_v<std::remove_cv_t<typename arg::first_type>, K>;
      }
    }
    return false;
  }();
  /// The key in arguments for which `key_in_args` holds.
  template <class First, class... Rest>
  static const K& key_of_args(const First& first, const Rest&...) noexcept {
    if constexpr (sizeof...(Rest) == 1) {
      return first;
    } else {
      return first.first;
    }
  }
};

}  // namespace seam::detail
