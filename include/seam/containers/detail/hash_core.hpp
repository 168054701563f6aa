#pragma once
/// \file
/// `seam::detail::hash_core`: the memory, probing and growth of the flat table behind
/// `seam::hash_map` and `seam::hash_set`; `hash_table.hpp` puts the std interface on it.
///
/// Layout (a Swiss table with aligned groups): one allocation holds `capacity` control bytes,
/// one group of sentinel bytes, then `capacity` slots. A control byte is `k_empty`,
/// `k_deleted` (a tombstone) or, for a full slot, the low 7 bits of the key's hash ("h2").
/// The high bits ("h1") choose the first group of 16 slots to probe; a lookup compares h2
/// with the 16 control bytes of a group at once (SSE2), looks at the few slots that match,
/// and stops at the first group that has an empty byte. Groups are visited in triangular
/// order, which over a power-of-two number of groups reaches each group once.
///
/// The table reaches its allocation through one self-relative offset and holds no pointer, so
/// it works from any address a process maps it at; const member functions write nothing, so
/// they work on a read-only mapping. The allocator is stateless (`seam::allocator`: the current
/// arena), as for every Seam container: no allocator object is stored.

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "seam/containers/detail/hash_group.hpp"
#include "seam/containers/detail/hash_iterator.hpp"
#include "seam/containers/hash.hpp"

namespace seam::detail {

/// The state and algorithms of the table; `hash_table` derives from it. Owner-only members
/// change it; const members only read.
template <class Policy, class Hash, class Eq, class Alloc>
class hash_core {
  static_assert(
      std::allocator_traits<Alloc>::is_always_equal::value,
      "seam::detail::hash_core keeps no allocator object: it needs a stateless allocator");

 protected:
  using slot_type = typename Policy::slot_type;
  using slot_alloc = typename std::allocator_traits<Alloc>::template rebind_alloc<slot_type>;
  using slot_traits = std::allocator_traits<slot_alloc>;
  using size_type = std::size_t;
  static constexpr size_type npos = std::numeric_limits<size_type>::max();

  hash_core() = default;
  hash_core(const Hash& hash, const Eq& eq) : m_hash(hash), m_eq(eq) {}
  /// Copies every element into memory of the current arena.
  hash_core(const hash_core& other)
      : m_max_load(other.m_max_load), m_hash(other.m_hash), m_eq(other.m_eq) {
    copy_from(other);
  }
  /// Takes the allocation of `other` (no allocation); `other` is left empty.
  hash_core(hash_core&& other) noexcept
      : m_max_load(other.m_max_load), m_hash(other.m_hash), m_eq(other.m_eq) {
    take(other);
  }
  hash_core& operator=(const hash_core& other) {
    if (this != &other) {
      hash_core copy(other);
      swap_core(copy);
    }
    return *this;
  }
  hash_core& operator=(hash_core&& other) noexcept {
    if (this != &other) {
      hash_core stolen(std::move(other));
      swap_core(stolen);  // `stolen` frees the old allocation
    }
    return *this;
  }
  ~hash_core() { release(); }

  // --- Reading: const, safe on a read-only mapping at any address. ---

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

  // Every lookup: the index of `key`'s slot, or `m_capacity` (the end's index, so that a
  // found key and a missing one both make an iterator without a test). One decode of the
  // offset, one hash; the first group is examined here and the rest of the probe, rare in a
  // healthy table, out of line (`find_further`), so that this code keeps its values in
  // registers (with the loop inline, gcc 12 moved the probe position through the stack).
  template <class K, class OnGroup>
  size_type find_index(const K& key, OnGroup on_group) const {
    if (m_size == 0) return m_capacity;
    const std::size_t h = hash_of(key);
    const ctrl_t* ctrl = ctrl_ptr();
    const slot_type* slots = slot_at(0);
    const size_type offset = probe_seq::home(h, m_capacity / k_group_width - 1) * k_group_width;
    // The key is most likely in the group's first slots: fetching their line now overlaps its
    // cache miss with the control bytes' instead of following it.
    __builtin_prefetch(slots + offset);
    on_group();
    const ctrl_group group(ctrl + offset);
    for (std::uint32_t m = group.match(h2_of(h)); m != 0; m &= m - 1) {
      const size_type i = offset + first_bit(m);
      if (m_eq(Policy::key(slots[i]), key)) [[likely]]
        return i;
    }
    if (group.match_empty() != 0) [[likely]]
      return m_capacity;
    return find_further(key, h, on_group);
  }
  // The groups after the first. Bounded by the number of groups, so that even a corrupt table
  // read from another process cannot make it loop forever.
  template <class K, class OnGroup>
  [[gnu::noinline]] size_type find_further(const K& key, std::size_t h, OnGroup on_group) const {
    const ctrl_t h2 = h2_of(h);
    const ctrl_t* ctrl = ctrl_ptr();
    const slot_type* slots = slot_at(0);
    probe_seq probe(h, m_capacity);
    while (probe.next()) {
      on_group();
      const ctrl_group group(ctrl + probe.offset());
      for (std::uint32_t m = group.match(h2); m != 0; m &= m - 1) {
        const size_type i = probe.offset() + first_bit(m);
        if (m_eq(Policy::key(slots[i]), key)) return i;
      }
      if (group.match_empty() != 0) return m_capacity;
    }
    return m_capacity;
  }
  template <class K>
  size_type find_index(const K& key) const {
    return find_index(key, [] {});
  }

  /// An iterator at `index`; the end at `m_capacity`. The end of a table without storage is
  /// made from `this` (offset 0), so that it needs no branch and equals `begin()`.
  template <class It>
  It iterator_at(size_type index) const noexcept {
    return It(ctrl_ptr() + index, slot_at(index));
  }
  /// The first full slot at or after `index` (or the end).
  template <class It>
  It first_from(size_type index) const noexcept {
    if (m_size == 0) return iterator_at<It>(m_capacity);
    It it(ctrl_ptr() + index, slot_at(index));
    it.skip_free();
    return it;
  }
  template <class It>
  size_type index_of(const It& it) const noexcept {
    return static_cast<size_type>(it.m_ctrl - ctrl_ptr());
  }

  size_type growth_limit(size_type capacity) const noexcept {
    // At least one slot stays empty, so that every probe of a missing key ends.
    const auto limit = static_cast<size_type>(static_cast<double>(capacity) * m_max_load);
    return std::min(limit, capacity - 1);
  }
  size_type max_slots() const noexcept {
    return static_cast<size_type>(std::numeric_limits<std::ptrdiff_t>::max()) /
           (sizeof(slot_type) + 1);
  }
  size_type capacity_for(size_type count) const {
    if (count == 0) return 0;
    size_type capacity = k_group_width;
    while (growth_limit(capacity) < count) {
      if (capacity > max_slots() / 2)
        throw std::length_error("seam::hash_table: too many elements");
      capacity *= 2;
    }
    return capacity;
  }

  ctrl_t* ctrl_ptr() const noexcept { return reinterpret_cast<ctrl_t*>(base()); }
  // Only meaningful when the table has storage (or for index 0 of an empty table's end).
  slot_type* slot_at(size_type index) const noexcept {
    return reinterpret_cast<slot_type*>(base() + slots_offset(m_capacity)) + index;
  }

  template <class Visit>
  void for_each_full(Visit visit) const {
    const ctrl_t* ctrl = ctrl_ptr();
    for (size_type g = 0; g < m_capacity; g += k_group_width) {
      for (std::uint32_t m = ctrl_group(ctrl + g).match_full(); m != 0; m &= m - 1) {
        visit(g + first_bit(m));
      }
    }
  }

  // --- Changing: owner only. ---

  // Two words, so that it comes back in registers from the out-of-line `prepare_insert`.
  struct insert_position {
    size_type index;
    ctrl_t h2;      // the control byte `commit` writes
    bool inserted;  // false: the key is at `index` already
  };

  // Finds `key`, or the slot where it should go (making room first if needed). The slot is
  // only marked full by `commit`, after the caller has built the value in it: a constructor
  // that throws leaves the table as it was. Out of line: inlined into the caller, it took
  // registers from the lookups of the same function (finds measured 5-8% slower). The common
  // case (the first group settles it and there is room) is here, the rest further out.
  template <class K>
  [[gnu::noinline]] insert_position prepare_insert(const K& key) {
    const std::size_t h = hash_of(key);
    if (m_capacity != 0) [[likely]] {
      ctrl_t* ctrl = ctrl_ptr();
      const slot_type* slots = slot_at(0);
      const size_type offset = probe_seq::home(h, m_capacity / k_group_width - 1) * k_group_width;
      const ctrl_group group(ctrl + offset);
      for (std::uint32_t m = group.match(h2_of(h)); m != 0; m &= m - 1) {
        const size_type i = offset + first_bit(m);
        if (m_eq(Policy::key(slots[i]), key)) return {i, h2_of(h), false};
      }
      // An empty byte ends the probe: the key is absent and goes to the group's first free
      // slot. A tombstone is reused at no cost; an empty slot uses up room.
      if (group.match_empty() != 0) [[likely]] {
        const size_type target = offset + first_bit(group.match_free());
        if (m_size + m_tombstones < m_growth_limit || ctrl[target] == k_deleted) [[likely]] {
          return {target, h2_of(h), true};
        }
      }
    }
    return prepare_insert_further(key, h);
  }
  // The whole probe, for a first group without an empty byte or a table without room.
  template <class K>
  [[gnu::noinline]] insert_position prepare_insert_further(const K& key, std::size_t h) {
    if (m_capacity != 0) {
      const ctrl_t h2 = h2_of(h);
      const ctrl_t* ctrl = ctrl_ptr();
      const slot_type* slots = slot_at(0);
      probe_seq probe(h, m_capacity);
      size_type target = npos;
      do {
        const ctrl_group group(ctrl + probe.offset());
        for (std::uint32_t m = group.match(h2); m != 0; m &= m - 1) {
          const size_type i = probe.offset() + first_bit(m);
          if (m_eq(Policy::key(slots[i]), key)) return {i, h2_of(h), false};
        }
        const std::uint32_t free = group.match_free();
        if (target == npos && free != 0) target = probe.offset() + first_bit(free);
        if (group.match_empty() != 0) break;
      } while (probe.next());
      if (target != npos && (ctrl[target] == k_deleted || m_size + m_tombstones < m_growth_limit)) {
        return {target, h2_of(h), true};
      }
    }
    make_room();
    return {find_free(ctrl_ptr(), m_capacity, h), h2_of(h), true};
  }

  void commit(size_type index, ctrl_t h2) noexcept {
    ctrl_t& c = ctrl_ptr()[index];
    if (c == k_deleted) --m_tombstones;
    c = h2;
    ++m_size;
  }

  void erase_at(size_type index) noexcept {
    slot_alloc alloc;
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

  /// Destroys every element; keeps the slots.
  void clear_slots() noexcept {
    if (m_capacity == 0) return;
    destroy_all();
    std::memset(ctrl_ptr(), static_cast<unsigned char>(k_empty), m_capacity);
    m_size = 0;
    m_tombstones = 0;
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

  // Moves every element into a new allocation of `capacity` slots. If building a slot throws
  // (only possible when values are copied, see `transfer`), the new table is dropped and this
  // one is unchanged.
  void resize(size_type capacity) {
    hash_core next = fresh(capacity);
    if (m_size != 0) {
      slot_alloc alloc;
      ctrl_t* ctrl = next.ctrl_ptr();
      slot_type* to_slots = next.slot_at(0);
      slot_type* from_slots = slot_at(0);
      for_each_full([&](size_type i) {
        slot_type* from = from_slots + i;
        const std::size_t h = hash_of(Policy::key(*from));
        const size_type to = find_free(ctrl, capacity, h);
        Policy::transfer(alloc, to_slots + to, from);
        ctrl[to] = h2_of(h);
      });
      next.m_size = m_size;
    }
    swap_core(next);  // `next` now holds the old slots and frees them
  }

  void swap_core(hash_core& other) noexcept {
    using std::swap;
    unsigned char* mine = m_capacity == 0 ? nullptr : base();
    unsigned char* theirs = other.m_capacity == 0 ? nullptr : other.base();
    set_base(theirs);
    other.set_base(mine);
    swap(m_capacity, other.m_capacity);
    swap(m_size, other.m_size);
    swap(m_tombstones, other.m_tombstones);
    swap(m_growth_limit, other.m_growth_limit);
    swap(m_max_load, other.m_max_load);
    swap(m_hash, other.m_hash);
    swap(m_eq, other.m_eq);
  }

  size_type m_capacity = 0;
  size_type m_size = 0;
  size_type m_tombstones = 0;
  size_type m_growth_limit = 0;  // m_size + m_tombstones may grow up to this
  float m_max_load = 0.875f;
  [[no_unique_address]] Hash m_hash;
  [[no_unique_address]] Eq m_eq;

 private:
  // The allocation unit: aligned for the control bytes (SSE loads) and for the slots.
  static constexpr std::size_t k_unit = std::max(k_group_width, alignof(slot_type));
  struct alignas(k_unit) unit {
    unsigned char bytes[k_unit];
  };
  using unit_alloc = typename std::allocator_traits<Alloc>::template rebind_alloc<unit>;
  using unit_traits = std::allocator_traits<unit_alloc>;
  using unit_pointer = typename unit_traits::pointer;

  // Memory layout: [capacity control bytes][16 sentinel bytes][padding][capacity slots].
  static constexpr size_type slots_offset(size_type capacity) noexcept {
    return (capacity + k_group_width + alignof(slot_type) - 1) & ~(alignof(slot_type) - 1);
  }
  static constexpr size_type units_for(size_type capacity) noexcept {
    return (slots_offset(capacity) + capacity * sizeof(slot_type) + k_unit - 1) / k_unit;
  }

  // The allocation is kept as its distance from `this` (like `seam::ptr`, valid wherever the
  // table is mapped) but decoded with one addition: `seam::ptr` also tests for null, which a
  // lookup then pays on every call. Without storage the offset is 0.
  unsigned char* base() const noexcept {
    return reinterpret_cast<unsigned char*>(reinterpret_cast<std::uintptr_t>(this) +
                                            static_cast<std::uintptr_t>(m_storage));
  }
  void set_base(unsigned char* p) noexcept {
    m_storage = p == nullptr ? 0
                             : static_cast<std::ptrdiff_t>(reinterpret_cast<std::uintptr_t>(p) -
                                                           reinterpret_cast<std::uintptr_t>(this));
  }

  void take(hash_core& other) noexcept {
    set_base(other.m_capacity == 0 ? nullptr : other.base());
    other.m_storage = 0;
    m_capacity = std::exchange(other.m_capacity, 0);
    m_size = std::exchange(other.m_size, 0);
    m_tombstones = std::exchange(other.m_tombstones, 0);
    m_growth_limit = std::exchange(other.m_growth_limit, 0);
  }

  // The first empty or deleted slot on `hash`'s probe path (the key is known to be absent).
  static size_type find_free(const ctrl_t* ctrl, size_type capacity, std::size_t hash) noexcept {
    probe_seq probe(hash, capacity);
    for (;; probe.next()) {
      if (const std::uint32_t free = ctrl_group(ctrl + probe.offset()).match_free()) {
        return probe.offset() + first_bit(free);
      }
    }
  }

  void destroy_all() noexcept {
    if constexpr (!std::is_trivially_destructible_v<slot_type>) {
      slot_alloc alloc;
      for_each_full([&](size_type i) { slot_traits::destroy(alloc, slot_at(i)); });
    }
  }

  void release() noexcept {
    if (m_capacity == 0) return;
    destroy_all();
    unit_alloc alloc;
    unit_traits::deallocate(
        alloc, std::pointer_traits<unit_pointer>::pointer_to(*reinterpret_cast<unit*>(base())),
        units_for(m_capacity));
    m_storage = 0;
    m_capacity = m_size = m_tombstones = m_growth_limit = 0;
  }

  // A table of `capacity` empty slots, owning its memory until `release`d or adopted.
  hash_core fresh(size_type capacity) const {
    hash_core t(m_hash, m_eq);
    t.m_max_load = m_max_load;
    if (capacity == 0) return t;
    unit_alloc alloc;
    t.set_base(reinterpret_cast<unsigned char*>(
        std::to_address(unit_traits::allocate(alloc, units_for(capacity)))));
    t.m_capacity = capacity;
    t.m_growth_limit = t.growth_limit(capacity);
    std::memset(t.ctrl_ptr(), static_cast<unsigned char>(k_empty), capacity);
    std::memset(t.ctrl_ptr() + capacity, static_cast<unsigned char>(k_sentinel), k_group_width);
    return t;
  }

  void copy_from(const hash_core& other) {
    if (other.m_size == 0) return;
    hash_core next = fresh(capacity_for(other.m_size));
    slot_alloc alloc;
    if (next.m_capacity == other.m_capacity) {
      // Same size: same positions, no hashing, and the same probe lengths as the original.
      // A slot is marked full only once built, so that an exception destroys only those.
      other.for_each_full([&](size_type i) {
        slot_traits::construct(alloc, next.slot_at(i), *other.slot_at(i));
        next.ctrl_ptr()[i] = other.ctrl_ptr()[i];
        ++next.m_size;
      });
      std::memcpy(next.ctrl_ptr(), other.ctrl_ptr(), other.m_capacity);  // and the tombstones
      next.m_tombstones = other.m_tombstones;
    } else {
      other.for_each_full([&](size_type i) {
        const slot_type& value = *other.slot_at(i);
        const auto [index, h2, inserted] = next.prepare_insert(Policy::key(value));
        if (inserted) {
          slot_traits::construct(alloc, next.slot_at(index), value);
          next.commit(index, h2);
        }
      });
    }
    swap_core(next);
  }

  std::ptrdiff_t m_storage = 0;  // distance from `this` to the allocation, 0 if none
};

}  // namespace seam::detail
