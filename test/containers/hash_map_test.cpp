// seam::hash_map against std::unordered_map as the model: random workloads, erasing, growth,
// keys and values of many kinds, copies, moves and the allocator policy.
#include "seam/containers/hash_map.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>
#include <memory>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "containers/hash_table_support.hpp"
#include "seam/arena/arena.hpp"
#include "seam/containers/string.hpp"
#include "seam/containers/vector.hpp"

namespace {

using namespace seam::test::hash_tables;  // NOLINT: the shared helpers of these tests

// --- The map against std::unordered_map ---

TEST(HashMapTest, MatchesStdUnorderedMapUnderOneMillionRandomOperations) {
  heap_map<std::uint64_t, std::uint64_t> large;
  ASSERT_NO_FATAL_FAILURE(run_against_model(large, 1, 600000, 1 << 15));
  heap_map<std::uint64_t, std::uint64_t> small;  // small key range: erase-heavy churn
  ASSERT_NO_FATAL_FAILURE(run_against_model(small, 2, 500000, 1 << 9));
}

TEST(HashMapTest, MatchesModelWithAHashOfFewValues) {
  heap_map<std::uint64_t, std::uint64_t, colliding_hash> map;
  ASSERT_NO_FATAL_FAILURE(run_against_model(map, 3, 150000, 3000));
}

TEST(HashMapTest, MatchesModelInAnArena) {
  seam::arena a = make_arena("hash-map-model");
  auto* map = a.make<seam::hash_map<std::uint64_t, std::uint64_t>>();
  {
    seam::arena_scope scope{a};
    ASSERT_NO_FATAL_FAILURE(run_against_model(*map, 4, 200000, 1 << 14));
  }
  a.destroy(map);
}

TEST(HashMapTest, StringKeysAndValuesInAnArenaMatchModel) {
  seam::arena a = make_arena("hash-map-strings");
  const std::size_t start = a.stats().allocated;
  auto* map = a.make<seam::hash_map<seam::string, seam::string>>();
  std::unordered_map<std::string, std::string> model;
  std::mt19937_64 rng(5);
  {
    seam::arena_scope scope{a};
    for (int op = 0; op < 200000; ++op) {
      const std::string key = "key-" + std::to_string(rng() % 5000) + std::string(rng() % 30, 'k');
      const std::string value(rng() % 40, 'v');
      switch (rng() % 4) {
        case 0:
          ASSERT_EQ(map->try_emplace(seam::string(key.data(), key.size()), value.c_str()).second,
                    model.try_emplace(key, value).second);
          break;
        case 1:
          (*map)[seam::string(key.data(), key.size())] = value.c_str();
          model[key] = value;
          break;
        case 2:
          ASSERT_EQ(map->erase(std::string_view(key)), model.erase(key));
          break;
        default: {
          const auto it = map->find(key);
          ASSERT_EQ(it == map->end(), !model.contains(key));
          if (it != map->end()) {
            ASSERT_EQ(view_of(it->second), model[key]);
          }
        }
      }
    }
  }
  ASSERT_EQ(map->size(), model.size());
  for (const auto& [key, value] : *map)
    ASSERT_EQ(view_of(value), model.at(std::string(view_of(key))));
  a.destroy(map);
  EXPECT_EQ(a.stats().allocated, start);
}

// --- Erasing ---

TEST(HashMapTest, EraseHeavyWorkloadKeepsCapacityAndProbesBounded) {
  // Insert N, erase 90%, insert as many new keys, again and again. Tombstones must be
  // reclaimed: left alone they would fill every group, a miss would probe the whole table,
  // and inserts would force growth. Reclaimed, the table stays at its size, and a miss
  // probes about as many groups as in a table filled to its limit without any erase (about
  // 2 at 7/8 full; up to 2.5 with tombstones just before they are reclaimed).
  constexpr std::uint64_t n = 100000;
  heap_map<std::uint64_t, std::uint64_t> map;
  for (std::uint64_t k = 0; k < n; ++k) map.emplace(k, k);
  const std::size_t capacity = map.bucket_count();
  std::uint64_t next = n;
  std::uint64_t oldest = 0;
  for (int round = 0; round < 30; ++round) {
    for (std::uint64_t i = 0; i < n * 9 / 10; ++i) ASSERT_EQ(map.erase(oldest++), 1u);
    for (std::uint64_t i = 0; i < n * 9 / 10; ++i) ASSERT_TRUE(map.emplace(next++, 0).second);
    ASSERT_EQ(map.size(), n);
    ASSERT_EQ(map.bucket_count(), capacity) << "round " << round;
    std::size_t groups = 0;
    std::size_t longest = 0;
    for (std::uint64_t miss = next; miss < next + 10000; ++miss) {
      groups += map.probe_length(miss);
      longest = std::max(longest, map.probe_length(miss));
    }
    ASSERT_LT(static_cast<double>(groups) / 10000, 3.0) << "round " << round;
    ASSERT_LT(longest, 64u) << "round " << round;  // of 8192 groups
  }
  for (std::uint64_t k = oldest; k < next; ++k) ASSERT_TRUE(map.contains(k));
}

TEST(HashMapTest, EraseByIteratorReturnsTheNextAndKeepsOtherElementsInPlace) {
  heap_map<int, int> map;
  for (int i = 0; i < 1000; ++i) map.emplace(i, i);
  std::vector<const std::pair<const int, int>*> kept;
  for (const auto& entry : map) {
    if (entry.first % 2 != 0) kept.push_back(&entry);
  }
  std::size_t visited = 0;
  for (auto it = map.begin(); it != map.end(); ++visited) {
    it = it->first % 2 == 0 ? map.erase(it) : std::next(it);
  }
  EXPECT_EQ(visited, 1000u);
  EXPECT_EQ(map.size(), 500u);
  for (const auto* entry : kept) EXPECT_EQ(&*map.find(entry->first), entry);
  auto last = map.erase(map.begin(), map.end());
  EXPECT_EQ(last, map.end());
  EXPECT_TRUE(map.empty());
}

TEST(HashMapTest, ClearKeepsTheSlotsAndEmptiesTheTable) {
  heap_map<int, std::string> map;
  for (int i = 0; i < 100; ++i) map.emplace(i, std::string(50, 'x'));
  const std::size_t capacity = map.bucket_count();
  map.clear();
  EXPECT_TRUE(map.empty());
  EXPECT_EQ(map.begin(), map.end());
  EXPECT_EQ(map.bucket_count(), capacity);
  EXPECT_FALSE(map.contains(5));
  map[5] = "again";
  EXPECT_EQ(map.at(5), "again");
}

// --- Growth and capacity ---

TEST(HashMapTest, GrowsFromEmptyToOneMillionInAnArena) {
  seam::arena a = make_arena("hash-map-growth");
  auto* map = a.make<seam::hash_map<std::uint64_t, std::uint64_t>>();
  EXPECT_EQ(map->bucket_count(), 0u);
  constexpr std::uint64_t n = 1000000;
  {
    seam::arena_scope scope{a};
    for (std::uint64_t k = 0; k < n; ++k) {
      ASSERT_TRUE(map->emplace(k * 7, k).second);
      ASSERT_LE(map->load_factor(), map->max_load_factor());
    }
  }
  EXPECT_EQ(map->size(), n);
  EXPECT_EQ(std::popcount(map->bucket_count()), 1);
  EXPECT_GT(map->load_factor(), map->max_load_factor() / 2);
  for (std::uint64_t k = 0; k < n; ++k) ASSERT_EQ(map->at(k * 7), k);
  EXPECT_FALSE(map->contains(1));
  a.destroy(map);
}

TEST(HashMapTest, ReserveMakesRoomWithoutLaterRehash) {
  heap_map<int, int> map;
  map.reserve(5000);
  const std::size_t capacity = map.bucket_count();
  EXPECT_GE(capacity * map.max_load_factor(), 5000.0);
  map.emplace(0, 0);
  const auto* first = &*map.find(0);
  for (int i = 1; i < 5000; ++i) map.emplace(i, i);
  EXPECT_EQ(map.bucket_count(), capacity);
  EXPECT_EQ(&*map.find(0), first);  // never moved
  map.rehash(0);                    // shrink to fit
  EXPECT_LT(map.bucket_count(), capacity * 2);
  EXPECT_EQ(map.size(), 5000u);
  map.clear();
  map.rehash(0);
  EXPECT_EQ(map.bucket_count(), 0u);
}

TEST(HashMapTest, MaxLoadFactorBoundsTheLoad) {
  heap_map<int, int> map;
  map.max_load_factor(0.5f);
  for (int i = 0; i < 10000; ++i) {
    map.emplace(i, i);
    ASSERT_LE(map.load_factor(), 0.5f);
  }
  map.max_load_factor(0.3f);
  EXPECT_LE(map.load_factor(), 0.3f);
  EXPECT_EQ(map.size(), 10000u);
  map.max_load_factor(5.0f);  // clamped: an open table needs free slots
  EXPECT_LT(map.max_load_factor(), 1.0f);
}

// --- Keys and values of many kinds ---

TEST(HashMapTest, StringKeysAreFoundByStringViewWithoutBuildingAKey) {
  seam::arena a = make_arena("hash-map-heterogeneous");
  auto* map = a.make<seam::hash_map<seam::string, int>>();
  const std::string long_key = "a key far too long for the small-string buffer";
  {
    seam::arena_scope scope{a};
    map->try_emplace(seam::string(long_key.c_str()), 1);
    map->emplace(seam::string("short"), 2);
  }
  // No arena scope here: building a long seam::string would throw no_current_arena.
  const auto& cmap = *map;
  EXPECT_EQ(cmap.find(std::string_view(long_key))->second, 1);
  EXPECT_EQ(cmap.at(long_key), 1);
  EXPECT_EQ(cmap.at("short"), 2);
  EXPECT_TRUE(cmap.contains(std::string_view("short")));
  EXPECT_EQ(cmap.count(long_key + "!"), 0u);
  EXPECT_THROW((void)cmap.at(std::string_view("absent")), std::out_of_range);
  EXPECT_EQ(map->erase(std::string_view(long_key)), 1u);
  EXPECT_EQ(map->size(), 1u);
  // With transparent Hash and Eq, erase(iterator) still erases a position, not a key.
  EXPECT_EQ(map->erase(map->find("short")), map->end());
  EXPECT_TRUE(map->empty());
  a.destroy(map);
}

TEST(HashMapTest, ContainerValuesInAnArenaAreAllDestroyed) {
  seam::arena a = make_arena("hash-map-values");
  const std::size_t start = a.stats().allocated;
  using value_list = seam::vector<seam::string>;
  auto* map = a.make<seam::hash_map<seam::string, value_list>>();
  {
    seam::arena_scope scope{a};
    for (int i = 0; i < 20000; ++i) {
      auto& list =
          (*map)[seam::string(("key number " + std::to_string(i) + " of the test").c_str())];
      for (int j = 0; j < i % 5; ++j) list.emplace_back("a value long enough to be allocated");
    }
    for (int i = 0; i < 20000; i += 3) {
      map->erase(std::string_view("key number " + std::to_string(i) + " of the test"));
    }
    map->rehash(0);
    auto copy = *map;  // copies live in the arena too
    EXPECT_TRUE(copy == *map);
    copy.clear();
    for (int i = 0; i < 100; ++i) copy.try_emplace(seam::string(std::to_string(i).c_str()), 3);
  }
  EXPECT_EQ(map->size(), 20000u - 6667u);
  EXPECT_GT(a.stats().allocated, start);
  a.destroy(map);
  EXPECT_EQ(a.stats().allocated, start);
}

struct move_only {
  explicit move_only(int v) : value(std::make_unique<int>(v)) {}
  std::unique_ptr<int> value;
};

TEST(HashMapTest, HoldsMoveOnlyValuesThroughRehashAndMoves) {
  heap_map<int, move_only> map;
  for (int i = 0; i < 10000; ++i) ASSERT_TRUE(map.try_emplace(i, i).second);
  map.emplace(-1, move_only(-1));
  map.insert_or_assign(-1, move_only(-2));
  EXPECT_EQ(*map.at(-1).value, -2);
  for (int i = 0; i < 10000; i += 2) map.erase(i);
  heap_map<int, move_only> moved = std::move(map);
  EXPECT_TRUE(map.empty());  // NOLINT: a moved-from table is empty
  moved.rehash(0);
  for (int i = 1; i < 10000; i += 2) ASSERT_EQ(*moved.at(i).value, i);
  map = std::move(moved);
  EXPECT_EQ(map.size(), 5001u);
}

TEST(HashMapTest, CopyMoveSwapAndEqualityBehaveLikeStd) {
  heap_map<std::string, int> a{{"one", 1}, {"two", 2}, {"three", 3}};
  heap_map<std::string, int> b = a;
  EXPECT_TRUE(a == b);
  b["two"] = 22;
  EXPECT_FALSE(a == b);
  b["two"] = 2;
  b.erase("three");
  EXPECT_FALSE(a == b);
  b.emplace("three", 3);
  EXPECT_TRUE(a == b);
  heap_map<std::string, int> c;
  c = a;
  c.swap(b);
  EXPECT_TRUE(c == a && b == a);
  b = {{"x", 9}};
  swap(b, c);
  EXPECT_EQ(c.size(), 1u);
  EXPECT_EQ(b.size(), 3u);
  heap_map<std::string, int> d(std::move(b));
  EXPECT_TRUE(d == a);
  EXPECT_TRUE(b.empty());
  auto& same = d;
  d = same;  // self-assignment keeps the contents
  EXPECT_TRUE(d == a);
}

struct throws_on_build {
  explicit throws_on_build(bool fail) {
    if (fail) throw std::runtime_error("refused");
  }
};

TEST(HashMapTest, AValueThatThrowsWhileBuiltLeavesTheTableUnchanged) {
  heap_map<int, throws_on_build> map;
  for (int i = 0; i < 14; ++i) map.try_emplace(i, false);  // fills a 16-slot table
  EXPECT_THROW(map.try_emplace(99, true), std::runtime_error);
  EXPECT_EQ(map.size(), 14u);
  EXPECT_FALSE(map.contains(99));
  std::size_t seen = 0;
  for (auto it = map.begin(); it != map.end(); ++it) ++seen;
  EXPECT_EQ(seen, 14u);
}

TEST(HashMapTest, AtThrowsForAMissingKey) {
  heap_map<int, int> map;
  EXPECT_THROW((void)map.at(1), std::out_of_range);
  map[1] = 10;
  EXPECT_EQ(map.at(1), 10);
  EXPECT_THROW((void)std::as_const(map).at(2), std::out_of_range);
}

TEST(HashMapTest, OffersTheInterfaceOfStdUnorderedMap) {
  using map_type = heap_map<int, std::string>;
  static_assert(std::forward_iterator<map_type::iterator>);
  static_assert(std::forward_iterator<map_type::const_iterator>);
  static_assert(std::is_convertible_v<map_type::iterator, map_type::const_iterator>);
  static_assert(!std::is_convertible_v<map_type::const_iterator, map_type::iterator>);

  const std::vector<std::pair<int, std::string>> source{{1, "a"}, {2, "b"}, {3, "c"}};
  map_type map(source.begin(), source.end());
  EXPECT_EQ(map.size(), 3u);
  map_type copy(100);
  EXPECT_GE(copy.bucket_count(), 100u);
  std::copy(source.begin(), source.end(), std::inserter(copy, copy.end()));
  EXPECT_TRUE(copy == map);
  EXPECT_TRUE(map.insert(std::pair<int, const char*>{4, "d"}).second);
  EXPECT_FALSE(map.insert({4, "x"}).second);
  map.emplace(std::piecewise_construct, std::forward_as_tuple(5), std::forward_as_tuple(3, 'e'));
  EXPECT_EQ(map.at(5), "eee");
  map.try_emplace(map.cbegin(), 6, "f");
  map.emplace_hint(map.cend(), 7, "g");
  const auto [first, last] = map.equal_range(6);
  EXPECT_EQ(std::distance(first, last), 1);
  EXPECT_EQ(first->second, "f");
  const auto none = map.equal_range(60);
  EXPECT_EQ(none.first, none.second);
  map.insert({{8, "h"}, {9, "i"}});
  EXPECT_EQ(map.size(), 9u);
  map_type::const_iterator it = map.find(9);
  EXPECT_EQ(map.erase(it, map.cend()) == map.end(), true);  // erases from 9 to the end
  EXPECT_FALSE(map.contains(9));
  EXPECT_GT(map.load_factor(), 0.0f);
}

// --- Where the table lives ---

// The table reaches its slots by its distance from itself: moving or swapping it between
// objects at other addresses (the stack, the arena) must re-encode that distance.
TEST(HashMapTest, TablesMovedAndSwappedBetweenAddressesKeepTheirElements) {
  using map = seam::hash_map<std::uint64_t, std::uint64_t>;
  seam::arena a = make_arena("hash-map-moves");
  seam::arena_scope scope{a};
  const auto expect_keys = [](const map& m, std::uint64_t first, std::uint64_t count) {
    ASSERT_EQ(m.size(), count);
    std::uint64_t seen = 0;
    for (const auto& [key, value] : m) {
      ASSERT_EQ(value, key * 3);
      ++seen;
    }
    ASSERT_EQ(seen, count);
    for (std::uint64_t k = first; k < first + count; ++k) ASSERT_EQ(m.at(k), k * 3);
    ASSERT_FALSE(m.contains(first + count));
  };
  auto* in_arena = a.make<map>();
  for (std::uint64_t k = 0; k < 3000; ++k) in_arena->emplace(k, k * 3);
  map on_stack(std::move(*in_arena));
  ASSERT_NO_FATAL_FAILURE(expect_keys(on_stack, 0, 3000));
  EXPECT_TRUE(in_arena->empty());
  EXPECT_EQ(in_arena->begin(), in_arena->end());
  EXPECT_FALSE(in_arena->contains(5));
  for (std::uint64_t k = 10000; k < 10100; ++k) in_arena->emplace(k, k * 3);  // usable again
  in_arena->swap(on_stack);
  ASSERT_NO_FATAL_FAILURE(expect_keys(*in_arena, 0, 3000));
  ASSERT_NO_FATAL_FAILURE(expect_keys(on_stack, 10000, 100));
  auto* moved_again = a.make<map>(std::move(on_stack));
  ASSERT_NO_FATAL_FAILURE(expect_keys(*moved_again, 10000, 100));
  on_stack = std::move(*in_arena);
  ASSERT_NO_FATAL_FAILURE(expect_keys(on_stack, 0, 3000));
  a.destroy(moved_again);
  a.destroy(in_arena);
}

TEST(HashMapTest, EmptyTablesHaveBeginEqualToEndAndFindNothing) {
  heap_map<std::uint64_t, int> never_used;
  EXPECT_EQ(never_used.begin(), never_used.end());
  EXPECT_EQ(never_used.find(1), never_used.end());
  EXPECT_EQ(never_used.bucket_count(), 0u);
  heap_map<std::uint64_t, int> cleared{{1, 1}, {2, 2}};
  cleared.clear();
  EXPECT_EQ(cleared.begin(), cleared.end());
  EXPECT_EQ(cleared.find(1), cleared.end());
  EXPECT_GT(cleared.bucket_count(), 0u);
  const heap_map<std::uint64_t, int> copy_of_empty = never_used;
  EXPECT_EQ(copy_of_empty.begin(), copy_of_empty.end());
  EXPECT_EQ(copy_of_empty, never_used);
}

// Like the trees: no allocator object is stored, so a copy takes its memory from the current
// arena, whatever arena the original is in.
TEST(HashMapTest, CopiesAllocateInTheCurrentArenaLikeTheTrees) {
  using map = seam::hash_map<std::uint64_t, std::uint64_t>;
  static_assert(std::is_empty_v<map::allocator_type>);
  static_assert(sizeof(map) == sizeof(heap_map<std::uint64_t, std::uint64_t>));
  seam::arena first = make_arena("hash-map-copy-from");
  seam::arena second = make_arena("hash-map-copy-to");
  auto* original = first.make<map>();
  {
    seam::arena_scope scope{first};
    for (std::uint64_t k = 0; k < 500; ++k) original->emplace(k, k);
  }
  seam::arena_scope scope{second};
  const map copy(*original);
  ASSERT_EQ(copy, *original);
  for (const auto& element : copy) ASSERT_TRUE(second.contains(&element));
  for (const auto& element : *original) ASSERT_TRUE(first.contains(&element));
  const map with_allocator(*original, map::allocator_type());
  EXPECT_EQ(with_allocator, *original);
  EXPECT_TRUE(copy.get_allocator() == map::allocator_type());
  first.destroy(original);
}

// With every key in one home group, lookups and inserts go past the first group (the path
// kept out of line) and must still find every key and miss every other.
TEST(HashMapTest, KeysPastAFullFirstGroupAreFoundAndMissed) {
  heap_map<std::uint64_t, std::uint64_t, colliding_hash> map;
  for (std::uint64_t k = 0; k < 61 * 40; k += 61) map.emplace(k, k + 1);  // all hash to 0
  std::size_t longest = 0;
  for (std::uint64_t k = 0; k < 61 * 40; k += 61) {
    ASSERT_EQ(map.at(k), k + 1);
    longest = std::max(longest, map.probe_length(k));
  }
  EXPECT_GT(longest, 1u);
  EXPECT_FALSE(map.contains(61 * 40));
  EXPECT_FALSE(map.contains(1));
  EXPECT_FALSE(map.emplace(61 * 20, 0).second);
  EXPECT_EQ(map.erase(61 * 39), 1u);
  EXPECT_TRUE(map.emplace(61 * 39, 7).second);
  EXPECT_EQ(map.at(61 * 39), 7u);
}

}  // namespace
