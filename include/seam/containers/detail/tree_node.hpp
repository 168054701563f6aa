#pragma once
/// \file
/// The nodes of `seam::detail::tree` (behind `seam::map` and `seam::set`): links stored as
/// self-relative offsets, the node traits that let Boost.Intrusive's red-black algorithms work
/// on raw node pointers, the iterator, and `check_tree_links`, the invariant check of tests.
///
/// Why not `seam::ptr` links: Boost.Intrusive's algorithms copy node pointers into temporaries
/// all the time, and every copy of an `offset_ptr` re-encodes it against its own (stack)
/// address. Here a link is decoded once into a raw pointer when it is read and encoded once when
/// it is written; the algorithms only ever hold raw pointers, which never reach the arena.

#include <boost/intrusive/rbtree_algorithms.hpp>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <type_traits>

#include "seam/arena/assert.hpp"

namespace seam::detail {

/// The links of a tree node, and of a tree's header (which lives in the container object).
///
/// Each link is the signed distance in bytes from the node's `child` array (the same origin for
/// all three links of a node) to the node it points at, 0 for none: the same bytes mean the same
/// tree in every process that maps the arena, at any address, and a container object outside
/// the arena (on a stack) may point into it. 0 is free to mean "none" because no node starts at
/// another node's `child` array (nodes do not overlap), and the header's children, which point at
/// the header itself when the tree is empty, are then -8, not 0.
///
/// Why one origin per node and not the address of each link field: a search step then computes
/// the next node as `origin + selected link` whichever child it took (one `lea` after a
/// conditional move), as short as `std::map`'s step. A search is a chain of dependent steps, and
/// the fewer instructions each step has, the more searches the CPU overlaps: with a per-field
/// origin the step also selected the origin, and a find in a 10^6-node map ran at 0.3x std's.
///
/// The node's colour is the low bit of `parent`: nodes and headers are 8-aligned, so every
/// distance between them is a multiple of 8. This keeps the links at 24 bytes, so that in the
/// common 48-byte node (two 8-byte fields) the links and the key share a cache line in three
/// nodes out of four, as in `std::map`, instead of one out of two with a separate colour byte.
struct tree_links {
  std::int64_t parent;    // distance to the parent | colour bit
  std::int64_t child[2];  // left, right: an array, so that a search indexes it by a comparison
};

/// `boost::intrusive` node traits for `tree_links`: `node_ptr` is a raw pointer, and each
/// get/set decodes/encodes a self-relative link. A get never writes, so const operations of the
/// trees (lookups, iteration) work on a read-only mapping.
struct tree_node_traits {
  using node = tree_links;
  using node_ptr = tree_links*;
  using const_node_ptr = const tree_links*;
  using color = unsigned char;

  static constexpr std::int64_t color_mask = 1;

  /// The origin of `n`'s links.
  static std::uintptr_t origin(const_node_ptr n) noexcept {
    return reinterpret_cast<std::uintptr_t>(n->child);
  }
  static node_ptr decode(const_node_ptr n, std::int64_t distance) noexcept {
    if (distance == 0) return nullptr;
    return reinterpret_cast<node_ptr>(origin(n) + static_cast<std::uintptr_t>(distance));
  }
  static std::int64_t distance(const_node_ptr n, const_node_ptr target) noexcept {
    SEAM_ASSERT(reinterpret_cast<std::uintptr_t>(target) != origin(n),
                "seam tree: a link to a node's own child array (it would read as null)");
    SEAM_ASSERT(reinterpret_cast<std::uintptr_t>(target) % alignof(tree_links) == 0,
                "seam tree: a misaligned node");
    return target == nullptr
               ? 0
               : static_cast<std::int64_t>(reinterpret_cast<std::uintptr_t>(target) - origin(n));
  }

  static node_ptr get_parent(const_node_ptr n) noexcept {
    return decode(n, n->parent & ~color_mask);
  }
  static node_ptr get_left(const_node_ptr n) noexcept { return decode(n, n->child[0]); }
  static node_ptr get_right(const_node_ptr n) noexcept { return decode(n, n->child[1]); }
  static void set_parent(node_ptr n, node_ptr p) noexcept {
    n->parent = distance(n, p) | (n->parent & color_mask);
  }
  static void set_left(node_ptr n, node_ptr l) noexcept { n->child[0] = distance(n, l); }
  static void set_right(node_ptr n, node_ptr r) noexcept { n->child[1] = distance(n, r); }
  static color get_color(const_node_ptr n) noexcept {
    return static_cast<color>(n->parent & color_mask);
  }
  static void set_color(node_ptr n, color c) noexcept {
    n->parent = (n->parent & ~color_mask) | static_cast<std::int64_t>(c);
  }
  static constexpr color black() noexcept { return 0; }
  static constexpr color red() noexcept { return 1; }
};

using tree_algorithms = boost::intrusive::rbtree_algorithms<tree_node_traits>;

/// A node: links, then the element. The element is a union member so that the node can be
/// allocated first and the element built in place afterwards (and destroyed on its own).
template <class V>
struct tree_node : tree_links {
  tree_node() noexcept : tree_links{} {}  // the value is built by the tree
  tree_node(const tree_node&) = delete;
  tree_node& operator=(const tree_node&) = delete;
  ~tree_node() {}  // the tree destroys `value` first
  union {
    V value;
  };
};

/// The element of a node given its links (never the header's).
template <class V>
V& value_of(const tree_links* n) noexcept {
  return static_cast<tree_node<V>*>(const_cast<tree_links*>(n))->value;
}

/// A bidirectional iterator over a tree's nodes in order; `Const` iterators give `const V&`.
/// It holds a raw pointer to a node (or the header, for end()): valid in the process that made
/// it, like every iterator. Moving it only reads links.
template <class V, bool Const>
class tree_iterator {
 public:
  using iterator_category = std::bidirectional_iterator_tag;
  using iterator_concept = std::bidirectional_iterator_tag;
  using value_type = std::remove_const_t<V>;
  using difference_type = std::ptrdiff_t;
  using pointer = std::conditional_t<Const, const V*, V*>;
  using reference = std::conditional_t<Const, const V&, V&>;

  tree_iterator() noexcept = default;
  explicit tree_iterator(const tree_links* n) noexcept : m_node(const_cast<tree_links*>(n)) {}
  /// An iterator converts to a const iterator.
  template <bool OtherConst, class = std::enable_if_t<Const && !OtherConst>>
  tree_iterator(const tree_iterator<V, OtherConst>& other) noexcept  // NOLINT: implicit, as std's
      : m_node(other.node()) {}

  reference operator*() const noexcept { return value_of<value_type>(m_node); }
  pointer operator->() const noexcept { return std::addressof(**this); }

  tree_iterator& operator++() noexcept {
    m_node = tree_algorithms::next_node(m_node);
    return *this;
  }
  tree_iterator operator++(int) noexcept {
    tree_iterator old = *this;
    ++*this;
    return old;
  }
  tree_iterator& operator--() noexcept {
    m_node = tree_algorithms::prev_node(m_node);
    return *this;
  }
  tree_iterator operator--(int) noexcept {
    tree_iterator old = *this;
    --*this;
    return old;
  }

  template <bool OtherConst>
  bool operator==(const tree_iterator<V, OtherConst>& other) const noexcept {
    return m_node == other.node();
  }

  /// The node (or header) this iterator is at.
  tree_links* node() const noexcept { return m_node; }

 private:
  tree_links* m_node = nullptr;
};

/// Checks every invariant of the red-black tree under `header` that holds `size` nodes of
/// elements `V`, ordered by `less(key_of(a), key_of(b))`: links agree in both directions, the
/// header knows the root, leftmost and rightmost node, the in-order sequence is sorted (strictly
/// if `unique`), the root is black, no red node has a red child, every path has the same number
/// of black nodes, and the count is `size`. Returns null if all hold, else what is wrong.
/// For tests: it walks the whole tree.
template <class V, class KeyOf, class Less>
const char* check_tree_links(const tree_links* header, std::size_t size, bool unique, KeyOf key_of,
                             const Less& less) {
  using traits = tree_node_traits;
  if (traits::get_color(header) != traits::red()) return "the header is not red";
  const tree_links* root = traits::get_parent(header);
  if (root == nullptr) {
    if (traits::get_left(header) != header || traits::get_right(header) != header) {
      return "an empty tree's header does not point at itself";
    }
    return size == 0 ? nullptr : "the tree is empty but its size is not 0";
  }
  if (traits::get_parent(root) != header) return "the root's parent is not the header";
  if (traits::get_color(root) != traits::black()) return "the root is not black";

  // Walk down with an explicit stack (a valid tree is at most 2 log2(n) deep; a deeper one is
  // reported, not overflowed), checking links and colours and measuring black heights.
  struct frame {
    const tree_links* node;
    std::size_t blacks;  // black nodes from the root down to `node`, inclusive
  };
  constexpr std::size_t max_depth = 130;
  frame stack[max_depth];
  std::size_t depth = 0;
  std::size_t black_height = 0;  // of the first leaf reached; every other must match
  std::size_t nodes = 0;
  stack[depth++] = {root, 1};
  while (depth != 0) {
    const frame f = stack[--depth];
    ++nodes;
    if (nodes > size) return "the tree holds more nodes than its size";
    const tree_links* n = f.node;
    const bool red = traits::get_color(n) == traits::red();
    for (const tree_links* child : {traits::get_left(n), traits::get_right(n)}) {
      if (child == nullptr) {
        if (black_height == 0) black_height = f.blacks;
        if (black_height != f.blacks) return "two paths hold different numbers of black nodes";
        continue;
      }
      if (traits::get_parent(child) != n) return "a child's parent link is not its parent";
      const bool child_red = traits::get_color(child) == traits::red();
      if (red && child_red) return "a red node has a red child";
      if (depth == max_depth) return "the tree is too deep to be balanced";
      stack[depth++] = {child, f.blacks + (child_red ? 0 : 1)};
    }
  }
  if (nodes != size) return "the tree holds fewer nodes than its size";
  if (traits::get_left(header) != tree_algorithms::minimum(const_cast<tree_links*>(root))) {
    return "the header's leftmost is not the least node";
  }
  if (traits::get_right(header) != tree_algorithms::maximum(const_cast<tree_links*>(root))) {
    return "the header's rightmost is not the greatest node";
  }

  // In order, forwards and backwards.
  std::size_t seen = 0;
  const tree_links* prev = nullptr;
  for (const tree_links* n = traits::get_left(header); n != header;
       n = tree_algorithms::next_node(const_cast<tree_links*>(n))) {
    if (++seen > size) return "iteration does not end after size steps";
    if (prev != nullptr) {
      const auto& a = key_of(value_of<V>(prev));
      const auto& b = key_of(value_of<V>(n));
      if (less(b, a)) return "iteration is not in key order";
      if (unique && !less(a, b)) return "a unique tree holds two equal keys";
    }
    prev = n;
  }
  if (seen != size) return "iteration visits fewer nodes than the size";
  seen = 0;
  for (const tree_links* n = header;;) {
    n = tree_algorithms::prev_node(const_cast<tree_links*>(n));
    if (n == header) return "reverse iteration reached the header";
    if (++seen == size) {
      if (n != traits::get_left(header)) return "reverse iteration does not end at the first";
      break;
    }
  }
  return nullptr;
}

}  // namespace seam::detail
