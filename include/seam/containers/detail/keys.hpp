#pragma once
/// \file
/// What every Seam container family (the trees, the flat tables, the node tables) shares about
/// keys and elements: which key types lookups accept, what `insert` takes besides an element,
/// how `emplace` finds the key in its arguments, and the element policies of maps and sets.

#include <concepts>
#include <tuple>
#include <type_traits>
#include <utility>

namespace seam::detail {

/// A comparator, hash or equality that accepts other types than the key (`std::less<>`,
/// `seam::hash<seam::string>`).
template <class T>
concept transparent = requires {
  typename T::is_transparent;
};

/// A key type that lookups accept besides `key_type`: any, if every function object that sees it
/// is transparent (`Compare` for a tree; `Hash` and `Eq` for a hash table), e.g. a
/// `std::string_view` for `seam::string` keys.
template <class K, class... Functions>
concept lookup_key = (transparent<Functions> && ...);

/// A lookup key for `erase(K&&)`, which must not catch iterators (those erase a position).
template <class K, class Iterator, class ConstIterator, class... Functions>
concept erase_key = lookup_key<K, Functions...> && !std::is_convertible_v<K, Iterator> &&
                    !std::is_convertible_v<K, ConstIterator>;

/// What `insert` takes besides a `Value`: anything a `Value` is built from.
template <class P, class Value>
concept insertable_as =
    std::constructible_from<Value, P&&> && !std::same_as<std::remove_cvref_t<P>, Value>;

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

/// The elements of a map: `std::pair<const K, T>`, keyed by `first`. The policy a container
/// family's map takes (flat tables add how a slot moves).
template <class K, class T>
struct map_elements : pair_keys<K> {
  using key_type = K;
  using value_type = std::pair<const K, T>;
  static constexpr bool const_elements = false;  // the mapped value may change in place

  static const K& key(const value_type& v) noexcept { return v.first; }
};

/// The elements of a set: the keys themselves, never changed in place.
template <class K>
struct set_elements {
  using key_type = K;
  using value_type = K;
  static constexpr bool const_elements = true;  // `iterator` is `const_iterator`

  static const K& key(const K& v) noexcept { return v; }

  /// True if `emplace(args…)` is given a key: it is looked up before an element is built.
  template <class... Args>
  static constexpr bool key_in_args = sizeof...(Args) == 1 &&
                                      (std::is_same_v<std::remove_cvref_t<Args>, K> && ...);
  static const K& key_of_args(const K& key) noexcept { return key; }
};

}  // namespace seam::detail
