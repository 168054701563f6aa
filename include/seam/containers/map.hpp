#pragma once
/// \file
/// `seam::map` and `seam::multimap`: ordered trees in the current arena.

#include <concepts>
#include <functional>
#include <initializer_list>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>

#include "seam/containers/allocator.hpp"
#include "seam/containers/detail/keys.hpp"
#include "seam/containers/detail/tree.hpp"
#include "seam/containers/less.hpp"

namespace seam {

namespace detail {

template <class K, class T, class Compare, bool Unique>
using map_tree = tree<map_elements<K, T>, Compare, allocator<std::pair<const K, T>>, Unique>;

/// `map::value_compare` and `multimap::value_compare`: compares elements by their keys.
template <class Value, class Compare>
class map_value_compare {
 public:
  explicit map_value_compare(Compare comp) : m_comp(std::move(comp)) {}
  bool operator()(const Value& a, const Value& b) const { return m_comp(a.first, b.first); }

 protected:
  Compare m_comp;
};

}  // namespace detail

/// An ordered map in an arena: the interface of `std::map`, as a red-black tree whose nodes
/// link to each other by self-relative offsets.
///
/// Built for an arena: make it with `arena.make<seam::map<K, T>>()` (or keep the map object
/// anywhere and only its nodes in the arena); nodes come from `seam::allocator` (the thread's
/// current arena), elements are built in place with no allocator plumbing, so `m[key]` with a
/// `seam::vector` mapped type just works under an `arena_scope`. The map holds no raw pointer:
/// another process reads it as `const map&` from an `arena_view`, at any address. Const
/// members (`find`, `lower_bound`, `count`, `at`, iteration, comparisons) only read, so they
/// work on a read-only mapping. With the default `seam::less`, lookups of `seam::string` keys
/// (`find`, `count`, `contains`, `equal_range`, `lower_bound`, `upper_bound`, `at`) accept a
/// `const char*`, a `std::string_view` or a `std::string` and build no key: a reader process,
/// which has no arena, looks up by any string.
///
/// Which process may touch it: only the arena's owner changes it, with the scope of the arena
/// that holds it active (nodes are allocated in the current arena; erasing needs no scope);
/// any process that maps the arena may call const members. Thread-safety: that of the std
/// containers (concurrent const calls are fine), across processes too.
///
/// As `std::map`: insertions and erasures invalidate no iterator or reference but those to
/// erased elements; a throw during an insertion leaves the map unchanged. Moving or swapping
/// maps moves no element. Missing: node handles (`extract`, `merge`, `insert(node_type)`).
template <class Key, class T, class Compare = seam::less<Key>>
class map : public detail::map_tree<Key, T, Compare, true> {
  using base = detail::map_tree<Key, T, Compare, true>;

 public:
  /// The type of the values keys map to.
  using mapped_type = T;
  using typename base::const_iterator;
  using typename base::iterator;
  using typename base::key_type;
  using typename base::size_type;
  using typename base::value_type;

  /// Orders elements by their keys.
  using value_compare = detail::map_value_compare<value_type, Compare>;

  using base::base;
  map() = default;
  /// Replaces the contents with `values`.
  map& operator=(std::initializer_list<value_type> values) {
    base::operator=(values);
    return *this;
  }

  /// The comparison of elements (by key).
  value_compare value_comp() const { return value_compare(this->key_comp()); }

  using base::insert;
  /// Inserts anything a `value_type` can be built from, e.g. a `std::pair<K, T>`.
  template <detail::insertable_as<value_type> P>
  std::pair<iterator, bool> insert(P&& value) {
    return this->emplace(std::forward<P>(value));
  }
  /// Inserts `value`; the hint is accepted for compatibility with `std::` containers.
  template <detail::insertable_as<value_type> P>
  iterator insert(const_iterator hint, P&& value) {
    return this->emplace_hint(hint, std::forward<P>(value));
  }

  /// Inserts `T(args…)` under `key` unless the key is present; then `args` are not touched.
  template <class... Args>
  std::pair<iterator, bool> try_emplace(const key_type& key, Args&&... args) {
    return this->emplace_key(key, std::piecewise_construct, std::forward_as_tuple(key),
                             std::forward_as_tuple(std::forward<Args>(args)...));
  }
  /// As the overload above, for this form of key and hint (as `std::map::try_emplace`).
  template <class... Args>
  std::pair<iterator, bool> try_emplace(key_type&& key, Args&&... args) {
    return this->emplace_key(key, std::piecewise_construct, std::forward_as_tuple(std::move(key)),
                             std::forward_as_tuple(std::forward<Args>(args)...));
  }
  /// As the overload above, for this form of key and hint (as `std::map::try_emplace`).
  template <class... Args>
  iterator try_emplace(const_iterator hint, const key_type& key, Args&&... args) {
    return this->emplace_hint_key(hint, key, std::piecewise_construct, std::forward_as_tuple(key),
                                  std::forward_as_tuple(std::forward<Args>(args)...));
  }
  /// As the overload above, for this form of key and hint (as `std::map::try_emplace`).
  template <class... Args>
  iterator try_emplace(const_iterator hint, key_type&& key, Args&&... args) {
    return this->emplace_hint_key(hint, key, std::piecewise_construct,
                                  std::forward_as_tuple(std::move(key)),
                                  std::forward_as_tuple(std::forward<Args>(args)...));
  }

  /// Inserts `value` under `key`, or assigns it to the present element.
  template <class M>
  std::pair<iterator, bool> insert_or_assign(const key_type& key, M&& value) {
    auto result = try_emplace(key, std::forward<M>(value));
    if (!result.second) result.first->second = std::forward<M>(value);
    return result;
  }
  /// As the overload above, for this form of key and hint (as `std::map::insert_or_assign`).
  template <class M>
  std::pair<iterator, bool> insert_or_assign(key_type&& key, M&& value) {
    auto result = try_emplace(std::move(key), std::forward<M>(value));
    if (!result.second) result.first->second = std::forward<M>(value);
    return result;
  }
  /// As the overload above, for this form of key and hint (as `std::map::insert_or_assign`).
  template <class M>
  iterator insert_or_assign(const_iterator hint, const key_type& key, M&& value) {
    const size_type before = this->size();
    iterator it = try_emplace(hint, key, std::forward<M>(value));
    if (this->size() == before) it->second = std::forward<M>(value);  // the key was present
    return it;
  }
  /// As the overload above, for this form of key and hint (as `std::map::insert_or_assign`).
  template <class M>
  iterator insert_or_assign(const_iterator hint, key_type&& key, M&& value) {
    const size_type before = this->size();
    iterator it = try_emplace(hint, std::move(key), std::forward<M>(value));
    if (this->size() == before) it->second = std::forward<M>(value);  // the key was present
    return it;
  }

  /// The value under `key`, value-initialised first if the key is absent (owner only).
  T& operator[](const key_type& key) { return try_emplace(key).first->second; }
  /// As the overload above, for a key that may be moved from.
  T& operator[](key_type&& key) { return try_emplace(std::move(key)).first->second; }

  /// The value under `key`; throws `std::out_of_range` if absent. The const form reads only.
  T& at(const key_type& key) { return checked(this->find(key)); }
  /// As the overload above (constness, or a key of another type compared transparently).
  const T& at(const key_type& key) const { return checked(this->find(key)); }
  /// As the overload above (constness, or a key of another type compared transparently).
  template <detail::lookup_key<Compare> K>
  T& at(const K& key) {
    return checked(this->find(key));
  }
  /// As the overload above (constness, or a key of another type compared transparently).
  template <detail::lookup_key<Compare> K>
  const T& at(const K& key) const {
    return checked(this->find(key));
  }

 private:
  template <class It>
  auto& checked(It it) const {
    if (it == this->cend()) throw std::out_of_range("seam::map::at: no such key");
    return it->second;
  }
};

/// An ordered map with equal keys allowed, kept in insertion order: the interface of
/// `std::multimap`, on the same tree and with the same contract as `seam::map`.
template <class Key, class T, class Compare = seam::less<Key>>
class multimap : public detail::map_tree<Key, T, Compare, false> {
  using base = detail::map_tree<Key, T, Compare, false>;

 public:
  /// The type of the values keys map to.
  using mapped_type = T;
  using typename base::const_iterator;
  using typename base::iterator;
  using typename base::value_type;

  /// Orders elements by their keys.
  using value_compare = detail::map_value_compare<value_type, Compare>;

  using base::base;
  multimap() = default;
  /// Replaces the contents with `values`.
  multimap& operator=(std::initializer_list<value_type> values) {
    base::operator=(values);
    return *this;
  }

  /// The comparison of elements (by key).
  value_compare value_comp() const { return value_compare(this->key_comp()); }

  using base::insert;
  /// Inserts anything a `value_type` can be built from, e.g. a `std::pair<K, T>`.
  template <detail::insertable_as<value_type> P>
  iterator insert(P&& value) {
    return this->emplace(std::forward<P>(value));
  }
  /// Inserts `value`; the hint is accepted for compatibility with `std::` containers.
  template <detail::insertable_as<value_type> P>
  iterator insert(const_iterator hint, P&& value) {
    return this->emplace_hint(hint, std::forward<P>(value));
  }
};

}  // namespace seam
