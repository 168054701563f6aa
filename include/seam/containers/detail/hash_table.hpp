#pragma once
/// \file
/// `seam::detail::hash_table`: the open-addressing table behind `seam::hash_map` and
/// `seam::hash_set`.
///
/// Layout (a Swiss table with aligned groups): one allocation holds `capacity` control bytes,
/// one group of sentinel bytes, then `capacity` slots. A control byte is `k_empty`,
/// `k_deleted` (a tombstone) or, for a full slot, the low 7 bits of the key's hash ("h2").
/// The high bits ("h1") choose the first group of 16 slots to probe; a lookup compares h2
/// with the 16 control bytes of a group at once (SSE2), looks at the few slots that match,
/// and stops at the first group that has an empty byte. Groups are visited in triangular
/// order, which over a power-of-two number of groups reaches each group once.
///
/// The table reaches its allocation through one `Alloc::pointer` (a `seam::ptr` in an arena)
/// and holds no other pointer, so it works from any address a process maps it at; const
/// member functions write nothing, so they work on a read-only mapping.

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <memory>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>

#include "seam/arena/assert.hpp"
#include "seam/containers/detail/hash_group.hpp"
#include "seam/containers/detail/keys.hpp"
#include "seam/containers/hash.hpp"

namespace seam::detail {

/// The table shared by `seam::hash_map` and `seam::hash_set`; see those for the contract.
template <class Policy, class Hash, class Eq, class Alloc>
class hash_table {
  using slot_type = typename Policy::slot_type;
  using slot_alloc = typename std::allocator_traits<Alloc>::template rebind_alloc<slot_type>;
  using slot_traits = std::allocator_traits<slot_alloc>;
  // The allocation unit: aligned for the control bytes (SSE loads) and for the slots.
  static constexpr std::size_t k_unit = std::max(k_group_width, alignof(slot_type));
  struct alignas(k_unit) unit {
    unsigned char bytes[k_unit];
  };
  using unit_alloc = typename std::allocator_traits<Alloc>::template rebind_alloc<unit>;
  using unit_traits = std::allocator_traits<unit_alloc>;
  using unit_pointer = typename unit_traits::pointer;
  static constexpr std::size_t npos = std::numeric_limits<std::size_t>::max();
  static constexpr bool k_nothrow_default = std::is_nothrow_default_constructible_v<Hash> &&
                                            std::is_nothrow_default_constructible_v<Eq> &&
                                            std::is_nothrow_default_constructible_v<Alloc>;

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

  hash_table() noexcept(k_nothrow_default) = default;
  explicit hash_table(size_type bucket_count, const Hash& hash = Hash(), const Eq& eq = Eq(),
                      const Alloc& alloc = Alloc())
      : m_hash(hash), m_eq(eq), m_alloc(alloc) {
    rehash(bucket_count);
  }
  explicit hash_table(const Alloc& alloc) : m_alloc(alloc) {}
  template <std::input_iterator It>
  hash_table(It first, It last, size_type bucket_count = 0, const Hash& hash = Hash(),
             const Eq& eq = Eq(), const Alloc& alloc = Alloc())
      : hash_table(bucket_count, hash, eq, alloc) {
    insert(first, last);
  }
  hash_table(std::initializer_list<value_type> values, size_type bucket_count = 0,
             const Hash& hash = Hash(), const Eq& eq = Eq(), const Alloc& alloc = Alloc())
      : hash_table(values.begin(), values.end(), bucket_count, hash, eq, alloc) {}

  hash_table(const hash_table& other)
      : hash_table(other, std::allocator_traits<Alloc>::select_on_container_copy_construction(
                              other.m_alloc)) {}
  hash_table(const hash_table& other, const Alloc& alloc)
      : m_max_load(other.m_max_load), m_hash(other.m_hash), m_eq(other.m_eq), m_alloc(alloc) {
    copy_from(other);
  }
  hash_table(hash_table&& other) noexcept
      : m_storage(std::exchange(other.m_storage, unit_pointer())),
        m_capacity(std::exchange(other.m_capacity, 0)),
        m_size(std::exchange(other.m_size, 0)),
        m_tombstones(std::exchange(other.m_tombstones, 0)),
        m_growth_limit(std::exchange(other.m_growth_limit, 0)),
        m_max_load(other.m_max_load),
        m_hash(other.m_hash),
        m_eq(other.m_eq),
        m_alloc(std::move(other.m_alloc)) {}

  hash_table& operator=(const hash_table& other) {
    if (this != &other) {
      constexpr bool propagate =
          std::allocator_traits<Alloc>::propagate_on_container_copy_assignment::value;
      hash_table copy(other, propagate ? other.m_alloc : m_alloc);
      swap_all(copy);
    }
    return *this;
  }
  hash_table& operator=(hash_table&& other) noexcept(
      std::allocator_traits<Alloc>::is_always_equal::value ||
      std::allocator_traits<Alloc>::propagate_on_container_move_assignment::value) {
    if (this == &other) return *this;
    constexpr bool propagate =
        std::allocator_traits<Alloc>::propagate_on_container_move_assignment::value;
    if (propagate || m_alloc == other.m_alloc) {
      hash_table stolen(std::move(other));
      swap_all(stolen);
    } else {
      // Memory of another allocator cannot be adopted: move the elements one by one.
      clear();
      reserve(other.size());
      for (auto& v : other) emplace(std::move(v));
      other.clear();
    }
    return *this;
  }
  hash_table& operator=(std::initializer_list<value_type> values) {
    clear();
    insert(values);
    return *this;
  }

  /// Destroys the elements and frees the slots, in the arena they came from.
  ~hash_table() { release(); }

  allocator_type get_allocator() const noexcept { return m_alloc; }
  hasher hash_function() const { return m_hash; }
  key_equal key_eq() const { return m_eq; }

  // --- Iteration and size: const, safe on a read-only mapping. ---
  iterator begin() noexcept { return m_size == 0 ? end() : make_iterator<iterator>(0, true); }
  const_iterator begin() const noexcept {
    return m_size == 0 ? end() : make_iterator<const_iterator>(0, true);
  }
  const_iterator cbegin() const noexcept { return begin(); }
  iterator end() noexcept { return make_iterator<iterator>(m_capacity, false); }
  const_iterator end() const noexcept { return make_iterator<const_iterator>(m_capacity, false); }
  const_iterator cend() const noexcept { return end(); }

  bool empty() const noexcept { return m_size == 0; }
  size_type size() const noexcept { return m_size; }
  size_type max_size() const noexcept {
    return std::numeric_limits<difference_type>::max() / (sizeof(slot_type) + 1);
  }
  /// Slots in the table (a power of two, at least 16, or 0 before the first insert).
  size_type bucket_count() const noexcept { return m_capacity; }
  float load_factor() const noexcept {
    return m_capacity == 0 ? 0.0f : static_cast<float>(m_size) / static_cast<float>(m_capacity);
  }
  float max_load_factor() const noexcept { return m_max_load; }
  /// Sets the highest load before the table grows; clamped to [0.25, 0.95] because an open
  /// table needs free slots to end its probes and very sparse tables waste memory.
  void max_load_factor(float ml) {
    m_max_load = std::clamp(ml, 0.25f, 0.95f);
    if (m_capacity == 0) return;
    m_growth_limit = growth_limit(m_capacity);
    if (m_size + m_tombstones > m_growth_limit) resize(capacity_for(m_size));
  }
  /// Groups a lookup of `key` examines (1 in a healthy table). For tests and tuning.
  template <class K>
  size_type probe_length(const K& key) const {
    size_type groups = 0;
    find_index(key, [&groups] { ++groups; });
    return groups;
  }

  // --- Lookup: const, safe on a read-only mapping. Heterogeneous if Hash and Eq are. ---
  iterator find(const key_type& key) { return iterator_at<iterator>(find_index(key)); }
  const_iterator find(const key_type& key) const {
    return iterator_at<const_iterator>(find_index(key));
  }
  template <lookup_key<Hash, Eq> K>
  iterator find(const K& key) {
    return iterator_at<iterator>(find_index(key));
  }
  template <lookup_key<Hash, Eq> K>
  const_iterator find(const K& key) const {
    return iterator_at<const_iterator>(find_index(key));
  }
  bool contains(const key_type& key) const { return find_index(key) != npos; }
  template <lookup_key<Hash, Eq> K>
  bool contains(const K& key) const {
    return find_index(key) != npos;
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
      const auto [index, h, inserted] = prepare_insert(Policy::key(value));
      if (inserted) {
        slot_alloc alloc(m_alloc);
        Policy::transfer(alloc, slot_at(index), &value);
        commit(index, h);
      }
      return {iterator_at<iterator>(index), inserted};
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
    const auto index = static_cast<size_type>(pos.m_ctrl - ctrl_ptr());
    erase_at(index);
    iterator next(ctrl_ptr() + index, slot_at(index));
    next.skip_free();
    return next;
  }
  iterator erase(iterator pos) requires(!std::is_same_v<iterator, const_iterator>) {
    return erase(const_iterator(pos));
  }
  iterator erase(const_iterator first, const_iterator last) {
    while (first != last) first = erase(first);
    return make_iterator<iterator>(static_cast<size_type>(last.m_ctrl - ctrl_ptr()), false);
  }
  size_type erase(const key_type& key) { return erase_keyed(key); }
  template <erase_key<iterator, const_iterator, Hash, Eq> K>
  size_type erase(K&& key) {
    return erase_keyed(key);
  }

  /// Destroys every element; keeps the slots (like `std::unordered_map::clear`).
  void clear() noexcept {
    if (m_capacity == 0) return;
    destroy_all();
    std::memset(ctrl_ptr(), static_cast<unsigned char>(k_empty), m_capacity);
    m_size = 0;
    m_tombstones = 0;
  }

  void swap(hash_table& other) noexcept { swap_all(other); }
  friend void swap(hash_table& a, hash_table& b) noexcept { a.swap(b); }

  /// Makes room for `count` elements without another rehash.
  void reserve(size_type count) {
    if (count > m_size && count - m_size > m_growth_limit - m_size - m_tombstones) {
      resize(std::max(m_capacity, capacity_for(count)));
    }
  }
  /// Rebuilds the table with at least `bucket_count` slots (and enough for its elements);
  /// drops tombstones. `rehash(0)` shrinks to fit, freeing everything if the table is empty.
  void rehash(size_type bucket_count) {
    if (bucket_count > max_size()) throw std::length_error("seam::hash_table: too many buckets");
    size_type target = capacity_for(m_size);
    if (bucket_count > target) target = std::bit_ceil(std::max(bucket_count, k_group_width));
    if (target != m_capacity || m_tombstones != 0) resize(target);
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
    const auto [index, h, inserted] = prepare_insert(key);
    if (inserted) {
      slot_alloc alloc(m_alloc);
      slot_traits::construct(alloc, slot_at(index), std::forward<Args>(args)...);
      commit(index, h);
    }
    return {iterator_at<iterator>(index), inserted};
  }

  template <class It>
  It iterator_at(size_type index) const noexcept {
    return index == npos ? make_iterator<It>(m_capacity, false) : make_iterator<It>(index, false);
  }
  template <class K>
  size_type find_index(const K& key) const {
    return find_index(key, [] {});
  }

 private:
  struct insert_position {
    size_type index;
    std::size_t hash;
    bool inserted;
  };

  template <class K>
  std::size_t hash_of(const K& key) const {
    const std::size_t h = m_hash(key);
    // A hash that is not known to be well mixed (std::hash<int> is the identity) gets one
    // multiplication more, so that h1 and h2 both depend on all of its bits.
    if constexpr (requires { typename Hash::is_avalanching; }) {
      return h;
    } else {
      return hash_mix(h, k_hash_mul0);
    }
  }
  static ctrl_t h2_of(std::size_t hash) noexcept { return static_cast<ctrl_t>(hash & 0x7f); }

  // The probe loop of every lookup. Bounded by the number of groups, so that even a corrupt
  // table read from another process cannot make it loop forever.
  template <class K, class OnGroup>
  size_type find_index(const K& key, OnGroup on_group) const {
    if (m_size == 0) return npos;
    const std::size_t h = hash_of(key);
    const ctrl_t h2 = h2_of(h);
    const ctrl_t* ctrl = ctrl_ptr();
    const slot_type* slots = slot_at(0);
    probe_seq probe(h, m_capacity);
    do {
      on_group();
      const ctrl_group group(ctrl + probe.offset());
      for (std::uint32_t m = group.match(h2); m != 0; m &= m - 1) {
        const size_type i = probe.offset() + static_cast<size_type>(std::countr_zero(m));
        if (m_eq(Policy::key(slots[i]), key)) return i;
      }
      if (group.match_empty() != 0) return npos;
    } while (probe.next());
    return npos;
  }

  // Finds `key`, or the slot where it should go (making room first if needed). The slot is
  // only marked full by `commit`, after the caller has built the value in it: a constructor
  // that throws leaves the table as it was.
  template <class K>
  insert_position prepare_insert(const K& key) {
    const std::size_t h = hash_of(key);
    if (m_capacity != 0) {
      const ctrl_t h2 = h2_of(h);
      const ctrl_t* ctrl = ctrl_ptr();
      const slot_type* slots = slot_at(0);
      size_type target = npos;
      probe_seq probe(h, m_capacity);
      do {
        const ctrl_group group(ctrl + probe.offset());
        for (std::uint32_t m = group.match(h2); m != 0; m &= m - 1) {
          const size_type i = probe.offset() + static_cast<size_type>(std::countr_zero(m));
          if (m_eq(Policy::key(slots[i]), key)) return {i, h, false};
        }
        if (const std::uint32_t free = group.match_free(); target == npos && free != 0) {
          target = probe.offset() + static_cast<size_type>(std::countr_zero(free));
        }
        if (group.match_empty() != 0) break;
      } while (probe.next());
      // A tombstone is reused at no cost; an empty slot uses up room.
      if (target != npos && (ctrl[target] == k_deleted || m_size + m_tombstones < m_growth_limit)) {
        return {target, h, true};
      }
    }
    make_room();
    return {find_free(ctrl_ptr(), m_capacity, h), h, true};
  }

  void commit(size_type index, std::size_t hash) noexcept {
    ctrl_t& c = ctrl_ptr()[index];
    if (c == k_deleted) --m_tombstones;
    c = h2_of(hash);
    ++m_size;
  }

  // The first empty or deleted slot on `hash`'s probe path (the key is known to be absent).
  static size_type find_free(const ctrl_t* ctrl, size_type capacity, std::size_t hash) noexcept {
    probe_seq probe(hash, capacity);
    for (;; probe.next()) {
      if (const std::uint32_t free = ctrl_group(ctrl + probe.offset()).match_free()) {
        return probe.offset() + static_cast<size_type>(std::countr_zero(free));
      }
    }
  }

  // Called when an insert needs an empty slot and the growth limit is reached. If tombstones
  // hold at least 1/8 of the limit, rebuilding at the same size frees enough room to pay for
  // itself; otherwise the table doubles.
  void make_room() {
    if (m_capacity != 0 && m_size * 8 <= m_growth_limit * 7) {
      resize(m_capacity);
    } else {
      resize(std::max(capacity_for(m_size + 1), m_capacity * 2));
    }
  }

  size_type growth_limit(size_type capacity) const noexcept {
    // At least one slot stays empty, so that every probe of a missing key ends.
    const auto limit = static_cast<size_type>(static_cast<double>(capacity) * m_max_load);
    return std::min(limit, capacity - 1);
  }
  size_type capacity_for(size_type count) const {
    if (count == 0) return 0;
    size_type capacity = k_group_width;
    while (growth_limit(capacity) < count) {
      if (capacity > max_size() / 2) throw std::length_error("seam::hash_table: too many elements");
      capacity *= 2;
    }
    return capacity;
  }

  // Memory layout: [capacity control bytes][16 sentinel bytes][padding][capacity slots].
  static constexpr size_type slots_offset(size_type capacity) noexcept {
    return (capacity + k_group_width + alignof(slot_type) - 1) & ~(alignof(slot_type) - 1);
  }
  static constexpr size_type units_for(size_type capacity) noexcept {
    return (slots_offset(capacity) + capacity * sizeof(slot_type) + k_unit - 1) / k_unit;
  }
  ctrl_t* ctrl_ptr() const noexcept {
    return reinterpret_cast<ctrl_t*>(std::to_address(m_storage));
  }
  // Only meaningful when the table has storage.
  slot_type* slot_at(size_type index) const noexcept {
    auto* base = reinterpret_cast<unsigned char*>(std::to_address(m_storage));
    return reinterpret_cast<slot_type*>(base + slots_offset(m_capacity)) + index;
  }

  template <class It>
  It make_iterator(size_type index, bool skip) const noexcept {
    if (m_capacity == 0) return It();
    It it(ctrl_ptr() + index, slot_at(index));
    if (skip) it.skip_free();
    return it;
  }

  template <class K>
  size_type erase_keyed(const K& key) {
    const size_type index = find_index(key);
    if (index == npos) return 0;
    erase_at(index);
    return 1;
  }

  void erase_at(size_type index) noexcept {
    slot_alloc alloc(m_alloc);
    slot_traits::destroy(alloc, slot_at(index));
    ctrl_t* ctrl = ctrl_ptr();
    // A lookup stops at the first group with an empty byte, so no key was ever placed past a
    // group that has one: the slot can become empty again. Past a group with no empty byte,
    // keys may have been placed, so the slot must stay a tombstone that lookups skip over.
    const ctrl_group group(ctrl + (index & ~(k_group_width - 1)));
    if (group.match_empty() != 0) {
      ctrl[index] = k_empty;
    } else {
      ctrl[index] = k_deleted;
      ++m_tombstones;
    }
    --m_size;
  }

  template <class Visit>
  void for_each_full(Visit visit) const {
    const ctrl_t* ctrl = ctrl_ptr();
    for (size_type g = 0; g < m_capacity; g += k_group_width) {
      for (std::uint32_t m = ctrl_group(ctrl + g).match_full(); m != 0; m &= m - 1) {
        visit(g + static_cast<size_type>(std::countr_zero(m)));
      }
    }
  }

  void destroy_all() noexcept {
    if constexpr (!std::is_trivially_destructible_v<slot_type>) {
      slot_alloc alloc(m_alloc);
      for_each_full([&](size_type i) { slot_traits::destroy(alloc, slot_at(i)); });
    }
  }

  void release() noexcept {
    if (m_capacity == 0) return;
    destroy_all();
    unit_alloc alloc(m_alloc);
    unit_traits::deallocate(alloc, m_storage, units_for(m_capacity));
    m_storage = unit_pointer();
    m_capacity = m_size = m_tombstones = m_growth_limit = 0;
  }

  // A table of `capacity` empty slots, owning its memory until `release`d or adopted.
  hash_table fresh(size_type capacity) const {
    hash_table t(m_alloc);
    t.m_max_load = m_max_load;
    t.m_hash = m_hash;
    t.m_eq = m_eq;
    if (capacity == 0) return t;
    unit_alloc alloc(m_alloc);
    t.m_storage = unit_traits::allocate(alloc, units_for(capacity));
    t.m_capacity = capacity;
    t.m_growth_limit = t.growth_limit(capacity);
    std::memset(t.ctrl_ptr(), static_cast<unsigned char>(k_empty), capacity);
    std::memset(t.ctrl_ptr() + capacity, static_cast<unsigned char>(k_sentinel), k_group_width);
    return t;
  }

  // Moves every element into a new allocation of `capacity` slots. If building a slot throws
  // (only possible when values are copied, see `transfer`), the new table is dropped and this
  // one is unchanged.
  void resize(size_type capacity) {
    hash_table next = fresh(capacity);
    if (m_size != 0) {
      slot_alloc alloc(m_alloc);
      ctrl_t* ctrl = next.ctrl_ptr();
      for_each_full([&](size_type i) {
        slot_type* from = slot_at(i);
        const std::size_t h = hash_of(Policy::key(*from));
        const size_type to = find_free(ctrl, capacity, h);
        Policy::transfer(alloc, next.slot_at(to), from);
        ctrl[to] = h2_of(h);
        ++next.m_size;
      });
    }
    swap_all(next);  // `next` now holds the old slots and frees them
  }

  void copy_from(const hash_table& other) {
    if (other.m_size == 0) return;
    hash_table next = fresh(capacity_for(other.m_size));
    if (next.m_capacity == other.m_capacity) {
      // Same size: same positions, no hashing, and the same probe lengths as the original.
      // A slot is marked full only once built, so that an exception destroys only those.
      slot_alloc alloc(m_alloc);
      other.for_each_full([&](size_type i) {
        slot_traits::construct(alloc, next.slot_at(i), *other.slot_at(i));
        next.ctrl_ptr()[i] = other.ctrl_ptr()[i];
        ++next.m_size;
      });
      std::memcpy(next.ctrl_ptr(), other.ctrl_ptr(), other.m_capacity);  // and the tombstones
      next.m_tombstones = other.m_tombstones;
    } else {
      for (const auto& v : other) next.emplace_at_key(Policy::key(v), v);
    }
    swap_all(next);
  }

  void swap_all(hash_table& other) noexcept {
    using std::swap;
    swap(m_storage, other.m_storage);
    swap(m_capacity, other.m_capacity);
    swap(m_size, other.m_size);
    swap(m_tombstones, other.m_tombstones);
    swap(m_growth_limit, other.m_growth_limit);
    swap(m_max_load, other.m_max_load);
    swap(m_hash, other.m_hash);
    swap(m_eq, other.m_eq);
    if constexpr (std::allocator_traits<Alloc>::propagate_on_container_swap::value) {
      swap(m_alloc, other.m_alloc);
    }
  }

  unit_pointer m_storage = unit_pointer();  // the only pointer: a seam::ptr in an arena
  size_type m_capacity = 0;
  size_type m_size = 0;
  size_type m_tombstones = 0;
  size_type m_growth_limit = 0;  // m_size + m_tombstones may grow up to this
  float m_max_load = 0.875f;
  [[no_unique_address]] Hash m_hash;
  [[no_unique_address]] Eq m_eq;
  [[no_unique_address]] Alloc m_alloc;
};

}  // namespace seam::detail
