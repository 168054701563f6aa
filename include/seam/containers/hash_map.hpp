#pragma once
/// \file
/// `seam::hash_map` and `seam::hash_set`: flat open-addressing hash tables for shared memory.

#include <concepts>
#include <memory>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>

#include "seam/containers/allocator.hpp"
#include "seam/containers/detail/hash_table.hpp"
#include "seam/containers/detail/keys.hpp"
#include "seam/containers/hash.hpp"

namespace seam {

namespace detail {

/// Where a slot's value is: map slots hold `std::pair<const K, V>`, set slots hold `K`.
template <class K, class V>
struct map_policy : map_elements<K, V> {
  using typename map_elements<K, V>::value_type;
  using slot_type = value_type;
  using exposed_type = value_type;  // what a (non-const) iterator shows

  /// Builds `*dst` from `*src`, moving if that cannot throw (so a rehash that fails leaves the
  /// old slots intact). The key is moved out of its `const` member: the source slot is
  /// destroyed right after, and nothing else sees it in between (the same licence
  /// `std::map::extract` node handles take).
  template <class A>
  static void transfer(A& alloc, slot_type* dst, slot_type* src) {
    std::allocator_traits<A>::construct(
        alloc, dst, std::piecewise_construct,
        std::forward_as_tuple(std::move_if_noexcept(const_cast<K&>(src->first))),
        std::forward_as_tuple(std::move_if_noexcept(src->second)));
  }
};

template <class K>
struct set_policy : set_elements<K> {
  using slot_type = K;
  using exposed_type = const K;  // a set's elements are never changed in place

  template <class A>
  static void transfer(A& alloc, slot_type* dst, slot_type* src) {
    std::allocator_traits<A>::construct(alloc, dst, std::move_if_noexcept(*src));
  }
};

}  // namespace detail

/// A hash map whose elements live in one flat array: the interface of `std::unordered_map`,
/// with the speed of a Swiss table, that other processes can read in place.
///
/// Built for an arena: make it with `arena.make<seam::hash_map<K, V>>()`; its slots come from
/// `Allocator` (by default `seam::allocator`, i.e. the thread's current arena; like every Seam
/// container it must be stateless, and no allocator object is stored) and are reached through
/// one self-relative offset, so the table holds no raw pointer and reads the same from any
/// address. Other processes read it as `const hash_map&` from an `arena_view`: every const
/// member (`find`, `contains`, `count`, `at`, iteration, `size`) only reads, so it works on a
/// read-only mapping, and the default `seam::hash` gives the same slots in every process.
/// A lookup adds one offset and usually examines one group of 16 control bytes (SSE2) and one
/// slot; the node-based `seam::unordered_map` follows a pointer per node.
///
/// Which process may touch it: only the arena's owner changes it, with the scope of the arena
/// that holds the table active (`seam::allocator` allocates in the current arena: slots in
/// another arena would be out of the readers' reach); any process that maps the arena may
/// call const members.
/// Thread-safety: none, like the std containers: concurrent const calls are fine, a change
/// needs exclusive access — across processes too (a reader sees no consistent snapshot
/// while the owner writes; that is the lend protocol's job).
///
/// Differences from `std::unordered_map`: insertions may move elements (rehash), so they
/// invalidate iterators, pointers and references, and their arguments must not refer to
/// elements of the table; erasing invalidates only the erased element's. There are no bucket
/// interfaces; `bucket_count()` is the number of slots. Keys are `const` in the slot as in std (a
/// rehash moves them out, as node handles do). With `Hash` and `Eq` transparent (the defaults are,
/// for string keys), `find`, `contains`, `count`, `at` and `erase` accept any comparable key, e.g.
/// a `std::string_view` for a `seam::string` key, without building a key.
template <class K, class V, class Hash = seam::hash<K>, class Eq = seam::equal_to<K>,
          class Allocator = seam::allocator<std::pair<const K, V>>>
class hash_map : public detail::hash_table<detail::map_policy<K, V>, Hash, Eq, Allocator> {
  using base = detail::hash_table<detail::map_policy<K, V>, Hash, Eq, Allocator>;

 public:
  /// The type of the values keys map to.
  using mapped_type = V;
  using typename base::const_iterator;
  using typename base::iterator;
  using typename base::key_type;
  using typename base::size_type;
  using typename base::value_type;

  using base::base;
  hash_map() = default;
  /// Replaces the contents with `values`.
  hash_map& operator=(std::initializer_list<value_type> values) {
    base::operator=(values);
    return *this;
  }

  using base::insert;
  /// Inserts anything a `value_type` can be built from, e.g. a `std::pair<K, V>`.
  template <detail::insertable_as<value_type> P>
  std::pair<iterator, bool> insert(P&& value) {
    return this->emplace(std::forward<P>(value));
  }

  /// Inserts `V(args…)` under `key` unless the key is present; then `args` are not used.
  template <class... Args>
  std::pair<iterator, bool> try_emplace(const key_type& key, Args&&... args) {
    return this->emplace_at_key(key, std::piecewise_construct, std::forward_as_tuple(key),
                                std::forward_as_tuple(std::forward<Args>(args)...));
  }
  /// As the overload above, for this form of key and hint (as `std::map::try_emplace`).
  template <class... Args>
  std::pair<iterator, bool> try_emplace(key_type&& key, Args&&... args) {
    return this->emplace_at_key(key, std::piecewise_construct,
                                std::forward_as_tuple(std::move(key)),
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

  /// The value under `key`, value-initialised first if the key is absent (owner only).
  V& operator[](const key_type& key) { return try_emplace(key).first->second; }
  /// As the overload above, for a key that may be moved from.
  V& operator[](key_type&& key) { return try_emplace(std::move(key)).first->second; }

  /// The value under `key`; throws `std::out_of_range` if absent. The const form reads only.
  V& at(const key_type& key) { return checked(this->find(key)); }
  /// As the overload above (constness, or a key of another type compared transparently).
  const V& at(const key_type& key) const { return checked(this->find(key)); }
  /// As the overload above (constness, or a key of another type compared transparently).
  template <detail::lookup_key<Hash, Eq> Key>
  V& at(const Key& key) {
    return checked(this->find(key));
  }
  /// As the overload above (constness, or a key of another type compared transparently).
  template <detail::lookup_key<Hash, Eq> Key>
  const V& at(const Key& key) const {
    return checked(this->find(key));
  }

 private:
  template <class It>
  auto& checked(It it) const {
    if (it == this->cend()) throw std::out_of_range("seam::hash_map::at: no such key");
    return it->second;
  }
};

/// A hash set on the same flat table as `seam::hash_map`; the same contract: lives in an
/// arena, changed only by the owner, read in place (const members) by any process that maps
/// it, no thread-safety beyond that of std containers, transparent lookups for strings.
/// Elements are immutable through iterators (`iterator` is `const_iterator`).
template <class K, class Hash = seam::hash<K>, class Eq = seam::equal_to<K>,
          class Allocator = seam::allocator<K>>
class hash_set : public detail::hash_table<detail::set_policy<K>, Hash, Eq, Allocator> {
  using base = detail::hash_table<detail::set_policy<K>, Hash, Eq, Allocator>;

 public:
  using typename base::value_type;

  using base::base;
  hash_set() = default;
  /// Replaces the contents with `values`.
  hash_set& operator=(std::initializer_list<value_type> values) {
    base::operator=(values);
    return *this;
  }
};

}  // namespace seam
