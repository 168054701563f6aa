#include "seam/containers/hash_map.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <memory>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "containers/hash_map_data.hpp"
#include "seam/arena/arena.hpp"
#include "seam/arena/arena_view.hpp"
#include "seam/containers/string.hpp"
#include "seam/containers/vector.hpp"
#include "support/process.hpp"

namespace {

constexpr std::size_t MiB = std::size_t{1} << 20;

// Tables on the process heap, for behaviour that does not depend on the arena.
template <class K, class V, class Hash = seam::hash<K>>
using heap_map =
    seam::hash_map<K, V, Hash, seam::equal_to<K>, std::allocator<std::pair<const K, V>>>;
template <class K>
using heap_set = seam::hash_set<K, seam::hash<K>, seam::equal_to<K>, std::allocator<K>>;

seam::arena make_arena(const char* name) {
  return seam::arena({.capacity = 1024 * MiB, .name = name});
}

std::string_view view_of(const seam::string& s) { return {s.data(), s.size()}; }

// Contents equal both ways, and iteration visits each element exactly once.
template <class Map, class Model>
void expect_same(const Map& map, const Model& model) {
  ASSERT_EQ(map.size(), model.size());
  std::size_t seen = 0;
  for (const auto& [key, value] : map) {
    ++seen;
    const auto it = model.find(key);
    ASSERT_NE(it, model.end());
    ASSERT_EQ(value, it->second);
  }
  ASSERT_EQ(seen, model.size());
  for (const auto& [key, value] : model) {
    const auto it = map.find(key);
    ASSERT_NE(it, map.end());
    ASSERT_EQ(it->second, value);
  }
}

// A random workload over every changing and looking member, mirrored on std::unordered_map.
template <class Map>
void run_against_model(Map& map, std::uint64_t seed, std::size_t ops, std::uint64_t key_range) {
  std::unordered_map<std::uint64_t, std::uint64_t> model;
  std::mt19937_64 rng(seed);
  for (std::size_t op = 1; op <= ops; ++op) {
    // Some keys are strided by 2^20: an identity hash would send them all to one group.
    std::uint64_t key = rng() % key_range;
    if (key % 4 == 0) key <<= 20;
    const std::uint64_t value = rng();
    switch (rng() % 20) {
      case 0:
      case 1:
        ASSERT_EQ(map.insert({key, value}).second, model.insert({key, value}).second);
        break;
      case 2:
        ASSERT_EQ(map.emplace(key, value).second, model.emplace(key, value).second);
        break;
      case 3:
        ASSERT_EQ(map.try_emplace(key, value).second, model.try_emplace(key, value).second);
        break;
      case 4:
        ASSERT_EQ(map.insert_or_assign(key, value).second,
                  model.insert_or_assign(key, value).second);
        break;
      case 5:
      case 6:
        map[key] += value;
        model[key] += value;
        break;
      case 7:
      case 8:
      case 9:
        ASSERT_EQ(map.erase(key), model.erase(key));
        break;
      case 10: {
        const auto it = map.find(key);
        ASSERT_EQ(it != map.end(), model.contains(key));
        if (it != map.end()) {
          const auto next = map.erase(it);
          model.erase(key);
          if (next != map.end()) {
            ASSERT_TRUE(model.contains(next->first));
          }
        }
        break;
      }
      case 11:
        ASSERT_EQ(map.count(key), model.count(key));
        break;
      default: {
        const auto it = map.find(key);
        const auto expected = model.find(key);
        ASSERT_EQ(it == map.end(), expected == model.end());
        if (it != map.end()) {
          ASSERT_EQ(it->second, expected->second);
        }
      }
    }
    if (op % 50000 == 0) {
      ASSERT_NO_FATAL_FAILURE(expect_same(map, model));
    }
    if (op == ops / 2) {
      const Map copy = map;  // keeps the slots' places, tombstones included
      ASSERT_NO_FATAL_FAILURE(expect_same(copy, model));
      ASSERT_TRUE(copy == map);
      map.clear();
      model.clear();
    }
  }
  ASSERT_NO_FATAL_FAILURE(expect_same(map, model));
}

// Few distinct values: long probe sequences, many keys sharing control bytes.
struct colliding_hash {
  std::size_t operator()(std::uint64_t key) const { return key % 61; }
};

// --- The default hash ---

TEST(HashTest, AllStringTypesHashAlike) {
  const std::string text = "a key longer than sixteen bytes, to take the loop";
  const seam::hash<seam::string> h;
  EXPECT_EQ(h(text), h(std::string_view(text)));
  EXPECT_EQ(h(text), h(text.c_str()));
  EXPECT_EQ(seam::hash<std::string>{}(text), seam::hash<std::string_view>{}(text));
  EXPECT_NE(h(text), h(text.substr(1)));
  for (std::size_t n = 0; n <= 40; ++n) {  // every tail length, against its neighbours
    EXPECT_NE(h(text.substr(0, n)), h(text.substr(0, n + 1))) << n;
  }
}

TEST(HashTest, ValuesAreFixedAcrossProcessesAndBuilds) {
  // Tables in an arena are probed by other programs: the hash must never depend on a seed,
  // an address or the standard library. These values are part of the format.
  EXPECT_EQ(seam::hash<std::uint64_t>{}(0), 0xe18485764ba03644ull);
  EXPECT_EQ(seam::hash<std::uint64_t>{}(12345), 0x83d7cdeeec9afbf6ull);
  EXPECT_EQ(seam::hash<std::string_view>{}(""), 0x732d2e5f2cbc8f9cull);
  EXPECT_EQ(seam::hash<std::string_view>{}("seam"), 0xa4f420408334d662ull);
  EXPECT_EQ(seam::hash<std::string_view>{}("a shared-memory hash table key"),
            0xd6677c3823d315f4ull);
}

TEST(HashTest, SequentialAndStridedIntegersDoNotCluster) {
  for (const std::uint64_t stride : {1ull, 1024ull, 1ull << 32}) {
    heap_map<std::uint64_t, int> map;
    for (std::uint64_t i = 0; i < 50000; ++i) map.emplace(i * stride, 0);
    std::size_t groups = 0;
    for (std::uint64_t i = 0; i < 50000; ++i) groups += map.probe_length(i * stride);
    EXPECT_LT(static_cast<double>(groups) / 50000, 1.3) << "stride " << stride;
  }
}

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

// --- The set ---

TEST(HashSetTest, MatchesStdUnorderedSetUnderRandomOperations) {
  heap_set<std::uint64_t> set;
  std::unordered_set<std::uint64_t> model;
  std::mt19937_64 rng(6);
  for (int op = 0; op < 300000; ++op) {
    const std::uint64_t key = rng() % 4000;
    switch (rng() % 3) {
      case 0:
        ASSERT_EQ(set.insert(key).second, model.insert(key).second);
        break;
      case 1:
        ASSERT_EQ(set.erase(key), model.erase(key));
        break;
      default:
        ASSERT_EQ(set.contains(key), model.contains(key));
    }
  }
  ASSERT_EQ(set.size(), model.size());
  std::set<std::uint64_t> seen(set.begin(), set.end());
  EXPECT_EQ(seen, std::set<std::uint64_t>(model.begin(), model.end()));
}

TEST(HashSetTest, StringSetInAnArenaFindsByStringView) {
  seam::arena a = make_arena("hash-set");
  const std::size_t start = a.stats().allocated;
  auto* set = a.make<seam::hash_set<seam::string>>();
  {
    seam::arena_scope scope{a};
    for (int i = 0; i < 1000; ++i) set->emplace(("member number " + std::to_string(i)).c_str());
    EXPECT_FALSE(set->insert(seam::string("member number 7")).second);
  }
  EXPECT_TRUE(set->contains(std::string_view("member number 999")));
  EXPECT_FALSE(set->contains(std::string_view("member number 1000")));
  EXPECT_EQ(set->size(), 1000u);
  a.destroy(set);
  EXPECT_EQ(a.stats().allocated, start);
}

// --- Other processes and read-only mappings ---

void fill(seam::arena& a, seam::test::hash_map_root& root, std::uint64_t count) {
  seam::arena_scope scope{a};
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::string key = seam::test::name_key(i);
    root.names.try_emplace(seam::string(key.data(), key.size()), seam::test::name_value(i));
    root.numbers.emplace(seam::test::number_key(i), seam::test::number_value(i));
  }
  // Erase and re-insert a share, so that readers also meet reused slots and tombstones.
  for (std::uint64_t i = 0; i < count; i += 7) {
    const std::string key = seam::test::name_key(i);
    root.names.erase(std::string_view(key));
    root.names.try_emplace(seam::string(key.data(), key.size()), seam::test::name_value(i));
    root.numbers.erase(seam::test::number_key(i));
    root.numbers.emplace(seam::test::number_key(i), seam::test::number_value(i));
  }
}

TEST(HashMapCrossProcessTest, LookupsWorkThroughAReadOnlyViewAtAnotherAddress) {
  seam::arena a = make_arena("hash-map-view");
  auto* root = a.make<seam::test::hash_map_root>();
  fill(a, *root, 5000);
  seam::unique_fd fd = a.share();
  const seam::arena_view view = seam::arena_view::open(fd.get());
  ASSERT_NE(static_cast<const void*>(view.base()), static_cast<const void*>(a.base()));
  const seam::test::hash_map_root& seen = *view.get(a.handle_of(root));
  ASSERT_EQ(seen.numbers.size(), 5000u);
  for (std::uint64_t i = 0; i < 5000; ++i) {
    ASSERT_EQ(seen.numbers.at(seam::test::number_key(i)), seam::test::number_value(i));
    const auto it = seen.names.find(std::string_view(seam::test::name_key(i)));
    ASSERT_NE(it, seen.names.end());
    ASSERT_TRUE(view.contains(&*it));  // the element is read through the view's mapping
    ASSERT_EQ(it->second, seam::test::name_value(i));
  }
  a.destroy(root);
}

TEST(HashMapCrossProcessTest, SeparateExecutableReadsEveryEntryThroughAReadOnlyView) {
  constexpr std::uint64_t count = 100000;
  seam::arena a = make_arena("hash-map-reader");
  auto* root = a.make<seam::test::hash_map_root>();
  fill(a, *root, count);
  a.set_root(a.handle_of(root));
  seam::unique_fd fd = a.share();
  char base[32];
  std::snprintf(base, sizeof base, "%zx", reinterpret_cast<std::size_t>(a.base()));
  seam::test::pipe_pair out;
  auto reader =
      seam::test::spawn(SEAM_HASH_MAP_READER, {std::to_string(a.id()), base, std::to_string(count)},
                        {{fd.get(), 3}, {out.write_end.get(), 1}});
  out.write_end.reset();
  EXPECT_EQ(seam::test::read_line(out.read_end.get()), "ok");
  EXPECT_EQ(reader.wait(), 0);
  a.destroy(root);
}

}  // namespace
