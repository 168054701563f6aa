#pragma once
/// \file
/// `seam::detail::hash_table`: the interface of `std::unordered_map` / `std::unordered_set` on
/// the flat table of `hash_core.hpp` (its layout, probing and growth are described there).
/// `seam::hash_map` and `seam::hash_set` derive from it.

#include <algorithm>
#include <cstddef>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "seam/arena/assert.hpp"
#include "seam/containers/detail/hash_core.hpp"
#include "seam/containers/detail/hash_iterator.hpp"
#include "seam/containers/detail/keys.hpp"

namespace seam::detail {

/// The table shared by `seam::hash_map` and `seam::hash_set`; see those for the contract.
/// `Alloc` must be stateless (`seam::allocator`, `std::allocator`): like the trees, the table
/// stores no allocator, and the allocator arguments of the constructors are not used.
template <class Policy, class Hash, class Eq, class Alloc>
class hash_table : private hash_core<Policy, Hash, Eq, Alloc> {
  using core = hash_core<Policy, Hash, Eq, Alloc>;
  static constexpr bool k_nothrow_default =
      std::is_nothrow_default_constructible_v<Hash> && std::is_nothrow_default_constructible_v<Eq>;
  using typename core::slot_alloc;
  using typename core::slot_traits;
  using typename core::slot_type;

 public:
  using key_type = typename Policy::key_type;
  using value_type = typename Policy::value_type;
  using size_type = std::size_t;
  using difference_type = std::ptrdiff_t;
  using hasher = Hash;
  using key_equal = Eq;
  using allocator_type = Alloc;
  using reference = value_type&;
  using const_reference = const value_type&;
  using pointer = typename std::allocator_traits<Alloc>::pointer;
  using const_pointer = typename std::allocator_traits<Alloc>::const_pointer;
  using iterator = hash_iterator<typename Policy::exposed_type>;
  using const_iterator = hash_iterator<const value_type>;

  // --- Construction, assignment, destruction. Copies allocate in the current arena. ---
  hash_table() noexcept(k_nothrow_default) = default;
  explicit hash_table(size_type bucket_count, const Hash& hash = Hash(), const Eq& eq = Eq(),
                      const Alloc& = Alloc())
      : core(hash, eq) {
    rehash(bucket_count);
  }
  explicit hash_table(const Alloc&) {}
  // The delegating constructors below make the object complete before the first insertion, so
  // that the destructor frees what was inserted if a later insertion throws.
  template <std::input_iterator It>
  hash_table(It first, It last, size_type bucket_count = 0, const Hash& hash = Hash(),
             const Eq& eq = Eq(), const Alloc& alloc = Alloc())
      : hash_table(bucket_count, hash, eq, alloc) {
    insert(first, last);
  }
  hash_table(std::initializer_list<value_type> values, size_type bucket_count = 0,
             const Hash& hash = Hash(), const Eq& eq = Eq(), const Alloc& alloc = Alloc())
      : hash_table(values.begin(), values.end(), bucket_count, hash, eq, alloc) {}
  hash_table(const hash_table&) = default;
  hash_table(const hash_table& other, const Alloc&) : hash_table(other) {}
  /// Takes the slots of `other` (no allocation); `other` is left empty.
  hash_table(hash_table&&) noexcept = default;
  hash_table(hash_table&& other, const Alloc&) noexcept : hash_table(std::move(other)) {}
  hash_table& operator=(const hash_table&) = default;
  hash_table& operator=(hash_table&&) noexcept = default;
  hash_table& operator=(std::initializer_list<value_type> values) {
    clear();
    insert(values);
    return *this;
  }
  /// Destroys the elements and frees the slots, in the arena they came from.
  ~hash_table() = default;

  allocator_type get_allocator() const noexcept { return allocator_type(); }
  hasher hash_function() const { return this->m_hash; }
  key_equal key_eq() const { return this->m_eq; }

  // --- Iteration and size: const, safe on a read-only mapping. ---
  iterator begin() noexcept { return this->template first_from<iterator>(0); }
  const_iterator begin() const noexcept { return this->template first_from<const_iterator>(0); }
  const_iterator cbegin() const noexcept { return begin(); }
  iterator end() noexcept { return this->template iterator_at<iterator>(this->m_capacity); }
  const_iterator end() const noexcept {
    return this->template iterator_at<const_iterator>(this->m_capacity);
  }
  const_iterator cend() const noexcept { return end(); }

  bool empty() const noexcept { return this->m_size == 0; }
  size_type size() const noexcept { return this->m_size; }
  size_type max_size() const noexcept { return this->max_slots(); }
  /// Slots in the table (a power of two, at least 16, or 0 before the first insert).
  size_type bucket_count() const noexcept { return this->m_capacity; }
  float load_factor() const noexcept {
    return this->m_capacity == 0
               ? 0.0f
               : static_cast<float>(this->m_size) / static_cast<float>(this->m_capacity);
  }
  float max_load_factor() const noexcept { return this->m_max_load; }
  /// Sets the highest load before the table grows; clamped to [0.25, 0.95] because an open
  /// table needs free slots to end its probes and very sparse tables waste memory.
  void max_load_factor(float ml) {
    this->m_max_load = std::clamp(ml, 0.25f, 0.95f);
    if (this->m_capacity == 0) return;
    this->m_growth_limit = this->growth_limit(this->m_capacity);
    if (this->m_size + this->m_tombstones > this->m_growth_limit) {
      this->resize(this->capacity_for(this->m_size));
    }
  }
  /// Groups a lookup of `key` examines (1 in a healthy table). For tests and tuning.
  template <class K>
  size_type probe_length(const K& key) const {
    size_type groups = 0;
    this->find_index(key, [&groups] { ++groups; });
    return groups;
  }

  // --- Lookup: const, safe on a read-only mapping. Heterogeneous if Hash and Eq are. ---
  iterator find(const key_type& key) { return at_index<iterator>(this->find_index(key)); }
  const_iterator find(const key_type& key) const {
    return at_index<const_iterator>(this->find_index(key));
  }
  template <lookup_key<Hash, Eq> K>
  iterator find(const K& key) {
    return at_index<iterator>(this->find_index(key));
  }
  template <lookup_key<Hash, Eq> K>
  const_iterator find(const K& key) const {
    return at_index<const_iterator>(this->find_index(key));
  }
  bool contains(const key_type& key) const { return this->find_index(key) != this->m_capacity; }
  template <lookup_key<Hash, Eq> K>
  bool contains(const K& key) const {
    return this->find_index(key) != this->m_capacity;
  }
  size_type count(const key_type& key) const { return contains(key) ? 1 : 0; }
  template <lookup_key<Hash, Eq> K>
  size_type count(const K& key) const {
    return contains(key) ? 1 : 0;
  }
  std::pair<iterator, iterator> equal_range(const key_type& key) {
    const iterator it = find(key);
    return {it, it == end() ? it : std::next(it)};
  }
  std::pair<const_iterator, const_iterator> equal_range(const key_type& key) const {
    const const_iterator it = find(key);
    return {it, it == end() ? it : std::next(it)};
  }

  // --- Changes: owner only, with the arena's scope active if the allocator needs it. ---
  // Any insertion may rehash, which invalidates iterators and references; arguments must not
  // refer to elements of the table itself.
  std::pair<iterator, bool> insert(const value_type& value) { return emplace(value); }
  std::pair<iterator, bool> insert(value_type&& value) { return emplace(std::move(value)); }
  iterator insert(const_iterator, const value_type& value) { return emplace(value).first; }
  iterator insert(const_iterator, value_type&& value) { return emplace(std::move(value)).first; }
  template <std::input_iterator It>
  void insert(It first, It last) {
    if constexpr (std::forward_iterator<It>) reserve(size() + std::distance(first, last));
    for (; first != last; ++first) emplace(*first);
  }
  void insert(std::initializer_list<value_type> values) { insert(values.begin(), values.end()); }

  /// Inserts a value built from `args` unless its key is present. Builds it in its slot when
  /// the key can be read from the arguments, else builds it first and moves it in.
  template <class... Args>
  std::pair<iterator, bool> emplace(Args&&... args) {
    if constexpr (Policy::template key_in_args<Args...>) {
      return emplace_at_key(Policy::key_of_args(args...), std::forward<Args>(args)...);
    } else {
      slot_type value(std::forward<Args>(args)...);
      const auto [index, h2, inserted] = this->prepare_insert(Policy::key(value));
      if (inserted) {
        slot_alloc alloc;
        Policy::transfer(alloc, this->slot_at(index), &value);
        this->commit(index, h2);
      }
      return {at_index<iterator>(index), inserted};
    }
  }
  template <class... Args>
  iterator emplace_hint(const_iterator, Args&&... args) {
    return emplace(std::forward<Args>(args)...).first;
  }

  /// Erases the element at `pos` and returns an iterator to the next one. Other iterators
  /// stay valid: erasing never moves elements.
  iterator erase(const_iterator pos) {
    SEAM_ASSERT(pos != end(), "seam::hash_table::erase: end()");
    const size_type index = this->index_of(pos);
    this->erase_at(index);
    return this->template first_from<iterator>(index);
  }
  iterator erase(iterator pos) requires(!std::is_same_v<iterator, const_iterator>) {
    return erase(const_iterator(pos));
  }
  iterator erase(const_iterator first, const_iterator last) {
    while (first != last) first = erase(first);
    return this->template iterator_at<iterator>(this->index_of(last));
  }
  size_type erase(const key_type& key) { return erase_keyed(key); }
  template <erase_key<iterator, const_iterator, Hash, Eq> K>
  size_type erase(K&& key) {
    return erase_keyed(key);
  }

  /// Destroys every element; keeps the slots (like `std::unordered_map::clear`).
  void clear() noexcept { this->clear_slots(); }

  void swap(hash_table& other) noexcept { this->swap_core(other); }
  friend void swap(hash_table& a, hash_table& b) noexcept { a.swap(b); }

  /// Makes room for `count` elements without another rehash.
  void reserve(size_type count) {
    const size_type used = this->m_size + this->m_tombstones;
    if (count > this->m_size && count - this->m_size > this->m_growth_limit - used) {
      this->resize(std::max(this->m_capacity, this->capacity_for(count)));
    }
  }
  /// Rebuilds the table with at least `bucket_count` slots (and enough for its elements);
  /// drops tombstones. `rehash(0)` shrinks to fit, freeing everything if the table is empty.
  void rehash(size_type bucket_count) {
    if (bucket_count > max_size()) throw std::length_error("seam::hash_table: too many buckets");
    size_type target = this->capacity_for(this->m_size);
    if (bucket_count > target) target = std::bit_ceil(std::max(bucket_count, k_group_width));
    if (target != this->m_capacity || this->m_tombstones != 0) this->resize(target);
  }

  /// Equal if both hold the same keys with equal values (order does not matter).
  friend bool operator==(const hash_table& a, const hash_table& b) {
    if (a.size() != b.size()) return false;
    for (const auto& v : a) {
      const auto it = b.find(Policy::key(v));
      if (it == b.end() || !(*it == v)) return false;
    }
    return true;
  }

 protected:
  template <class K, class... Args>
  std::pair<iterator, bool> emplace_at_key(const K& key, Args&&... args) {
    const auto [index, h2, inserted] = this->prepare_insert(key);
    if (inserted) {
      slot_alloc alloc;
      slot_traits::construct(alloc, this->slot_at(index), std::forward<Args>(args)...);
      this->commit(index, h2);
    }
    return {at_index<iterator>(index), inserted};
  }

  template <class It>
  It at_index(size_type index) const noexcept {
    return this->template iterator_at<It>(index);
  }

 private:
  template <class K>
  size_type erase_keyed(const K& key) {
    const size_type index = this->find_index(key);
    if (index == this->m_capacity) return 0;
    this->erase_at(index);
    return 1;
  }
};

}  // namespace seam::detail
