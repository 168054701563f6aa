#pragma once
/// \file
/// `seam::detail::node_table`: the node-based hash table behind `seam::unordered_map`,
/// `unordered_multimap`, `unordered_set` and `unordered_multiset`.
///
/// Layout: a power-of-two array of buckets, each the head of a singly linked chain of nodes;
/// a node holds its element and the full hash of its key. Beside the heads, one 64-bit
/// occupancy mask per 64 buckets, and a doubly linked list of the non-empty groups, make
/// `begin()` and each iterator step constant time (`chain_node.hpp`). A lookup reads the
/// bucket's head, then the nodes of that one chain, comparing a key only when the stored hash
/// is equal; growing relinks the nodes into a new array by their stored hashes, without
/// hashing or moving an element, so references and pointers to elements survive it.
///
/// The table object reaches the array through one self-relative link, the array reaches the
/// nodes through self-relative links, and the array's group list holds indices: the table
/// holds no raw pointer and reads the same from any address; const member functions write
/// nothing, so they work on a read-only mapping. The allocator is stateless (no allocator
/// object is kept), as in the tree.

#include <algorithm>
#include <bit>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "seam/arena/assert.hpp"
#include "seam/containers/detail/bucket_array.hpp"
#include "seam/containers/detail/chain_node.hpp"
#include "seam/containers/detail/keys.hpp"
#include "seam/containers/hash.hpp"

namespace seam::detail {

/// The table shared by the four unordered containers; see `seam::unordered_map` for the
/// contract. `Policy` says what an element is and where its key is; `Unique` whether equal keys
/// are rejected (map, set) or kept next to each other in insertion order (multi forms).
template <class Policy, class Hash, class Eq, class Alloc, bool Unique>
class node_table {
  using node = chain_node<typename Policy::value_type>;
  using nodes = chain_nodes<typename Policy::value_type, Alloc>;
  using node_holder = typename nodes::holder;
  using word_allocator =
      typename std::allocator_traits<Alloc>::template rebind_alloc<std::uint64_t>;
  using word_alloc_traits = std::allocator_traits<word_allocator>;
  static_assert(std::allocator_traits<Alloc>::is_always_equal::value,
                "seam::detail::node_table keeps no allocator object: it needs a stateless "
                "allocator");
  static constexpr std::size_t k_min_buckets = 8;
  static constexpr std::size_t k_quadruple_below = 4096;  // buckets: see `grow`

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
  using iterator = chain_iterator<value_type, Policy::const_elements>;
  using const_iterator = chain_iterator<value_type, true>;
  using local_iterator = chain_local_iterator<value_type, Policy::const_elements>;
  using const_local_iterator = chain_local_iterator<value_type, true>;
  /// What `insert` and `emplace` return: with a flag "inserted" in unique tables.
  using insert_result = std::conditional_t<Unique, std::pair<iterator, bool>, iterator>;

  // --- Construction, assignment, destruction. No bucket array until the first insertion. ---
  node_table() noexcept(std::is_nothrow_default_constructible_v<Hash>&&
                            std::is_nothrow_default_constructible_v<Eq>) = default;
  explicit node_table(size_type bucket_count, const Hash& hash = Hash(), const Eq& eq = Eq(),
                      const allocator_type& = {})
      : m_hash(hash), m_eq(eq) {
    rehash(bucket_count);
  }
  node_table(size_type bucket_count, const allocator_type& alloc)
      : node_table(bucket_count, Hash(), Eq(), alloc) {}
  node_table(size_type bucket_count, const Hash& hash, const allocator_type& alloc)
      : node_table(bucket_count, hash, Eq(), alloc) {}
  explicit node_table(const allocator_type&) noexcept(noexcept(node_table())) : node_table() {}
  // The delegating constructors below make the object complete before the first insertion, so
  // that the destructor frees what was inserted if a later insertion throws.
  template <std::input_iterator It>
  node_table(It first, It last, size_type bucket_count = 0, const Hash& hash = Hash(),
             const Eq& eq = Eq(), const allocator_type& alloc = {})
      : node_table(bucket_count, hash, eq, alloc) {
    insert(first, last);
  }
  node_table(std::initializer_list<value_type> values, size_type bucket_count = 0,
             const Hash& hash = Hash(), const Eq& eq = Eq(), const allocator_type& alloc = {})
      : node_table(values.begin(), values.end(), bucket_count, hash, eq, alloc) {}

  /// Copies every element into nodes of the current arena, with the same buckets and order.
  node_table(const node_table& other) : node_table(0, other.m_hash, other.m_eq) {
    m_max_load = other.m_max_load;
    copy_from(other);
  }
  /// Takes the buckets and nodes of `other` (no allocation); `other` is left empty.
  node_table(node_table&& other) noexcept : m_hash(other.m_hash), m_eq(other.m_eq) { take(other); }
  node_table& operator=(const node_table& other) {
    if (this != &other) {
      node_table copy(other);
      swap(copy);
    }
    return *this;
  }
  node_table& operator=(node_table&& other) noexcept {
    if (this != &other) {
      release();
      m_hash = other.m_hash;
      m_eq = other.m_eq;
      take(other);
    }
    return *this;
  }
  node_table& operator=(std::initializer_list<value_type> values) {
    node_table copy(values, 0, m_hash, m_eq);
    swap(copy);
    return *this;
  }
  /// Destroys the elements and frees the nodes and buckets (each in the arena that holds it).
  ~node_table() { release(); }

  allocator_type get_allocator() const noexcept { return allocator_type(); }
  hasher hash_function() const { return m_hash; }
  key_equal key_eq() const { return m_eq; }

  // --- Iteration and size: const, safe on a read-only mapping. ---
  iterator begin() noexcept { return iterator(buckets().table_first(), buckets()); }
  const_iterator begin() const noexcept {
    return const_iterator(buckets().table_first(), buckets());
  }
  iterator end() noexcept { return iterator(nullptr, buckets()); }
  const_iterator end() const noexcept { return const_iterator(nullptr, buckets()); }
  const_iterator cbegin() const noexcept { return begin(); }
  const_iterator cend() const noexcept { return end(); }

  bool empty() const noexcept { return m_size == 0; }
  size_type size() const noexcept { return m_size; }
  size_type max_size() const noexcept {
    return std::numeric_limits<difference_type>::max() / sizeof(node);
  }

  // --- Lookup: const, safe on a read-only mapping. Heterogeneous if Hash and Eq are. ---
  iterator find(const key_type& key) { return at_node(find_node(key, hash_of(key))); }
  const_iterator find(const key_type& key) const { return at_node(find_node(key, hash_of(key))); }
  template <lookup_key<Hash, Eq> K>
  iterator find(const K& key) {
    return at_node(find_node(key, hash_of(key)));
  }
  template <lookup_key<Hash, Eq> K>
  const_iterator find(const K& key) const {
    return at_node(find_node(key, hash_of(key)));
  }
  bool contains(const key_type& key) const { return find_node(key, hash_of(key)) != nullptr; }
  template <lookup_key<Hash, Eq> K>
  bool contains(const K& key) const {
    return find_node(key, hash_of(key)) != nullptr;
  }
  size_type count(const key_type& key) const { return count_of(key); }
  template <lookup_key<Hash, Eq> K>
  size_type count(const K& key) const {
    return count_of(key);
  }
  std::pair<iterator, iterator> equal_range(const key_type& key) { return range_of<iterator>(key); }
  std::pair<const_iterator, const_iterator> equal_range(const key_type& key) const {
    return range_of<const_iterator>(key);
  }
  template <lookup_key<Hash, Eq> K>
  std::pair<iterator, iterator> equal_range(const K& key) {
    return range_of<iterator>(key);
  }
  template <lookup_key<Hash, Eq> K>
  std::pair<const_iterator, const_iterator> equal_range(const K& key) const {
    return range_of<const_iterator>(key);
  }

  // --- Bucket interface (const: read only). Each bucket really is one chain. ---
  size_type bucket_count() const noexcept { return m_bucket_count; }
  size_type max_bucket_count() const noexcept { return std::bit_floor(max_size()); }
  /// The bucket of `key`; needs `bucket_count() > 0`.
  size_type bucket(const key_type& key) const { return buckets().index_of(hash_of(key)); }
  template <lookup_key<Hash, Eq> K>
  size_type bucket(const K& key) const {
    return buckets().index_of(hash_of(key));
  }
  size_type bucket_size(size_type n) const noexcept {
    size_type count = 0;
    for (const chain_links* p = buckets().first(n); p != nullptr; p = decode_link(p->next)) ++count;
    return count;
  }
  local_iterator begin(size_type n) noexcept { return local_iterator(buckets().first(n)); }
  const_local_iterator begin(size_type n) const noexcept {
    return const_local_iterator(buckets().first(n));
  }
  const_local_iterator cbegin(size_type n) const noexcept { return begin(n); }
  local_iterator end(size_type) noexcept { return local_iterator(); }
  const_local_iterator end(size_type) const noexcept { return const_local_iterator(); }
  const_local_iterator cend(size_type) const noexcept { return const_local_iterator(); }

  float load_factor() const noexcept {
    return m_bucket_count == 0 ? 0.0f
                               : static_cast<float>(m_size) / static_cast<float>(m_bucket_count);
  }
  float max_load_factor() const noexcept { return m_max_load; }
  /// Sets the highest load before the table grows (at least 1/16), growing now if needed.
  void max_load_factor(float ml) {
    m_max_load = ml >= 1.0f / 16 ? ml : 1.0f / 16;  // NaN too
    m_grow_at = growth_limit(m_bucket_count);
    if (m_size > m_grow_at) rehash(0);
  }
  /// Rebuilds the buckets with at least `n` of them and enough for the elements at the maximum
  /// load (a power of two). Moves no element. `rehash(0)` on an empty table frees the buckets.
  void rehash(size_type n) {
    size_type target = buckets_for(m_size);
    if (n > target) {
      if (n > max_bucket_count()) throw std::length_error("seam::unordered: too many buckets");
      target = std::bit_ceil(std::max(n, k_min_buckets));
    }
    if (target != m_bucket_count) relink(target);
  }
  /// Makes room for `count` elements without a rehash.
  void reserve(size_type count) {
    if (count > m_grow_at) rehash(buckets_for(count));
  }

  // --- Insertion (owner only, with the arena's scope active). A throw leaves the table as it
  // was (if it had rehashed, with other buckets) and frees the node it was building. ---
  insert_result insert(const value_type& value) { return emplace(value); }
  insert_result insert(value_type&& value) { return emplace(std::move(value)); }
  iterator insert(const_iterator hint, const value_type& value) {
    return emplace_hint(hint, value);
  }
  iterator insert(const_iterator hint, value_type&& value) {
    return emplace_hint(hint, std::move(value));
  }
  template <std::input_iterator It>
  void insert(It first, It last) {
    for (; first != last; ++first) emplace(*first);
  }
  void insert(std::initializer_list<value_type> values) { insert(values.begin(), values.end()); }

  /// Builds an element from `args`. In a unique table whose key is visible in the arguments
  /// (the key itself, a (key, mapped) pair or a pair object), the key is looked up first and no
  /// node is built if it is present; otherwise the node is built, then dropped if its key is.
  template <class... Args>
  insert_result emplace(Args&&... args) {
    if constexpr (Unique && Policy::template key_in_args<Args...>) {
      return emplace_key(Policy::key_of_args(args...), std::forward<Args>(args)...);
    } else {
      node_holder n{nodes::make(std::forward<Args>(args)...)};
      const key_type& key = key_of(n.get());
      const std::uint64_t h = hash_of(key);
      if constexpr (Unique) {
        if (chain_links* found = find_node(key, h)) return {at_node(found), false};
        n.get()->hash = h;
        return {link_new(n), true};
      } else {
        n.get()->hash = h;
        return link_equal(n);
      }
    }
  }
  /// As `emplace`; the hint is not used.
  template <class... Args>
  iterator emplace_hint(const_iterator, Args&&... args) {
    if constexpr (Unique) {
      return emplace(std::forward<Args>(args)...).first;
    } else {
      return emplace(std::forward<Args>(args)...);
    }
  }

  // --- Erasure (owner only; needs no scope: nodes go back to the arena that holds them).
  // Invalidates only iterators and references to the erased elements. ---
  iterator erase(iterator pos) noexcept
      requires(!Policy::const_elements)  // for sets, `iterator` is `const_iterator`
  {
    return erase(const_iterator(pos));
  }
  iterator erase(const_iterator pos) noexcept {
    chain_links* n = pos.node();
    SEAM_ASSERT(n != nullptr, "seam::unordered: erase(end())");
    const bucket_array b = buckets();
    chain_links* next = b.table_next(n);
    const size_type index = b.index_of(n->hash);
    b.unlink(index, b.before(index, n), n);
    nodes::destroy(n);
    --m_size;
    return at_node(next);
  }
  iterator erase(const_iterator first, const_iterator last) noexcept {
    while (first != last) first = erase(first);
    return at_node(last.node());
  }
  size_type erase(const key_type& key) { return erase_of(key); }
  template <erase_key<iterator, const_iterator, Hash, Eq> K>
  size_type erase(K&& key) {
    return erase_of(key);
  }
  /// Destroys every element and frees every node; keeps the buckets (as std does).
  void clear() noexcept {
    if (m_size == 0) return;
    destroy_nodes();
    buckets().reset();
    m_size = 0;
  }
  /// Erases every element for which `pred` is true; returns how many it erased.
  template <class Pred>
  friend size_type erase_if(node_table& t, Pred pred) {
    const size_type before = t.m_size;
    for (auto it = t.cbegin(); it != t.cend();) it = pred(*it) ? t.erase(it) : std::next(it);
    return before - t.m_size;
  }

  /// Exchanges the contents (no allocation; the links to the buckets are re-encoded).
  void swap(node_table& other) noexcept {
    std::int64_t* mine = buckets().heads();
    std::int64_t* theirs = other.buckets().heads();
    set_heads(theirs);
    other.set_heads(mine);
    std::swap(m_bucket_count, other.m_bucket_count);
    std::swap(m_size, other.m_size);
    std::swap(m_grow_at, other.m_grow_at);
    std::swap(m_max_load, other.m_max_load);
    using std::swap;
    swap(m_hash, other.m_hash);
    swap(m_eq, other.m_eq);
  }
  friend void swap(node_table& a, node_table& b) noexcept { a.swap(b); }

  /// Equal if both hold the same elements, in any order (equal keys: the same elements in any
  /// order among themselves). Const: read only.
  friend bool operator==(const node_table& a, const node_table& b) {
    if (a.size() != b.size()) return false;
    for (auto it = a.begin(); it != a.end();) {
      const key_type& key = Policy::key(*it);
      const auto theirs = b.equal_range(key);
      if constexpr (Unique) {
        if (theirs.first == theirs.second || !(*theirs.first == *it)) return false;
        ++it;
      } else {
        const auto mine = a.equal_range(key);
        if (!std::is_permutation(mine.first, mine.second, theirs.first, theirs.second)) {
          return false;
        }
        it = mine.second;
      }
    }
    return true;
  }

  template <class P, class H, class E, class A, bool U>
  friend const char* node_table_check(const node_table<P, H, E, A, U>& t);

 protected:
  /// Inserts the element built from `args` unless `key` is present (unique tables).
  /// `key` may refer into `args`: it is not used after the element is built from them.
  template <class K, class... Args>
  std::pair<iterator, bool> emplace_key(const K& key, Args&&... args) {
    const std::uint64_t h = hash_of(key);
    if (chain_links* found = find_node(key, h)) return {at_node(found), false};
    node_holder n{nodes::make(std::forward<Args>(args)...)};
    n.get()->hash = h;
    return {link_new(n), true};
  }

 private:
  static const key_type& key_of(const chain_links* n) noexcept {
    return Policy::key(node_value<value_type>(n));
  }

  template <class K>
  std::uint64_t hash_of(const K& key) const {
    const auto h = static_cast<std::uint64_t>(m_hash(key));
    // A hash that is not known to be well mixed (std::hash<int> is the identity) gets one
    // multiplication more: the bucket is taken from its low bits.
    if constexpr (requires { typename Hash::is_avalanching; }) {
      return h;
    } else {
      return hash_mix(h, k_hash_mul0);
    }
  }

  bucket_array buckets() const noexcept {
    if (m_buckets == 0) return bucket_array();
    return bucket_array(
        reinterpret_cast<const std::int64_t*>(reinterpret_cast<std::uintptr_t>(&m_buckets) +
                                              static_cast<std::uintptr_t>(m_buckets)),
        m_bucket_count);
  }
  void set_heads(const std::int64_t* heads) noexcept {
    m_buckets = heads == nullptr
                    ? 0
                    : static_cast<std::int64_t>(reinterpret_cast<std::uintptr_t>(heads) -
                                                reinterpret_cast<std::uintptr_t>(&m_buckets));
  }

  iterator at_node(const chain_links* n) const noexcept { return iterator(n, buckets()); }

  // The node of `key` (of hash `h`), or null.
  template <class K>
  chain_links* find_node(const K& key, std::uint64_t h) const {
    if (m_size == 0) return nullptr;
    return buckets().find(h, m_size, [&](const chain_links* n) { return m_eq(key, key_of(n)); });
  }
  // The last node of the run of keys equal to `first`'s (which holds `key`, of hash `h`).
  template <class K>
  chain_links* run_end(chain_links* first, const K& key, std::uint64_t h) const {
    chain_links* last = first;
    if constexpr (!Unique) {
      for (size_type steps = m_size; steps != 0; --steps) {
        chain_links* next = decode_link(last->next);
        if (next == nullptr || next->hash != h || !m_eq(key, key_of(next))) break;
        last = next;
      }
    }
    return last;
  }
  template <class K>
  size_type count_of(const K& key) const {
    const std::uint64_t h = hash_of(key);
    chain_links* n = find_node(key, h);
    if (n == nullptr) return 0;
    if constexpr (Unique) {
      return 1;
    } else {
      size_type count = 1;
      for (const chain_links* last = run_end(n, key, h); n != last; n = decode_link(n->next)) {
        ++count;
      }
      return count;
    }
  }
  template <class It, class K>
  std::pair<It, It> range_of(const K& key) const {
    const std::uint64_t h = hash_of(key);
    chain_links* n = find_node(key, h);
    if (n == nullptr) return {at_node(nullptr), at_node(nullptr)};
    return {at_node(n), at_node(buckets().table_next(run_end(n, key, h)))};
  }

  template <class K>
  size_type erase_of(const K& key) {
    const std::uint64_t h = hash_of(key);
    if (m_size == 0) return 0;
    const bucket_array b = buckets();
    const size_type index = b.index_of(h);
    chain_links* prev = nullptr;
    for (chain_links* n = b.first(index); n != nullptr; prev = n, n = decode_link(n->next)) {
      if (n->hash != h || !m_eq(key, key_of(n))) continue;
      chain_links* last = run_end(n, key, h);
      b.unlink(index, prev, last);
      size_type erased = 1;
      for (; n != last; ++erased) {
        chain_links* next = decode_link(n->next);
        nodes::destroy(n);
        n = next;
      }
      nodes::destroy(last);
      m_size -= erased;
      return erased;
    }
    return 0;
  }

  // Grows if one more element would pass the maximum load, then links the node (whose hash is
  // set) at the front of its bucket.
  iterator link_new(node_holder& n) {
    if (m_size >= m_grow_at) grow();
    const bucket_array b = buckets();
    b.push_front(b.index_of(n.get()->hash), n.get());
    ++m_size;
    return at_node(n.release());
  }
  // Multi tables: links the node after the last element of an equal key, or at the front of
  // its bucket if there is none.
  iterator link_equal(node_holder& n) {
    if (m_size >= m_grow_at) grow();
    const key_type& key = key_of(n.get());
    const std::uint64_t h = n.get()->hash;
    if (chain_links* found = find_node(key, h)) {
      bucket_array::link_after(run_end(found, key, h), n.get());
      ++m_size;
      return at_node(n.release());
    }
    const bucket_array b = buckets();
    b.push_front(b.index_of(h), n.get());
    ++m_size;
    return at_node(n.release());
  }

  // Doubles the buckets; a small table quadruples them, which saves half of its rehashes (a
  // large share of building it: measured 1.3-1.5x std's time to build 10^4 elements with
  // doubling, 1.0-1.4x so) for at most 32 KiB of buckets more.
  void grow() {
    const size_type factor = m_bucket_count < k_quadruple_below ? 4 : 2;
    relink(std::max(buckets_for(m_size + 1), m_bucket_count * factor));
  }

  size_type growth_limit(size_type count) const noexcept {
    const double limit = static_cast<double>(count) * static_cast<double>(m_max_load);
    return limit >= static_cast<double>(max_size()) ? max_size() : static_cast<size_type>(limit);
  }
  // The fewest buckets (a power of two, at least the minimum) that hold `count` elements.
  size_type buckets_for(size_type count) const {
    if (count == 0) return 0;
    const double wanted = std::ceil(static_cast<double>(count) / static_cast<double>(m_max_load));
    if (wanted > static_cast<double>(max_bucket_count())) {
      throw std::length_error("seam::unordered: too many elements");
    }
    return std::bit_ceil(std::max(static_cast<size_type>(wanted), k_min_buckets));
  }

  // Moves every node into a new array of `count` buckets (0: none, for an empty table) by its
  // stored hash; in multi tables equal keys stay adjacent and in order.
  void relink(size_type count) {
    std::int64_t* fresh = nullptr;
    if (count != 0) {
      word_allocator alloc;
      fresh = reinterpret_cast<std::int64_t*>(
          std::to_address(word_alloc_traits::allocate(alloc, bucket_array::words_for(count))));
    }
    const bucket_array to =
        fresh == nullptr ? bucket_array()
                         : bucket_array::make_empty(reinterpret_cast<std::uint64_t*>(fresh), count);
    buckets().template move_nodes_to<!Unique>(to);
    free_buckets();
    set_heads(fresh);
    m_bucket_count = count;
    m_grow_at = growth_limit(count);
  }

  void free_buckets() noexcept {
    const bucket_array b = buckets();
    if (b.heads() == nullptr) return;
    word_allocator alloc;
    auto* words = reinterpret_cast<std::uint64_t*>(b.heads());
    word_alloc_traits::deallocate(
        alloc, std::pointer_traits<typename word_alloc_traits::pointer>::pointer_to(*words),
        bucket_array::words_for(b.count()));
  }

  // Destroys every node (the buckets still name them: the caller resets or frees them).
  void destroy_nodes() noexcept {
    const bucket_array b = buckets();
    for (chain_links* n = b.table_first(); n != nullptr;) {
      chain_links* next = b.table_next(n);
      nodes::destroy(n);
      n = next;
    }
  }
  void release() noexcept {
    destroy_nodes();
    free_buckets();
    set_heads(nullptr);
    m_bucket_count = m_size = m_grow_at = 0;
  }
  void take(node_table& other) noexcept {
    set_heads(other.buckets().heads());
    m_bucket_count = std::exchange(other.m_bucket_count, 0);
    m_size = std::exchange(other.m_size, 0);
    m_grow_at = std::exchange(other.m_grow_at, 0);
    m_max_load = other.m_max_load;
    other.set_heads(nullptr);
  }

  // Copies `other`'s chains into this empty table: the same buckets, the same order, the stored
  // hashes (no key is hashed). Each node is linked as soon as it is built, so that a throw
  // leaves a consistent table for the destructor.
  void copy_from(const node_table& other) {
    if (other.m_size == 0) return;
    relink(other.m_bucket_count);
    const bucket_array from = other.buckets();
    const bucket_array to = buckets();
    chain_links* tail = nullptr;
    size_type tail_bucket = 0;
    for (const chain_links* n = from.table_first(); n != nullptr; n = from.table_next(n)) {
      node_holder copy{nodes::make(std::as_const(node_value<value_type>(n)))};
      copy.get()->hash = n->hash;
      const size_type index = to.index_of(n->hash);
      if (tail != nullptr && tail_bucket == index) {
        bucket_array::link_after(tail, copy.get());
      } else {
        to.push_front(index, copy.get());
      }
      tail = copy.release();
      tail_bucket = index;
      ++m_size;
    }
  }

  std::int64_t m_buckets = 0;  // self-relative link to the bucket array, 0 for none
  size_type m_bucket_count = 0;
  size_type m_size = 0;
  size_type m_grow_at = 0;  // the size at which the next insertion grows the array
  float m_max_load = 1.0f;
  [[no_unique_address]] Hash m_hash{};
  [[no_unique_address]] Eq m_eq{};
};

}  // namespace seam::detail
