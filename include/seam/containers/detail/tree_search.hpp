#pragma once
/// \file
/// One step of a search down `seam::detail::tree`, the loop that `find`, `lower_bound`,
/// `upper_bound` and insertion spend their time in.
///
/// Why it is written out: a search is a chain of dependent steps (load a node, compare, pick a
/// child), and its speed is the latency of one step and how many searches the CPU can overlap.
/// Measured on `map_find` (10^4 and 10^6 keys, gcc 12): a branch on the comparison (which
/// compilers emit for a `?:` more often than not) is mispredicted half the time and made a find
/// 2x slower than `std::map`'s branch-free loop; selecting with masks or a `bool` fed to a
/// conditional move costs a few instructions per step. So on x86-64 the step is a conditional
/// move on the flags of the comparison itself when the key is an integer ordered by `<` (the
/// same code as `std::map`'s loop when gcc makes it branch-free), and a conditional move on the
/// comparator's `bool` for other keys, whose comparison costs more than the selection anyway.

#include <cstdint>
#include <functional>
#include <type_traits>

#include "seam/containers/detail/tree_node.hpp"

namespace seam {
template <class K>
struct less;  // seam/containers/less.hpp
}  // namespace seam

namespace seam::detail {

/// `c ? if_true : if_false`, never a branch.
template <class T>
inline T select(bool c, T if_true, T if_false) noexcept {
  static_assert(sizeof(T) == 8 && std::is_trivially_copyable_v<T>, "a register-sized value");
#if defined(__x86_64__)
  asm("test %1, %1\n\tcmovnz %2, %0" : "+r"(if_false) : "r"(c), "r"(if_true) : "cc");
  return if_false;
#else
  return c ? if_true : if_false;
#endif
}

/// Which node a search remembers: the last it went left from (`lower_bound`'s and
/// `upper_bound`'s answer) or the last it went right from (the only node an inserted key can
/// equal).
enum class search_mark { left, right };

/// True if `Compare` orders keys of type `Key` by `<` on 64-bit integers, so that a step may
/// compare with one instruction.
template <class Key, class Compare>
inline constexpr bool integer_search =
#if defined(__x86_64__)
    std::is_integral_v<Key> && sizeof(Key) == 8 &&
    (std::is_same_v<Compare, std::less<Key>> || std::is_same_v<Compare, std::less<>> ||
     std::is_same_v<Compare, seam::less<Key>>);
#else
    false;
#endif

/// One step from `x` of a search for `key`: goes right if `x`'s key is below `key` (`OrEqual`:
/// not above), else left; stores `x` in `mark` if it went the `Mark` way, and returns the link
/// to the child it goes to (0 past a leaf). `node_key` is `x`'s key; `comp` the tree's comparator.
template <bool OrEqual, search_mark Mark, class Key, class Compare, class K>
inline std::int64_t search_step(const tree_links* x, const Key& node_key, const K& key,
                                const Compare& comp, const tree_links*& mark) noexcept {
  std::int64_t link = x->child[0];
#if defined(__x86_64__)
  if constexpr (integer_search<Key, Compare> && std::is_same_v<K, Key>) {
    // `cmp` sets the flags of node_key - key; `right_cc` holds where the search goes right.
#define SEAM_TREE_STEP(right_cc, mark_cc)                                           \
  asm("cmp %[k], %[n]\n\tcmov" right_cc " %[r], %[l]\n\tcmov" mark_cc " %[x], %[m]" \
      : [l] "+r"(link), [m] "+r"(mark)                                              \
      : [k] "r"(key), [n] "m"(node_key), [r] "m"(x->child[1]), [x] "r"(x)           \
      : "cc")
#define SEAM_TREE_STEPS(right_cc, left_cc)    \
  if constexpr (Mark == search_mark::right) { \
    SEAM_TREE_STEP(right_cc, right_cc);       \
  } else {                                    \
    SEAM_TREE_STEP(right_cc, left_cc);        \
  }
    if constexpr (std::is_signed_v<Key>) {
      if constexpr (OrEqual) {
        SEAM_TREE_STEPS("le", "g")
      } else {
        SEAM_TREE_STEPS("l", "ge")
      }
    } else {
      if constexpr (OrEqual) {
        SEAM_TREE_STEPS("be", "a")
      } else {
        SEAM_TREE_STEPS("b", "ae")
      }
    }
#undef SEAM_TREE_STEPS
#undef SEAM_TREE_STEP
    return link;
  }
#endif
  bool right;
  if constexpr (OrEqual) {
    right = !comp(key, node_key);
  } else {
    right = comp(node_key, key);
  }
  if constexpr (Mark == search_mark::left) {
    mark = select(right, mark, x);
  } else {
    mark = select(right, x, mark);
  }
  return select(right, x->child[1], link);
}

}  // namespace seam::detail
