#pragma once
/// \file
/// The nodes of `seam::detail::node_table` (behind `seam::unordered_map` and friends): the
/// node, its self-relative link, and how nodes are made and freed.
///
/// Links are stored as self-relative distances, as in the tree (`tree_node.hpp`): each link is
/// decoded once into a raw pointer when it is read and encoded once when it is written, so the
/// same bytes mean the same table in every process that maps the arena, at any address, and no
/// raw pointer ever reaches the arena.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>

#include "seam/containers/detail/node_maker.hpp"

namespace seam::detail {

/// The part of a node the table links: the next node of the same bucket (a signed distance in
/// bytes from the field to that node, 0 for none) and the full hash of the node's key, kept so
/// that growing never hashes a key again and a lookup rejects most other keys without comparing
/// them. No field ever points at its own address (chains have no cycles), so 0 is free to mean
/// "none".
struct chain_links {
  std::int64_t next;
  std::uint64_t hash;
};

/// The node a self-relative `link` points at, or null.
inline chain_links* decode_link(const std::int64_t& link) noexcept {
  const std::int64_t distance = link;
  if (distance == 0) return nullptr;
  return reinterpret_cast<chain_links*>(reinterpret_cast<std::uintptr_t>(&link) +
                                        static_cast<std::uintptr_t>(distance));
}
/// Makes `link` point at `target` (null: none).
inline void encode_link(std::int64_t& link, const chain_links* target) noexcept {
  link = target == nullptr ? 0
                           : static_cast<std::int64_t>(reinterpret_cast<std::uintptr_t>(target) -
                                                       reinterpret_cast<std::uintptr_t>(&link));
}

/// A node: links, then the element. The element is a union member so that the node can be
/// allocated first and the element built in place afterwards (and destroyed on its own).
template <class V>
struct chain_node : chain_links {
  chain_node() noexcept : chain_links{} {}  // the value is built by the table
  chain_node(const chain_node&) = delete;
  chain_node& operator=(const chain_node&) = delete;
  ~chain_node() {}  // the table destroys `value` first
  union {
    V value;
  };
};

/// The element of a node given its links.
template <class V>
V& node_value(const chain_links* n) noexcept {
  return static_cast<chain_node<V>*>(const_cast<chain_links*>(n))->value;
}

/// Making and freeing the nodes of elements `V` with the stateless allocator `Alloc`.
template <class V, class Alloc>
struct chain_nodes : node_maker<chain_node<V>, Alloc> {
  using node = chain_node<V>;
  using node_maker<node, Alloc>::destroy;
  using node_maker<node, Alloc>::free;
  using node_maker<node, Alloc>::make;
  /// Destroys the element of a linked node and frees the node.
  static void destroy(chain_links* links) noexcept { destroy(static_cast<node*>(links)); }

  /// Owns a node that is not yet in a table: frees it (and its element) unless released.
  class holder {
   public:
    explicit holder(node* n) noexcept : m_node(n) {}
    holder(const holder&) = delete;
    holder& operator=(const holder&) = delete;
    ~holder() {
      if (m_node != nullptr) destroy(m_node);
    }
    node* get() const noexcept { return m_node; }
    node* release() noexcept { return std::exchange(m_node, nullptr); }

   private:
    node* m_node;
  };
};

}  // namespace seam::detail
