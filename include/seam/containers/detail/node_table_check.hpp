#pragma once
/// \file
/// `seam::detail::node_table_check`: the invariant check of `node_table`, for tests.

#include <bit>
#include <cstddef>
#include <cstdint>

#include "seam/containers/detail/node_table.hpp"

namespace seam::detail {

/// Checks every invariant of the node table `t`: a power-of-two bucket count of at least 8 (or
/// none when never filled); each node sits in the bucket of its stored hash, which is its key's
/// hash; a bucket is marked in its group's mask exactly when it holds a node; the list of
/// non-empty groups links both ways and holds exactly those groups; no two nodes hold equal
/// keys (unique tables) or equal keys are adjacent (multi tables); iteration visits each node
/// once; the size counts them and is within the growth limit. Returns null if all hold, else
/// what is wrong. For tests: it walks the whole table.
template <class Policy, class Hash, class Eq, class Alloc, bool Unique>
const char* node_table_check(const node_table<Policy, Hash, Eq, Alloc, Unique>& t) {
  using table = node_table<Policy, Hash, Eq, Alloc, Unique>;
  const bucket_array b = t.buckets();
  if (b.heads() == nullptr) {
    if (t.m_bucket_count != 0) return "a bucket count but no bucket array";
    return t.m_size == 0 ? nullptr : "elements but no bucket array";
  }
  if (!std::has_single_bit(t.m_bucket_count) || t.m_bucket_count < 8) {
    return "the bucket count is not a power of two of at least 8";
  }
  if (t.m_grow_at != t.growth_limit(t.m_bucket_count)) return "a stale growth limit";
  if (t.m_size > t.m_grow_at) return "the load is above the maximum";
  std::size_t nodes = 0;
  for (std::size_t i = 0; i < b.count(); ++i) {
    const bool marked = (b.group(i / k_group_buckets).mask >> (i % k_group_buckets)) & 1;
    if (marked != (b.first(i) != nullptr)) return "a bucket's mask bit disagrees with its chain";
    for (const chain_links* n = b.first(i); n != nullptr; n = decode_link(n->next)) {
      if (++nodes > t.m_size) return "the chains hold more nodes than the size";
      const auto& key = table::key_of(n);
      if (n->hash != t.hash_of(key)) return "a node's stored hash is not its key's";
      if (b.index_of(n->hash) != i) return "a node is in another bucket than its hash's";
      // The first earlier node of an equal key, if any, must start a run of equal keys that
      // reaches `n` (multi), or not exist (unique).
      for (const chain_links* q = b.first(i); q != n; q = decode_link(q->next)) {
        if (!t.m_eq(key, table::key_of(q))) continue;
        if (Unique) return "a unique table holds two equal keys";
        for (const chain_links* r = q; r != n; r = decode_link(r->next)) {
          if (!t.m_eq(key, table::key_of(r))) return "equal keys are not adjacent";
        }
        break;
      }
    }
  }
  if (nodes != t.m_size) return "the chains hold fewer nodes than the size";
  // The group list: both directions agree and it holds exactly the non-empty groups.
  const std::size_t sentinel = b.group_count();
  std::size_t listed = 0;
  for (std::size_t g = b.group(sentinel).next; g != sentinel; g = b.group(g).next) {
    if (g > sentinel) return "a group link out of range";
    if (++listed > sentinel) return "the group list does not end";
    if (b.group(g).mask == 0) return "an empty group is listed";
    if (b.group(b.group(g).next).prev != g) return "a group's next does not link back";
  }
  std::size_t non_empty = 0;
  for (std::size_t g = 0; g < sentinel; ++g) non_empty += b.group(g).mask != 0;
  if (listed != non_empty) return "a non-empty group is not listed";
  std::size_t seen = 0;
  for (auto it = t.begin(); it != t.end(); ++it) {
    if (++seen > t.m_size) return "iteration does not end after size steps";
  }
  if (seen != t.m_size) return "iteration visits fewer nodes than the size";
  return nullptr;
}

}  // namespace seam::detail
