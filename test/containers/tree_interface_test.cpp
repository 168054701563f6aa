// seam::map / multimap / set / multiset beyond the randomised model runs of tree_test.cpp:
// copy, move and swap wherever the maps live, const members on a read-only mapping,
// transparent lookups, exception safety and the rest of the std interface.

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
