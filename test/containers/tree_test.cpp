// seam::map / multimap / set / multiset: Seam's own red-black tree (detail/tree.hpp) checked
// against the std containers as models, with the tree's invariants checked after every batch.

#include <gtest/gtest.h>

#include <algorithm>
#include <compare>
#include <cstdint>
#include <iterator>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "seam/arena/arena.hpp"
#include "seam/arena/arena_view.hpp"
#include "seam/containers/map.hpp"
#include "seam/containers/set.hpp"
#include "seam/containers/string.hpp"
#include "seam/containers/vector.hpp"

namespace {

constexpr std::size_t MiB = std::size_t{1} << 20;

seam::arena make_arena(const char* name) {
  return seam::arena({.capacity = 1024 * MiB, .name = name});
}

static_assert(std::bidirectional_iterator<seam::map<int, int>::iterator>);
static_assert(std::bidirectional_iterator<seam::map<int, int>::const_iterator>);
static_assert(std::bidirectional_iterator<seam::set<int>::iterator>);
static_assert(std::is_same_v<seam::set<int>::iterator, seam::set<int>::const_iterator>);
static_assert(
    std::is_convertible_v<seam::map<int, int>::iterator, seam::map<int, int>::const_iterator>);
static_assert(
    !std::is_convertible_v<seam::map<int, int>::const_iterator, seam::map<int, int>::iterator>);
static_assert(std::is_same_v<seam::map<int, int>::value_type, std::pair<const int, int>>);
static_assert(std::is_same_v<seam::map<int, int>::allocator_type,
                             seam::allocator<std::pair<const int, int>>>);
static_assert(std::is_nothrow_move_constructible_v<seam::map<int, int>>);

// The tree's invariants hold, its nodes are in `a` (if given), and it holds the model's
// sequence, forwards and backwards.
template <class Tree, class Model>
void expect_same(const Tree& tree, const Model& model, const seam::arena* a = nullptr) {
  const char* problem = seam::detail::tree_check(tree);
  ASSERT_TRUE(problem == nullptr) << problem;
  ASSERT_EQ(tree.size(), model.size());
  ASSERT_EQ(tree.empty(), model.empty());
  ASSERT_TRUE(std::equal(tree.begin(), tree.end(), model.begin(), model.end()));
  ASSERT_TRUE(std::equal(tree.rbegin(), tree.rend(), model.rbegin(), model.rend()));
  if (a != nullptr) {
    for (const auto& v : tree) ASSERT_TRUE(a->contains(&v, sizeof v));
  }
}

// The same position in two containers holding the same sequence: its distance from begin.
template <class C, class It>
std::ptrdiff_t index_of(const C& c, It it) {
  return std::distance(c.begin(), typename C::const_iterator(it));
}

// A position chosen at random, the same in the tree and in the model (which hold the same
// sequence): begin, end, or the lower or upper bound of a random key.
struct hint_choice {
  int kind;
  std::uint64_t key;
  template <class C>
  typename C::const_iterator in(const C& c) const {
    switch (kind) {
      case 0:
        return c.cbegin();
      case 1:
        return c.cend();
      case 2:
        return c.lower_bound(key);
      default:
        return c.upper_bound(key);
    }
  }
};

// ---- Randomised operations against the std containers.

TEST(TreeTest, MapMatchesStdMapUnderRandomOperations) {
  seam::arena a = make_arena("tree-map-random");
  const std::size_t start = a.stats().allocated;
  using map_t = seam::map<std::uint64_t, std::uint64_t>;
  auto* map = a.make<map_t>();
  std::map<std::uint64_t, std::uint64_t> model;
  std::mt19937_64 rng(7);
  {
    seam::arena_scope scope{a};
    for (int batch = 0; batch < 300; ++batch) {
      // Alternate phases that grow and shrink the map, so it is often rebalanced both ways.
      const std::uint64_t range = batch % 3 == 2 ? 64 : 2000;
      const int erase_weight = batch % 4 == 3 ? 6 : 2;
      for (int step = 0; step < 100; ++step) {
        const std::uint64_t k = rng() % range;
        const std::uint64_t v = rng();
        const int op = static_cast<int>(rng() % (10 + erase_weight));
        switch (op) {
          case 0: {
            const auto [it, fresh] = map->insert({k, v});
            const auto [mit, mfresh] = model.insert({k, v});
            ASSERT_EQ(fresh, mfresh);
            ASSERT_EQ(*it, *mit);
            break;
          }
          case 1: {
            const auto [it, fresh] = map->emplace(k, v);
            ASSERT_EQ(fresh, model.emplace(k, v).second);
            ASSERT_EQ(it->first, k);
            break;
          }
          case 2: {
            const auto [it, fresh] = map->try_emplace(k, v);
            ASSERT_EQ(fresh, model.try_emplace(k, v).second);
            ASSERT_EQ(it->second, model[k]);
            break;
          }
          case 3:
            ASSERT_EQ(map->insert_or_assign(k, v).second, model.insert_or_assign(k, v).second);
            break;
          case 4:
            (*map)[k] += v;
            model[k] += v;
            break;
          case 5: {  // emplace_hint / insert with a hint, right or wrong
            const hint_choice h{static_cast<int>(rng() % 4), rng() % range};
            const auto it = rng() % 2 == 0 ? map->emplace_hint(h.in(*map), k, v)
                                           : map->insert(h.in(*map), {k, v});
            const auto mit = model.emplace_hint(h.in(model), k, v);
            ASSERT_EQ(*it, *mit);
            break;
          }
          case 6: {  // piecewise: the key is not visible in the arguments, a node is built first
            const auto [it, fresh] = map->emplace(
                std::piecewise_construct, std::forward_as_tuple(k), std::forward_as_tuple(v));
            ASSERT_EQ(fresh, model.emplace(k, v).second);
            ASSERT_EQ(*it, *model.find(k));
            break;
          }
          case 7: {  // lookups
            ASSERT_EQ(map->contains(k), model.contains(k));
            ASSERT_EQ(map->count(k), model.count(k));
            ASSERT_EQ(index_of(*map, map->find(k)), index_of(model, model.find(k)));
            ASSERT_EQ(index_of(*map, map->lower_bound(k)), index_of(model, model.lower_bound(k)));
            ASSERT_EQ(index_of(*map, map->upper_bound(k)), index_of(model, model.upper_bound(k)));
            const auto [first, last] = std::as_const(*map).equal_range(k);
            const auto [mfirst, mlast] = model.equal_range(k);
            ASSERT_EQ(index_of(*map, first), index_of(model, mfirst));
            ASSERT_EQ(index_of(*map, last), index_of(model, mlast));
            break;
          }
          case 8: {  // a range from one key's lower bound to another's upper bound
            const std::uint64_t k2 = std::min(range - 1, k + rng() % 40);
            const auto it = map->erase(map->lower_bound(k), map->upper_bound(k2));
            const auto mit = model.erase(model.lower_bound(k), model.upper_bound(k2));
            ASSERT_EQ(index_of(*map, it), index_of(model, mit));
            break;
          }
          case 9: {  // a std::pair<K, V> (not value_type): the key is read from `first`
            const std::pair<std::uint64_t, std::uint64_t> p{k, v};
            ASSERT_EQ(map->insert(p).second, model.insert(p).second);
            break;
          }
          default:
            if (op % 2 == 0) {
              ASSERT_EQ(map->erase(k), model.erase(k));
            } else {
              auto it = map->lower_bound(k);
              if (it == map->end()) break;
              const auto next = map->erase(it);
              const auto mnext = model.erase(model.lower_bound(k));
              ASSERT_EQ(index_of(*map, next), index_of(model, mnext));
            }
        }
      }
      ASSERT_NO_FATAL_FAILURE(expect_same(*map, model, &a));
    }
    map->clear();
    model.clear();
    ASSERT_NO_FATAL_FAILURE(expect_same(*map, model));
    EXPECT_EQ(map->begin(), map->end());
  }
  a.destroy(map);
  EXPECT_EQ(a.stats().allocated, start);
}

TEST(TreeTest, MultimapMatchesStdMultimapAndKeepsEqualKeysInInsertionOrder) {
  seam::arena a = make_arena("tree-multimap-random");
  const std::size_t start = a.stats().allocated;
  {
    seam::arena_scope scope{a};
    seam::multimap<std::uint64_t, std::uint64_t> map;  // on the stack, nodes in the arena
    std::multimap<std::uint64_t, std::uint64_t> model;
    std::mt19937_64 rng(11);
    std::uint64_t serial = 0;  // every value differs: the order among equal keys shows
    for (int batch = 0; batch < 200; ++batch) {
      const int erase_weight = batch % 4 == 3 ? 5 : 1;
      for (int step = 0; step < 100; ++step) {
        const std::uint64_t k = rng() % 50;
        const std::uint64_t v = serial++;
        const int op = static_cast<int>(rng() % (5 + erase_weight));
        switch (op) {
          case 0:
            ASSERT_EQ(map.emplace(k, v)->second, model.emplace(k, v)->second);
            break;
          case 1:
            ASSERT_EQ(map.insert({k, v})->second, model.insert({k, v})->second);
            break;
          case 2: {  // hints: placed as close as possible before the hint, as std does
            const hint_choice h{static_cast<int>(rng() % 4), rng() % 50};
            const auto it = map.emplace_hint(h.in(map), k, v);
            const auto mit = model.emplace_hint(h.in(model), k, v);
            ASSERT_EQ(index_of(map, it), index_of(model, mit));
            break;
          }
          case 3: {
            ASSERT_EQ(map.count(k), model.count(k));
            const auto [first, last] = map.equal_range(k);
            const auto [mfirst, mlast] = model.equal_range(k);
            ASSERT_TRUE(std::equal(first, last, mfirst, mlast));
            ASSERT_EQ(index_of(map, map.lower_bound(k)), index_of(model, model.lower_bound(k)));
            ASSERT_EQ(index_of(map, map.upper_bound(k)), index_of(model, model.upper_bound(k)));
            ASSERT_EQ(index_of(map, map.find(k)), index_of(model, model.find(k)));
            break;
          }
          case 4: {  // erase one element in the middle of a run of equal keys
            const auto [first, last] = map.equal_range(k);
            const auto n = std::distance(first, last);
            if (n == 0) break;
            const auto skip = static_cast<std::ptrdiff_t>(rng() % static_cast<std::uint64_t>(n));
            map.erase(std::next(first, skip));
            model.erase(std::next(model.equal_range(k).first, skip));
            break;
          }
          default:
            ASSERT_EQ(map.erase(k), model.erase(k));
        }
      }
      ASSERT_NO_FATAL_FAILURE(expect_same(map, model, &a));
    }
    map.erase(map.begin(), map.end());
    EXPECT_TRUE(map.empty());
  }
  EXPECT_EQ(a.stats().allocated, start);
}

TEST(TreeTest, SetAndMultisetMatchStd) {
  seam::arena a = make_arena("tree-set-random");
  const std::size_t start = a.stats().allocated;
  {
    seam::arena_scope scope{a};
    seam::set<std::uint64_t> set;
    seam::multiset<std::uint64_t> multi;
    std::set<std::uint64_t> set_model;
    std::multiset<std::uint64_t> multi_model;
    std::mt19937_64 rng(13);
    for (int batch = 0; batch < 200; ++batch) {
      for (int step = 0; step < 100; ++step) {
        const std::uint64_t k = rng() % 300;
        switch (rng() % 6) {
          case 0:
          case 1:
            ASSERT_EQ(set.insert(k).second, set_model.insert(k).second);
            ASSERT_EQ(*multi.insert(k), *multi_model.insert(k));
            break;
          case 2:
            ASSERT_EQ(*set.emplace_hint(set.lower_bound(k), k), k);
            set_model.insert(k);
            multi.emplace_hint(multi.upper_bound(k), k);
            multi_model.emplace_hint(multi_model.upper_bound(k), k);
            break;
          case 3:
            ASSERT_EQ(set.erase(k), set_model.erase(k));
            ASSERT_EQ(multi.erase(k), multi_model.erase(k));
            break;
          case 4: {
            const auto it = set.find(k);
            if (it != set.end()) set.erase(it);
            set_model.erase(k);
            const auto mit = multi.find(k);
            if (mit != multi.end()) multi.erase(mit);
            const auto mmit = multi_model.find(k);
            if (mmit != multi_model.end()) multi_model.erase(mmit);
            break;
          }
          default:
            ASSERT_EQ(set.count(k), set_model.count(k));
            ASSERT_EQ(multi.count(k), multi_model.count(k));
            ASSERT_EQ(index_of(set, set.upper_bound(k)),
                      index_of(set_model, set_model.upper_bound(k)));
            ASSERT_EQ(index_of(multi, multi.lower_bound(k)),
                      index_of(multi_model, multi_model.lower_bound(k)));
        }
      }
      ASSERT_NO_FATAL_FAILURE(expect_same(set, set_model, &a));
      ASSERT_NO_FATAL_FAILURE(expect_same(multi, multi_model, &a));
    }
  }
  EXPECT_EQ(a.stats().allocated, start);
}

// Long monotonic runs are the classic worst case of an unbalanced tree: the red-black checks
// (black heights, red children) and the depth bound must hold at 200k elements.
TEST(TreeTest, StaysBalancedThroughSortedInsertionsAndMassErasure) {
  seam::arena a = make_arena("tree-balance");
  const std::size_t start = a.stats().allocated;
  {
    seam::arena_scope scope{a};
    seam::set<std::uint64_t> set;
    std::set<std::uint64_t> model;
    for (std::uint64_t i = 0; i < 100'000; ++i) {  // ascending
      set.insert(i);
      model.insert(i);
    }
    for (std::uint64_t i = 200'000; i > 100'000; --i) {  // descending, with a useless hint
      set.insert(set.end(), i);
      model.insert(i);
    }
    ASSERT_EQ(set.size(), 200'000u);
    ASSERT_NO_FATAL_FAILURE(expect_same(set, model, &a));
    // Erase every other element, then a contiguous block, then from both ends.
    for (auto it = set.begin(); it != set.end();) {
      it = set.erase(it);
      if (it != set.end()) ++it;
    }
    for (auto it = model.begin(); it != model.end();) {
      it = model.erase(it);
      if (it != model.end()) ++it;
    }
    set.erase(set.lower_bound(50'000), set.lower_bound(150'000));
    model.erase(model.lower_bound(50'000), model.lower_bound(150'000));
    for (int i = 0; i < 1000; ++i) {
      set.erase(set.begin());
      set.erase(std::prev(set.end()));
      model.erase(model.begin());
      model.erase(std::prev(model.end()));
    }
    ASSERT_NO_FATAL_FAILURE(expect_same(set, model, &a));
  }
  EXPECT_EQ(a.stats().allocated, start);
}

}  // namespace
