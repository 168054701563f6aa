#pragma once
/// \file
/// `seam::unordered_map` and `seam::unordered_multimap`: node-based hash tables in the current
/// arena.

#include <initializer_list>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>

#include "seam/containers/allocator.hpp"
#include "seam/containers/detail/keys.hpp"
#include "seam/containers/detail/node_table.hpp"
#include "seam/containers/hash.hpp"

namespace seam {

namespace detail {

template <class K, class T, class Hash, class Eq, bool Unique>
using map_node_table =
    node_table<map_elements<K, T>, Hash, Eq, allocator<std::pair<const K, T>>, Unique>;

}  // namespace detail

/// A hash map in an arena: the interface of `std::unordered_map`, as a table of chained nodes
/// whose links are self-relative offsets.
///
/// Built for an arena: make it with `arena.make<seam::unordered_map<K, T>>()` (or keep the map
/// object anywhere and only its buckets and nodes in the arena); they come from
/// `seam::allocator` (the thread's current arena), and elements are built in place with no
/// allocator plumbing. The map holds no raw pointer and nothing of one process (the default
/// `seam::hash` has no seed): another process reads it as `const unordered_map&` from an
/// `arena_view`, at any address. Const members (`find`, `count`, `contains`, `equal_range`,
/// `at`, iteration, the bucket interface) only read, so they work on a read-only mapping. With
/// the default `seam::hash` and `seam::equal_to`, `seam::string` keys are looked up by
/// `const char*`, `std::string_view` or `std::string` without building a key (so a reader,
/// which has no arena to build one in, can look up).
///
/// Which process may touch it: only the arena's owner changes it, with the scope of the arena
/// that holds it active (nodes are allocated in the current arena; erasing needs no scope);
/// any process that maps the arena may call const members. Thread-safety: that of the std
/// containers (concurrent const calls are fine), across processes too.
///
/// As `std::unordered_map`: elements never move, so references and pointers to them stay valid
/// until they are erased, across rehashes too; insertions invalidate iterators only when they
/// rehash; a throw during an insertion leaves the elements unchanged. Moving or swapping maps
/// moves no element. The bucket interface is real: each bucket is one chain, `begin(n)` walks
/// it. Differences: the bucket count is a power of two (`rehash(n)` rounds up), 0 before the
/// first insertion and after `rehash(0)` of an empty map; `max_load_factor` is at least 1/16;
/// insertion hints are ignored. Missing: node handles (`extract`, `merge`,
/// `insert(node_type)`). Iteration order is neither insertion nor hash order.
///
/// Bytes read from another process: a lookup visits at most `size()` nodes, so a corrupt chain
/// cannot make it loop forever; the links themselves are trusted, as in every node container.
template <class Key, class T, class Hash = seam::hash<Key>, class Eq = seam::equal_to<Key>>
class unordered_map : public detail::map_node_table<Key, T, Hash, Eq, true> {
  using base = detail::map_node_table<Key, T, Hash, Eq, true>;

 public:
  /// The type of the values keys map to.
  using mapped_type = T;
  using typename base::const_iterator;
  using typename base::iterator;
  using typename base::key_type;
  using typename base::size_type;
  using typename base::value_type;

  using base::base;
  unordered_map() = default;
  /// Replaces the contents with `values`.
  unordered_map& operator=(std::initializer_list<value_type> values) {
    base::operator=(values);
    return *this;
  }

  using base::insert;
  /// Inserts anything a `value_type` can be built from, e.g. a `std::pair<K, T>`.
  template <detail::insertable_as<value_type> P>
  std::pair<iterator, bool> insert(P&& value) {
    return this->emplace(std::forward<P>(value));
  }
  /// Inserts `value`; the hint is accepted for compatibility with `std::` containers.
  template <detail::insertable_as<value_type> P>
  iterator insert(const_iterator, P&& value) {
    return this->emplace(std::forward<P>(value)).first;
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
  iterator try_emplace(const_iterator, const key_type& key, Args&&... args) {
    return try_emplace(key, std::forward<Args>(args)...).first;
  }
  /// As the overload above, for this form of key and hint (as `std::map::try_emplace`).
  template <class... Args>
  iterator try_emplace(const_iterator, key_type&& key, Args&&... args) {
    return try_emplace(std::move(key), std::forward<Args>(args)...).first;
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
  iterator insert_or_assign(const_iterator, const key_type& key, M&& value) {
    return insert_or_assign(key, std::forward<M>(value)).first;
  }
  /// As the overload above, for this form of key and hint (as `std::map::insert_or_assign`).
  template <class M>
  iterator insert_or_assign(const_iterator, key_type&& key, M&& value) {
    return insert_or_assign(std::move(key), std::forward<M>(value)).first;
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
  template <detail::lookup_key<Hash, Eq> K>
  T& at(const K& key) {
    return checked(this->find(key));
  }
  /// As the overload above (constness, or a key of another type compared transparently).
  template <detail::lookup_key<Hash, Eq> K>
  const T& at(const K& key) const {
    return checked(this->find(key));
  }

 private:
  template <class It>
  auto& checked(It it) const {
    if (it == this->cend()) throw std::out_of_range("seam::unordered_map::at: no such key");
    return it->second;
  }
};

/// A hash map with equal keys allowed: the interface of `std::unordered_multimap`, on the same
/// table and with the same contract as `seam::unordered_map`. Elements of equal keys are
/// adjacent in iteration and kept in insertion order, across rehashes too.
template <class Key, class T, class Hash = seam::hash<Key>, class Eq = seam::equal_to<Key>>
class unordered_multimap : public detail::map_node_table<Key, T, Hash, Eq, false> {
  using base = detail::map_node_table<Key, T, Hash, Eq, false>;

 public:
  /// The type of the values keys map to.
  using mapped_type = T;
  using typename base::const_iterator;
  using typename base::iterator;
  using typename base::value_type;

  using base::base;
  unordered_multimap() = default;
  /// Replaces the contents with `values`.
  unordered_multimap& operator=(std::initializer_list<value_type> values) {
    base::operator=(values);
    return *this;
  }

  using base::insert;
  /// Inserts anything a `value_type` can be built from, e.g. a `std::pair<K, T>`.
  template <detail::insertable_as<value_type> P>
  iterator insert(P&& value) {
    return this->emplace(std::forward<P>(value));
  }
  /// Inserts `value`; the hint is accepted for compatibility with `std::` containers.
  template <detail::insertable_as<value_type> P>
  iterator insert(const_iterator, P&& value) {
    return this->emplace(std::forward<P>(value));
  }
};

}  // namespace seam
