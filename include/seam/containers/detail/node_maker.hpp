#pragma once
/// \file
/// How Seam's node-based containers (the trees, the unordered tables) make and free their nodes:
/// the node is allocated first and its element built in place afterwards, so that a node of a
/// key already present need never be built, and a throwing constructor leaves nothing behind.

#include <memory>
#include <new>
#include <utility>

namespace seam::detail {

/// Makes and frees nodes `Node` (a type with a `value` member in a union, built separately) with
/// the stateless allocator `Alloc` (no allocator object is kept: one is made where needed).
template <class Node, class Alloc>
struct node_maker {
  using node_allocator = typename std::allocator_traits<Alloc>::template rebind_alloc<Node>;
  using node_alloc_traits = std::allocator_traits<node_allocator>;

  /// A node from the allocator with its element built from `args`; on a throw the node is
  /// freed.
  template <class... Args>
  static Node* make(Args&&... args) {
    node_allocator alloc;
    Node* n = std::to_address(node_alloc_traits::allocate(alloc, 1));
    ::new (static_cast<void*>(n)) Node;
    try {
      std::construct_at(std::addressof(n->value), std::forward<Args>(args)...);
    } catch (...) {
      free(n);
      throw;
    }
    return n;
  }
  /// Frees a node whose element is destroyed (or was never built).
  static void free(Node* n) noexcept {
    n->~Node();
    node_allocator alloc;
    node_alloc_traits::deallocate(
        alloc, std::pointer_traits<typename node_alloc_traits::pointer>::pointer_to(*n), 1);
  }
  /// Destroys the element of a node and frees the node.
  static void destroy(Node* n) noexcept {
    std::destroy_at(std::addressof(n->value));
    free(n);
  }
};

}  // namespace seam::detail
