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

std::string_view view_of(const seam::string& s) { return {s.data(), s.size()}; }

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

// ---- Copy, move and swap re-link the headers, wherever the map objects are.

using text_map = seam::map<std::uint64_t, seam::string>;

std::map<std::uint64_t, std::string> as_std(const text_map& m) {
  std::map<std::uint64_t, std::string> out;
  for (const auto& [k, v] : m) out.emplace(k, std::string(view_of(v)));
  return out;
}

void fill(text_map& m, std::uint64_t from, std::uint64_t to) {
  for (std::uint64_t i = from; i < to; ++i) {
    const std::string text = "value " + std::to_string(i) + " long enough to need a block";
    m.emplace(10 + i * 7 % 1009, seam::string(text.data(), text.size()));
  }
}

// The map works after it moved: its ends are reached through the header (begin, --end,
// insertion before the first and after the last), and its invariants hold.
void expect_usable(text_map& m) {
  const char* problem = seam::detail::tree_check(m);
  ASSERT_TRUE(problem == nullptr) << problem;
  const std::size_t n = m.size();
  m.emplace(0, "first");
  m.emplace(100'000, "last");
  ASSERT_EQ(m.begin()->first, 0u);
  ASSERT_EQ(std::prev(m.end())->first, 100'000u);
  ASSERT_EQ(m.rbegin()->first, 100'000u);
  problem = seam::detail::tree_check(m);
  ASSERT_TRUE(problem == nullptr) << problem;
  m.erase(0);
  m.erase(100'000);
  ASSERT_EQ(m.size(), n);
}

TEST(TreeTest, CopyMoveAndSwapWorkInTheArenaAndOnTheStack) {
  seam::arena a = make_arena("tree-copy-move");
  const std::size_t start = a.stats().allocated;
  {
    seam::arena_scope scope{a};
    auto* shared = a.make<text_map>();
    fill(*shared, 0, 500);
    const auto expected = as_std(*shared);

    text_map local(*shared);  // copy: stack object, new nodes in the arena
    EXPECT_EQ(as_std(local), expected);
    EXPECT_TRUE(local == *shared);
    EXPECT_NE(&*local.begin(), &*shared->begin());
    EXPECT_TRUE(a.contains(&*local.begin()));
    ASSERT_NO_FATAL_FAILURE(expect_usable(local));

    text_map moved(std::move(local));  // move: stack to stack, same nodes
    EXPECT_TRUE(local.empty());        // NOLINT: moved-from is empty and usable
    ASSERT_NO_FATAL_FAILURE(expect_usable(local));
    EXPECT_EQ(as_std(moved), expected);
    ASSERT_NO_FATAL_FAILURE(expect_usable(moved));

    auto* second = a.make<text_map>(std::move(moved));  // stack to arena
    EXPECT_EQ(as_std(*second), expected);
    ASSERT_NO_FATAL_FAILURE(expect_usable(*second));

    text_map other;
    fill(other, 1000, 1100);
    const auto other_expected = as_std(other);
    other.swap(*second);  // stack with arena
    EXPECT_EQ(as_std(other), expected);
    EXPECT_EQ(as_std(*second), other_expected);
    ASSERT_NO_FATAL_FAILURE(expect_usable(other));
    ASSERT_NO_FATAL_FAILURE(expect_usable(*second));
    swap(*shared, *second);  // arena with arena
    EXPECT_EQ(as_std(*shared), other_expected);
    EXPECT_EQ(as_std(*second), expected);
    text_map empty;
    empty.swap(other);  // an empty one with a full one, both ways
    EXPECT_TRUE(other.empty());
    EXPECT_EQ(as_std(empty), expected);
    ASSERT_NO_FATAL_FAILURE(expect_usable(other));
    ASSERT_NO_FATAL_FAILURE(expect_usable(empty));

    // Assignments onto non-empty maps free the old nodes; self-assignment changes nothing.
    *shared = empty;
    EXPECT_EQ(as_std(*shared), expected);
    *second = std::move(empty);
    EXPECT_EQ(as_std(*second), expected);
    EXPECT_TRUE(empty.empty());  // NOLINT
    ASSERT_NO_FATAL_FAILURE(expect_usable(*second));
    const text_map& same = *shared;
    *shared = same;
    EXPECT_EQ(as_std(*shared), expected);
    *shared = {{1, seam::string("one")}, {2, seam::string("two")}};
    EXPECT_EQ(shared->size(), 2u);
    ASSERT_NO_FATAL_FAILURE(expect_usable(*shared));

    // A map that moved into the arena reads correctly through a read-only mapping.
    const seam::unique_fd fd = a.share();
    const seam::arena_view view = seam::arena_view::open(fd.get());
    const text_map& seen = *view.get(a.handle_of(second));
    EXPECT_EQ(as_std(seen), expected);
    EXPECT_TRUE(view.contains(&*seen.begin()));

    a.destroy(shared);
    a.destroy(second);
  }
  EXPECT_EQ(a.stats().allocated, start);
}

// ---- Const members only read: all of them run on a read-only mapping of the arena (a write
// would be a SIGSEGV), at another address than the owner's.

struct read_only_root {
  seam::map<seam::string, std::uint64_t, std::less<>> names;
  seam::multimap<std::uint32_t, std::uint64_t> groups;
  seam::set<std::uint64_t> numbers;
  seam::multiset<std::uint32_t> counts;
};

std::string name_of(std::uint64_t i) { return "name-" + std::to_string(i * 31 % 2003) + "-key"; }

TEST(TreeTest, ConstMembersWorkThroughAReadOnlyViewAtAnotherAddress) {
  seam::arena a = make_arena("tree-read-only");
  auto* root = a.make<read_only_root>();
  {
    seam::arena_scope scope{a};
    for (std::uint64_t i = 0; i < 2000; ++i) {
      root->names.try_emplace(seam::string(name_of(i).c_str()), i);
      root->groups.emplace(static_cast<std::uint32_t>(i % 37), i);
      root->numbers.insert(i * 3);
      root->counts.insert(static_cast<std::uint32_t>(i % 101));
    }
  }
  const seam::unique_fd fd = a.share();
  const seam::arena_view view = seam::arena_view::open(fd.get());
  ASSERT_NE(static_cast<const void*>(view.base()), static_cast<const void*>(a.base()));
  const read_only_root& seen = *view.get(a.handle_of(root));

  for (const char* problem :
       {seam::detail::tree_check(seen.names), seam::detail::tree_check(seen.groups),
        seam::detail::tree_check(seen.numbers), seam::detail::tree_check(seen.counts)}) {
    ASSERT_TRUE(problem == nullptr) << problem;
  }
  for (std::uint64_t i = 0; i < 2000; ++i) {
    const std::string name = name_of(i);
    const auto it = seen.names.find(std::string_view(name));
    ASSERT_NE(it, seen.names.end());
    ASSERT_TRUE(view.contains(&*it));
    ASSERT_EQ(seen.names.at(std::string_view(name)), root->names.at(std::string_view(name)));
    ASSERT_TRUE(seen.numbers.contains(i * 3));
    ASSERT_FALSE(seen.numbers.contains(i * 3 + 1));
    const auto above = seen.numbers.lower_bound(i * 3 + 1);
    if (i + 1 < 2000) {
      ASSERT_EQ(*above, i * 3 + 3);
    } else {
      ASSERT_EQ(above, seen.numbers.end());
    }
  }
  EXPECT_THROW((void)seen.names.at(std::string_view("absent")), std::out_of_range);
  for (std::uint32_t g = 0; g < 37; ++g) {
    const auto [first, last] = seen.groups.equal_range(g);
    std::uint64_t expect = g;
    for (auto it = first; it != last; ++it, expect += 37) ASSERT_EQ(it->second, expect);
    ASSERT_EQ(seen.groups.count(g), static_cast<std::size_t>(std::distance(first, last)));
  }
  EXPECT_EQ(seen.counts.count(5), 20u);
  EXPECT_EQ(std::distance(seen.numbers.rbegin(), seen.numbers.rend()), 2000);
  EXPECT_TRUE(seen.numbers == root->numbers);
  EXPECT_TRUE(seen.groups == root->groups);
  EXPECT_EQ(seen.counts <=> root->counts, std::strong_ordering::equal);
  EXPECT_TRUE(seen.names == root->names);
  a.destroy(root);
}

// ---- Lookups by another key type with a transparent comparator.

// Orders ints, and compares them with a `decade` probe that is equivalent to ten of them.
struct decade {
  int tens;
};
struct by_decade {
  using is_transparent = void;
  bool operator()(int a, int b) const { return a < b; }
  bool operator()(int a, decade d) const { return a / 10 < d.tens; }
  bool operator()(decade d, int a) const { return d.tens < a / 10; }
};

TEST(TreeTest, TransparentComparatorsFindWithoutBuildingAKey) {
  seam::arena a = make_arena("tree-transparent");
  seam::arena_scope scope{a};
  seam::map<seam::string, int, std::less<>> names;
  const std::string long_key(100, 'x');
  names[seam::string(long_key.c_str())] = 1;
  names[seam::string("short")] = 2;
  names[seam::string("middle")] = 3;
  EXPECT_EQ(names.find(std::string_view(long_key))->second, 1);
  EXPECT_TRUE(names.contains(std::string_view("short")));
  EXPECT_EQ(names.count(std::string_view("middle")), 1u);
  EXPECT_EQ(names.at(std::string_view("middle")), 3);
  EXPECT_EQ(view_of(names.lower_bound(std::string_view("n"))->first), "short");
  EXPECT_EQ(view_of(names.upper_bound(std::string_view("middle"))->first), "short");
  EXPECT_EQ(names.equal_range(std::string_view("absent")).first,
            names.equal_range(std::string_view("absent")).second);
  EXPECT_EQ(names.erase(std::string_view("short")), 1u);
  EXPECT_EQ(names.erase(std::string_view("short")), 0u);
  EXPECT_EQ(names.size(), 2u);

  // In a unique set, a probe may still match several keys: equal_range, count and erase see
  // them all.
  seam::set<int, by_decade> numbers;
  for (int i = 0; i < 100; i += 3) numbers.insert(i);
  const auto [first, last] = numbers.equal_range(decade{2});
  EXPECT_EQ(std::vector<int>(first, last), (std::vector<int>{21, 24, 27}));
  EXPECT_EQ(numbers.count(decade{2}), 3u);
  EXPECT_EQ(*numbers.find(decade{5}) / 10, 5);
  EXPECT_EQ(*numbers.lower_bound(decade{4}), 42);
  EXPECT_EQ(*numbers.upper_bound(decade{4}), 51);
  EXPECT_EQ(numbers.erase(decade{2}), 3u);
  EXPECT_FALSE(numbers.contains(decade{2}));
  EXPECT_EQ(numbers.count(24), 0u);
  const char* problem = seam::detail::tree_check(numbers);
  EXPECT_TRUE(problem == nullptr) << problem;
}

// ---- A throw while an element is built leaves the container as it was and leaks nothing.

struct fragile {
  static inline int countdown = -1;  // >= 0: the constructor that brings it to -1 throws
  seam::vector<int> payload;         // arena memory, so that a leak would show
  fragile() : fragile(0) {}
  explicit fragile(int v) : payload(20, v) { tick(); }
  fragile(const fragile& other) : payload(other.payload) { tick(); }
  fragile& operator=(const fragile&) = default;
  static void tick() {
    if (countdown >= 0 && countdown-- == 0) throw std::runtime_error("refused");
  }
  friend bool operator==(const fragile& a, const fragile& b) { return a.payload == b.payload; }
};

TEST(TreeTest, AnElementThatThrowsWhileBuiltLeavesTheMapUnchangedAndLeaksNothing) {
  seam::arena a = make_arena("tree-throw");
  const std::size_t start = a.stats().allocated;
  {
    seam::arena_scope scope{a};
    seam::map<int, fragile> map;
    seam::multimap<int, fragile> multi;
    for (int i = 0; i < 100; ++i) {
      map.try_emplace(i * 2, i);
      multi.emplace(i % 10, i);
    }
    const seam::map<int, fragile> map_before(map);
    const seam::multimap<int, fragile> multi_before(multi);
    const std::size_t allocated = a.stats().allocated;

    const auto refused = [&](auto&& change) {
      fragile::countdown = 0;
      EXPECT_THROW(change(), std::runtime_error);
      fragile::countdown = -1;
      EXPECT_TRUE(map == map_before);
      EXPECT_TRUE(multi == multi_before);
      EXPECT_TRUE(seam::detail::tree_check(map) == nullptr);
      EXPECT_TRUE(seam::detail::tree_check(multi) == nullptr);
      EXPECT_EQ(a.stats().allocated, allocated);
    };
    refused([&] { map.try_emplace(1, 5); });
    refused([&] { map.try_emplace(map.end(), 1001, 5); });
    refused([&] { map[3]; });
    refused([&] { map.emplace(5, 5); });
    refused([&] { map.emplace_hint(map.begin(), 7, 5); });
    refused([&] { map.insert_or_assign(9, fragile(1)); });  // throws building the argument
    refused([&] {
      map.emplace(std::piecewise_construct, std::forward_as_tuple(11), std::forward_as_tuple(5));
    });
    refused([&] { multi.emplace(3, 5); });
    refused([&] { multi.emplace_hint(multi.end(), 3, 5); });
    // A copy that fails half-way frees the nodes it made.
    fragile::countdown = 50;
    EXPECT_THROW((seam::map<int, fragile>(map)), std::runtime_error);
    fragile::countdown = -1;
    EXPECT_EQ(a.stats().allocated, allocated);
    // So does a range constructor (the destructor runs for what was inserted).
    fragile::countdown = 30;
    EXPECT_THROW((seam::map<int, fragile>(map.begin(), map.end())), std::runtime_error);
    fragile::countdown = -1;
    EXPECT_EQ(a.stats().allocated, allocated);
    // A present key builds nothing: try_emplace does not touch its arguments.
    fragile::countdown = 0;
    EXPECT_FALSE(map.try_emplace(2, 5).second);
    EXPECT_FALSE(map.emplace(4, 5).second);
    fragile::countdown = -1;
  }
  EXPECT_EQ(a.stats().allocated, start);
}

// ---- The rest of the std interface.

TEST(TreeTest, MappedContainersAreBuiltInTheCurrentArena) {
  seam::arena a = make_arena("tree-nested");
  const std::size_t start = a.stats().allocated;
  {
    seam::arena_scope scope{a};
    auto* index = a.make<seam::map<seam::string, seam::vector<int>>>();
    for (int i = 0; i < 300; ++i) {
      const std::string key = "a key long enough for a block of its own " + std::to_string(i % 50);
      (*index)[seam::string(key.c_str())].push_back(i);
    }
    ASSERT_EQ(index->size(), 50u);
    for (const auto& [key, values] : *index) {
      EXPECT_TRUE(a.contains(key.data()));
      EXPECT_TRUE(a.contains(values.data()));
      EXPECT_EQ(values.size(), 6u);
    }
    a.destroy(index);
  }
  EXPECT_EQ(a.stats().allocated, start);
}

TEST(TreeTest, OffersTheInterfaceOfTheStdOrderedContainers) {
  seam::arena a = make_arena("tree-interface");
  seam::arena_scope scope{a};
  seam::map<int, int> m{{3, 30}, {1, 10}, {2, 20}};
  EXPECT_EQ((std::vector<std::pair<const int, int>>(m.begin(), m.end())),
            (std::vector<std::pair<const int, int>>{{1, 10}, {2, 20}, {3, 30}}));
  EXPECT_EQ(m.at(2), 20);
  EXPECT_THROW((void)m.at(4), std::out_of_range);
  EXPECT_THROW((void)std::as_const(m).at(4), std::out_of_range);
  EXPECT_EQ(m.insert_or_assign(2, 22).second, false);
  EXPECT_EQ(m[2], 22);
  EXPECT_EQ(m.insert_or_assign(m.end(), 4, 40)->second, 40);
  EXPECT_EQ(m.insert_or_assign(m.begin(), 4, 44)->second, 44);
  EXPECT_EQ(m.try_emplace(m.end(), 5, 50)->second, 50);
  EXPECT_TRUE(m.value_comp()({1, 0}, {2, 0}));
  EXPECT_TRUE(m.key_comp()(1, 2));
  EXPECT_GT(m.max_size(), 1000u);
  EXPECT_TRUE((m.get_allocator() == seam::allocator<std::pair<const int, int>>()));

  const seam::map<int, int> copy = m;
  EXPECT_TRUE(copy == m);
  seam::map<int, int> bigger = m;
  bigger[3] = 31;
  EXPECT_TRUE(m < bigger);
  EXPECT_TRUE(m != bigger);
  EXPECT_EQ(m <=> bigger, std::strong_ordering::less);
  EXPECT_EQ(bigger <=> m, std::strong_ordering::greater);
  bigger.erase(5);
  EXPECT_TRUE(m < bigger);  // the first difference decides (30 < 31), not the length
  EXPECT_FALSE(bigger < m);
  seam::map<int, int> prefix = m;
  prefix.erase(5);
  EXPECT_TRUE(prefix < m);  // a proper prefix is less

  const std::vector<std::pair<int, int>> pairs{{9, 90}, {7, 70}, {8, 80}, {7, 71}};
  seam::map<int, int> ranged(pairs.begin(), pairs.end());
  EXPECT_EQ(ranged.size(), 3u);
  EXPECT_EQ(ranged.at(7), 70);
  seam::multimap<int, int> multi(pairs.begin(), pairs.end());
  EXPECT_EQ(multi.size(), 4u);
  EXPECT_EQ(std::next(multi.begin())->second, 71);  // equal keys keep the input order
  multi.insert(pairs.begin(), pairs.end());
  EXPECT_EQ(multi.count(7), 4u);
  multi = {{1, 1}, {1, 2}};
  EXPECT_EQ(multi.size(), 2u);

  m.insert({{10, 100}, {11, 110}});
  EXPECT_EQ(erase_if(m, [](const auto& kv) { return kv.first % 2 == 0; }), 3u);
  EXPECT_EQ((std::vector<int>{1, 3, 5, 11}), [&] {
    std::vector<int> keys;
    for (const auto& [k, v] : m) keys.push_back(k);
    return keys;
  }());
  for (auto& [k, v] : m) v = -k;  // mapped values change in place
  EXPECT_EQ(m.rbegin()->second, -11);
  EXPECT_EQ(m.crbegin()->first, 11);
  EXPECT_EQ(std::prev(m.cend())->first, 11);

  seam::set<int> s{5, 1, 3, 1};
  EXPECT_EQ(s.size(), 3u);
  EXPECT_TRUE(s.value_comp()(1, 2));
  seam::set<int> ordered(boost::container::ordered_unique_range, s.begin(), s.end());
  EXPECT_TRUE(ordered == s);
  seam::multiset<int> ms{5, 1, 3, 1};
  EXPECT_EQ(ms.count(1), 2u);
  ms = {2, 2, 2};
  EXPECT_EQ(ms.count(2), 3u);
  EXPECT_EQ(erase_if(ms, [](int v) { return v == 2; }), 3u);
  EXPECT_TRUE(ms.empty());
  s.swap(ordered);
  s.clear();
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.begin(), s.end());
  EXPECT_EQ(ordered.size(), 3u);
}

}  // namespace
