#pragma once
/// \file
/// The bucket array of `seam::detail::node_table` (chain heads plus occupancy groups) and the
/// table's iterators.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <new>
#include <type_traits>

#include "seam/containers/detail/chain_node.hpp"

namespace seam::detail {

/// Which of 64 consecutive buckets are non-empty, and the links of the list of non-empty groups
/// (group indices: the bucket array holds no pointer). The list makes `begin()` and every
/// iterator step constant time however sparse the table is.
struct bucket_group {
  std::uint64_t mask;  // bit i: bucket 64 * group + i holds a node
  std::uint64_t next;  // the next non-empty group; the sentinel (index `group_count`) ends it
  std::uint64_t prev;
};

inline constexpr std::size_t k_group_buckets = 64;

/// A process-local handle on a bucket array: `count` chain heads (self-relative links to each
/// bucket's first node), then `count / 64` (at least 1) groups and a sentinel group that heads
/// the circular list of non-empty groups. The array is one block of 8-byte words; this handle
/// holds raw pointers into it and is never stored in the arena.
class bucket_array {
 public:
  bucket_array() noexcept = default;
  bucket_array(const std::int64_t* heads, std::size_t count) noexcept
      : m_heads(const_cast<std::int64_t*>(heads)), m_count(count) {}

  /// Words a block of `count` buckets needs.
  static constexpr std::size_t words_for(std::size_t count) noexcept {
    return count + (groups_for(count) + 1) * (sizeof(bucket_group) / sizeof(std::uint64_t));
  }
  /// Initialises a block of `words_for(count)` words: every bucket empty.
  static bucket_array make_empty(std::uint64_t* words, std::size_t count) noexcept {
    for (std::size_t i = 0; i < count; ++i) ::new (static_cast<void*>(words + i)) std::int64_t(0);
    bucket_array a(reinterpret_cast<std::int64_t*>(words), count);
    const std::size_t sentinel = groups_for(count);
    for (std::size_t g = 0; g <= sentinel; ++g) {
      ::new (static_cast<void*>(a.groups() + g)) bucket_group{0, sentinel, sentinel};
    }
    return a;
  }

  std::int64_t* heads() const noexcept { return m_heads; }
  std::size_t count() const noexcept { return m_count; }
  std::size_t index_of(std::uint64_t hash) const noexcept { return hash & (m_count - 1); }
  chain_links* first(std::size_t bucket) const noexcept { return decode_link(m_heads[bucket]); }

  /// The first node of the table, or null.
  chain_links* table_first() const noexcept {
    if (m_count == 0) return nullptr;
    return first_of_group(groups()[sentinel()].next);
  }
  /// The node after `n` in iteration order (its bucket's chain, then the following non-empty
  /// buckets), or null. The group indices and masks come from memory another process may have
  /// written: an out-of-range one ends the iteration rather than reading outside the array.
  chain_links* table_next(const chain_links* n) const noexcept {
    if (chain_links* next = decode_link(n->next)) return next;
    const std::size_t b = index_of(n->hash);
    const std::size_t g = b / k_group_buckets;
    const std::uint64_t later =
        groups()[g].mask & ~((std::uint64_t{2} << (b % k_group_buckets)) - 1);
    if (later != 0) return bucket_first(g, later);
    return first_of_group(groups()[g].next);
  }

  /// The first node of hash `h` in its bucket for which `match(node)` holds, or null. It visits
  /// at most `limit` nodes, so that even a chain with a cycle, read from another process,
  /// cannot make it loop forever.
  template <class Match>
  chain_links* find(std::uint64_t h, std::size_t limit, Match match) const {
    chain_links* n = first(index_of(h));
    for (; n != nullptr && limit != 0; --limit, n = decode_link(n->next)) {
      if (n->hash == h && match(n)) return n;
    }
    return nullptr;
  }
  /// The node before `n` in bucket `b` (which holds it), or null if `n` heads it.
  chain_links* before(std::size_t b, const chain_links* n) const noexcept {
    chain_links* prev = nullptr;
    for (chain_links* p = first(b); p != n; p = decode_link(p->next)) prev = p;
    return prev;
  }

  /// Links `n` at the front of bucket `b`.
  void push_front(std::size_t b, chain_links* n) const noexcept { splice_front(b, n, n); }
  /// Links the chain `first` … `last` (linked among themselves) at the front of bucket `b`.
  void splice_front(std::size_t b, chain_links* first, chain_links* last) const noexcept {
    chain_links* old = first_of(b);
    encode_link(last->next, old);
    encode_link(m_heads[b], first);
    if (old == nullptr) mark_full(b);
  }
  /// Links `n` right after `prev` (of the same bucket).
  static void link_after(chain_links* prev, chain_links* n) noexcept {
    encode_link(n->next, decode_link(prev->next));
    encode_link(prev->next, n);
  }
  /// Unlinks the nodes `first` … `last` of bucket `b`; `prev` is the node before `first`, or
  /// null if `first` heads the bucket.
  void unlink(std::size_t b, chain_links* prev, chain_links* last) const noexcept {
    chain_links* after = decode_link(last->next);
    if (prev != nullptr) {
      encode_link(prev->next, after);
      return;
    }
    encode_link(m_heads[b], after);
    if (after == nullptr) mark_empty(b);
  }
  /// Moves every node into the empty array `to` by its stored hash (no key is read). With
  /// `KeepRuns`, runs of equal hashes move together and in order, so that equal keys stay
  /// adjacent and in insertion order (multi tables).
  ///
  /// Bucket by bucket, in index order, so that over a big array the nodes of buckets further
  /// on can be fetched while this one is moved: first the node, then (once it has arrived) the
  /// head of its new bucket. Without this, each node's cache miss would wait for the previous
  /// one's. A small array is in the caches: there it would only cost time.
  template <bool KeepRuns>
  void move_nodes_to(const bucket_array& to) const noexcept {
    const auto move_bucket = [&](std::size_t i) {
      for (chain_links* n = first(i); n != nullptr;) {
        chain_links* last = n;
        if constexpr (KeepRuns) {
          for (chain_links* next = decode_link(n->next); next != nullptr && next->hash == n->hash;
               next = decode_link(next->next)) {
            last = next;
          }
        }
        chain_links* next = decode_link(last->next);
        to.splice_front(to.index_of(n->hash), n, last);
        n = next;
      }
    };
    constexpr std::size_t node_ahead = 16;
    constexpr std::size_t head_ahead = 8;
    constexpr std::size_t prefetch_from = std::size_t{1} << 15;  // buckets
    const std::size_t fetched = m_count >= prefetch_from ? m_count - node_ahead : 0;
    std::size_t i = 0;
    for (; i < fetched; ++i) {
      if (const chain_links* p = first(i + node_ahead)) __builtin_prefetch(p);
      if (const chain_links* p = first(i + head_ahead)) {
        __builtin_prefetch(to.heads() + to.index_of(p->hash), 1);
      }
      move_bucket(i);
    }
    for (; i < m_count; ++i) move_bucket(i);
  }

  /// The number of groups, and group `g` (`g == group_count()`: the sentinel). For checks.
  std::size_t group_count() const noexcept { return groups_for(m_count); }
  const bucket_group& group(std::size_t g) const noexcept { return groups()[g]; }

  /// Marks every bucket empty (the nodes are the caller's business).
  void reset() const noexcept { make_empty(reinterpret_cast<std::uint64_t*>(m_heads), m_count); }

 private:
  static constexpr std::size_t groups_for(std::size_t count) noexcept {
    return (count + k_group_buckets - 1) / k_group_buckets;
  }
  bucket_group* groups() const noexcept {
    return reinterpret_cast<bucket_group*>(m_heads + m_count);
  }
  std::size_t sentinel() const noexcept { return groups_for(m_count); }
  chain_links* first_of(std::size_t b) const noexcept { return decode_link(m_heads[b]); }

  chain_links* first_of_group(std::uint64_t g) const noexcept {
    if (g >= sentinel()) return nullptr;  // the sentinel: the end (or a corrupt index)
    return bucket_first(g, groups()[g].mask);
  }
  chain_links* bucket_first(std::uint64_t g, std::uint64_t mask) const noexcept {
    if (mask == 0) return nullptr;  // only in a corrupt array: a listed group is non-empty
    const std::size_t b = g * k_group_buckets + static_cast<std::size_t>(std::countr_zero(mask));
    return b < m_count ? decode_link(m_heads[b]) : nullptr;
  }

  void mark_full(std::size_t b) const noexcept {
    bucket_group* gs = groups();
    const std::size_t g = b / k_group_buckets;
    if (gs[g].mask == 0) {  // the group becomes non-empty: list it last (so a copy, which
                            // fills groups in iteration order, iterates in the same order)
      const std::size_t s = sentinel();
      gs[g].prev = gs[s].prev;
      gs[g].next = s;
      gs[gs[s].prev].next = g;
      gs[s].prev = g;
    }
    gs[g].mask |= std::uint64_t{1} << (b % k_group_buckets);
  }
  void mark_empty(std::size_t b) const noexcept {
    bucket_group* gs = groups();
    const std::size_t g = b / k_group_buckets;
    gs[g].mask &= ~(std::uint64_t{1} << (b % k_group_buckets));
    if (gs[g].mask == 0) {
      gs[gs[g].prev].next = gs[g].next;
      gs[gs[g].next].prev = gs[g].prev;
    }
  }

  std::int64_t* m_heads = nullptr;
  std::size_t m_count = 0;
};

/// A forward iterator over a table's nodes; `Const` iterators give `const V&`. It holds a raw
/// pointer to a node (null for end()) and a handle on the bucket array, to step from one bucket
/// to the next: valid in the process that made it, until the table rehashes, like std's.
template <class V, bool Const>
class chain_iterator {
 public:
  using iterator_category = std::forward_iterator_tag;
  using iterator_concept = std::forward_iterator_tag;
  using value_type = std::remove_const_t<V>;
  using difference_type = std::ptrdiff_t;
  using pointer = std::conditional_t<Const, const V*, V*>;
  using reference = std::conditional_t<Const, const V&, V&>;

  chain_iterator() noexcept = default;
  chain_iterator(const chain_links* n, bucket_array buckets) noexcept
      : m_node(const_cast<chain_links*>(n)), m_buckets(buckets) {}
  /// An iterator converts to a const iterator.
  template <bool OtherConst, class = std::enable_if_t<Const && !OtherConst>>
  chain_iterator(const chain_iterator<V, OtherConst>& other) noexcept  // NOLINT: implicit, as std's
      : m_node(other.node()), m_buckets(other.buckets()) {}

  reference operator*() const noexcept { return node_value<value_type>(m_node); }
  pointer operator->() const noexcept { return std::addressof(**this); }

  chain_iterator& operator++() noexcept {
    m_node = m_buckets.table_next(m_node);
    return *this;
  }
  chain_iterator operator++(int) noexcept {
    chain_iterator old = *this;
    ++*this;
    return old;
  }

  template <bool OtherConst>
  bool operator==(const chain_iterator<V, OtherConst>& other) const noexcept {
    return m_node == other.node();
  }

  chain_links* node() const noexcept { return m_node; }
  bucket_array buckets() const noexcept { return m_buckets; }

 private:
  chain_links* m_node = nullptr;
  bucket_array m_buckets;
};

/// An iterator over one bucket's chain (`begin(n)` / `end(n)` of the bucket interface).
template <class V, bool Const>
class chain_local_iterator {
 public:
  using iterator_category = std::forward_iterator_tag;
  using iterator_concept = std::forward_iterator_tag;
  using value_type = std::remove_const_t<V>;
  using difference_type = std::ptrdiff_t;
  using pointer = std::conditional_t<Const, const V*, V*>;
  using reference = std::conditional_t<Const, const V&, V&>;

  chain_local_iterator() noexcept = default;
  explicit chain_local_iterator(const chain_links* n) noexcept
      : m_node(const_cast<chain_links*>(n)) {}
  template <bool OtherConst, class = std::enable_if_t<Const && !OtherConst>>
  chain_local_iterator(const chain_local_iterator<V, OtherConst>& other) noexcept  // NOLINT
      : m_node(other.node()) {}

  reference operator*() const noexcept { return node_value<value_type>(m_node); }
  pointer operator->() const noexcept { return std::addressof(**this); }
  chain_local_iterator& operator++() noexcept {
    m_node = decode_link(m_node->next);
    return *this;
  }
  chain_local_iterator operator++(int) noexcept {
    chain_local_iterator old = *this;
    ++*this;
    return old;
  }
  template <bool OtherConst>
  bool operator==(const chain_local_iterator<V, OtherConst>& other) const noexcept {
    return m_node == other.node();
  }
  chain_links* node() const noexcept { return m_node; }

 private:
  chain_links* m_node = nullptr;
};

}  // namespace seam::detail
