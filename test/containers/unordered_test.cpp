// seam::unordered_map / multimap / set / multiset: Seam's node-based hash table
// (detail/node_table.hpp) checked against the std containers as models, with the table's
// invariants checked after every batch, and read from another process through a read-only view.

#include "seam/containers/unordered.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "containers/root_reader.hpp"
#include "containers/unordered_data.hpp"
#include "seam/arena/arena.hpp"
#include "seam/arena/arena_view.hpp"
#include "seam/containers/detail/node_table_check.hpp"
#include "seam/containers/string.hpp"
#include "seam/containers/vector.hpp"
#include "support/process.hpp"

namespace {

constexpr std::size_t MiB = std::size_t{1} << 20;

using u64 = std::uint64_t;
using map_t = seam::unordered_map<u64, u64>;
using multimap_t = seam::unordered_multimap<u64, u64>;

static_assert(std::forward_iterator<map_t::iterator>);
static_assert(std::forward_iterator<map_t::const_iterator>);
static_assert(std::forward_iterator<map_t::local_iterator>);
static_assert(
    std::is_same_v<seam::unordered_set<u64>::iterator, seam::unordered_set<u64>::const_iterator>);
static_assert(std::is_convertible_v<map_t::iterator, map_t::const_iterator>);
static_assert(!std::is_convertible_v<map_t::const_iterator, map_t::iterator>);
static_assert(std::is_same_v<map_t::value_type, std::pair<const u64, u64>>);
static_assert(std::is_same_v<map_t::hasher, seam::hash<u64>>);
static_assert(std::is_nothrow_move_constructible_v<map_t>);
static_assert(seam::shm_safe_v<seam::unordered_map<seam::string, seam::vector<int>>>);

seam::arena make_arena(const char* name) {
  return seam::arena({.capacity = 1024 * MiB, .name = name});
}

template <class Table>
void expect_valid(const Table& t) {
  const char* problem = seam::detail::node_table_check(t);
  ASSERT_TRUE(problem == nullptr) << problem;
}

// Some keys are strided by 2^20: an identity hash would send them all to one bucket.
u64 random_key(std::mt19937_64& rng, u64 range) {
  u64 key = rng() % range;
  return key % 4 == 0 ? key << 20 : key;
}

// ---- Randomised operations against the std containers.

TEST(UnorderedMapTest, MatchesStdUnorderedMapUnderRandomOperationsAndKeepsElementsInPlace) {
  seam::arena a = make_arena("unordered-map-model");
  seam::arena_scope scope(a);
  map_t map;
  std::unordered_map<u64, u64> model;
  std::unordered_map<u64, const u64*> address;  // where each key's value was built
  std::mt19937_64 rng(1);
  for (int op = 1; op <= 300000; ++op) {
    const u64 key = random_key(rng, op < 150000 ? 20000 : 2000);  // grow, then shrink
    const u64 value = rng();
    switch (rng() % 16) {
      case 0:
        ASSERT_EQ(map.insert({key, value}).second, model.insert({key, value}).second);
        break;
      case 1:
        ASSERT_EQ(map.emplace(key, value).second, model.emplace(key, value).second);
        break;
      case 2:
        ASSERT_EQ(map.try_emplace(key, value).second, model.try_emplace(key, value).second);
        break;
      case 3:
        ASSERT_EQ(map.insert_or_assign(key, value).second,
                  model.insert_or_assign(key, value).second);
        break;
      case 4:
        map[key] += value;
        model[key] += value;
        break;
      case 5:
      case 6:
        ASSERT_EQ(map.erase(key), model.erase(key));
        address.erase(key);
        break;
      case 7: {
        const auto it = map.find(key);
        ASSERT_EQ(it != map.end(), model.contains(key));
        if (it != map.end()) {
          const auto next = map.erase(it);
          model.erase(key);
          address.erase(key);
          if (next != map.end()) {
            ASSERT_TRUE(model.contains(next->first));
          }
        }
        break;
      }
      case 8:
        ASSERT_EQ(map.count(key), model.count(key));
        ASSERT_EQ(map.contains(key), model.contains(key));
        break;
      case 9: {
        const auto [first, last] = std::as_const(map).equal_range(key);
        ASSERT_EQ(std::distance(first, last), static_cast<std::ptrdiff_t>(model.count(key)));
        if (first != last) {
          ASSERT_EQ(first->second, model.at(key));
        }
        break;
      }
      default: {
        const auto it = map.find(key);
        ASSERT_EQ(it == map.end(), !model.contains(key));
        if (it == map.end()) break;
        ASSERT_EQ(it->second, model.at(key));
        // References stay valid across every rehash since the element was built.
        const auto [seen, fresh] = address.try_emplace(key, &it->second);
        if (!fresh) {
          ASSERT_EQ(seen->second, &it->second);
        }
      }
    }
    if (op % 20000 == 0) {
      ASSERT_NO_FATAL_FAILURE(expect_valid(map));
      ASSERT_EQ(map.size(), model.size());
      for (const auto& [k, v] : map) {
        ASSERT_EQ(model.at(k), v);
      }
      for (const auto& v : map) {
        ASSERT_TRUE(a.contains(&v, sizeof v));
      }
    }
  }
  ASSERT_NO_FATAL_FAILURE(expect_valid(map));
  EXPECT_EQ(erase_if(map, [](const auto& v) { return v.first % 2 == 0; }),
            std::erase_if(model, [](const auto& v) { return v.first % 2 == 0; }));
  ASSERT_NO_FATAL_FAILURE(expect_valid(map));
  EXPECT_EQ(map.size(), model.size());
}

// The multimap's model: each key's values in insertion order.
using multi_model = std::map<u64, std::vector<u64>>;

template <class Multi>
void expect_same_multi(const Multi& m, const multi_model& model, std::size_t size) {
  ASSERT_NO_FATAL_FAILURE(expect_valid(m));
  ASSERT_EQ(m.size(), size);
  for (const auto& [key, values] : model) {
    std::vector<u64> got;
    const auto [first, last] = m.equal_range(key);
    for (auto it = first; it != last; ++it) got.push_back(it->second);
    ASSERT_EQ(got, values) << "key " << key;
    ASSERT_EQ(m.count(key), values.size());
  }
}

TEST(UnorderedMultimapTest, MatchesAModelAndKeepsEqualKeysInInsertionOrder) {
  seam::arena a = make_arena("unordered-multimap-model");
  seam::arena_scope scope(a);
  multimap_t m;
  std::unordered_multimap<u64, u64> std_model;  // the std container, for counts
  multi_model model;
  std::size_t size = 0;
  std::mt19937_64 rng(2);
  for (int op = 1; op <= 200000; ++op) {
    const u64 key = random_key(rng, op < 100000 ? 3000 : 300);
    const u64 value = rng();
    switch (rng() % 10) {
      case 0:
      case 1:
      case 2: {
        const auto it = rng() % 2 == 0 ? m.emplace(key, value) : m.insert({key, value});
        ASSERT_EQ(it->first, key);
        ASSERT_EQ(it->second, value);
        std_model.emplace(key, value);
        model[key].push_back(value);
        ++size;
        break;
      }
      case 3: {
        const std::size_t erased = m.erase(key);
        ASSERT_EQ(erased, std_model.erase(key));
        model.erase(key);
        size -= erased;
        break;
      }
      case 4: {
        // Erase one element of the key's range, chosen at random.
        auto [first, last] = m.equal_range(key);
        const auto n = static_cast<std::size_t>(std::distance(first, last));
        if (n == 0) break;
        const std::size_t j = rng() % n;
        const auto victim = std::next(first, static_cast<std::ptrdiff_t>(j));
        const u64 victim_value = victim->second;
        const auto next = m.erase(victim);
        if (j + 1 < n) {
          ASSERT_EQ(next->first, key);
        }
        auto& values = model[key];
        ASSERT_EQ(values[j], victim_value);
        values.erase(values.begin() + static_cast<std::ptrdiff_t>(j));
        if (values.empty()) model.erase(key);
        const auto s = std_model.equal_range(key);
        std_model.erase(std::find_if(s.first, s.second,
                                     [&](const auto& v) { return v.second == victim_value; }));
        --size;
        break;
      }
      default:
        ASSERT_EQ(m.count(key), std_model.count(key));
        ASSERT_EQ(m.contains(key), std_model.contains(key));
        ASSERT_EQ(m.find(key) == m.end(), !std_model.contains(key));
    }
    if (op % 25000 == 0) {
      ASSERT_NO_FATAL_FAILURE(expect_same_multi(m, model, size));
    }
  }
  ASSERT_EQ(size, std_model.size());
  // Rehashing keeps equal keys together and in order.
  m.rehash(m.bucket_count() * 8);
  ASSERT_NO_FATAL_FAILURE(expect_same_multi(m, model, size));
  m.rehash(0);
  ASSERT_NO_FATAL_FAILURE(expect_same_multi(m, model, size));
}

TEST(UnorderedSetTest, SetAndMultisetMatchStd) {
  seam::arena a = make_arena("unordered-set-model");
  seam::arena_scope scope(a);
  seam::unordered_set<u64> set;
  seam::unordered_multiset<u64> multi;
  std::unordered_set<u64> set_model;
  std::unordered_multiset<u64> multi_model;
  std::mt19937_64 rng(3);
  for (int op = 1; op <= 200000; ++op) {
    const u64 key = random_key(rng, 5000);
    switch (rng() % 6) {
      case 0:
        ASSERT_EQ(set.insert(key).second, set_model.insert(key).second);
        multi.insert(key);
        multi_model.insert(key);
        break;
      case 1:
        ASSERT_EQ(set.emplace(key).second, set_model.emplace(key).second);
        ASSERT_EQ(*multi.emplace(key), key);
        multi_model.emplace(key);
        break;
      case 2:
        ASSERT_EQ(set.erase(key), set_model.erase(key));
        ASSERT_EQ(multi.erase(key), multi_model.erase(key));
        break;
      case 3: {
        const auto it = multi.find(key);
        ASSERT_EQ(it == multi.end(), !multi_model.contains(key));
        if (it != multi.end()) {
          multi.erase(it);
          multi_model.erase(multi_model.find(key));
        }
        break;
      }
      default: {
        ASSERT_EQ(set.count(key), set_model.count(key));
        ASSERT_EQ(multi.count(key), multi_model.count(key));
        const auto [first, last] = multi.equal_range(key);
        ASSERT_EQ(static_cast<std::size_t>(std::distance(first, last)), multi_model.count(key));
        for (auto it = first; it != last; ++it) {
          ASSERT_EQ(*it, key);
        }
      }
    }
    if (op % 25000 == 0) {
      ASSERT_NO_FATAL_FAILURE(expect_valid(set));
      ASSERT_NO_FATAL_FAILURE(expect_valid(multi));
      ASSERT_EQ(set.size(), set_model.size());
      ASSERT_EQ(multi.size(), multi_model.size());
      for (u64 k : set) {
        ASSERT_TRUE(set_model.contains(k));
      }
    }
  }
}

// ---- Behaviour beyond the model.

TEST(UnorderedMapTest, ReferencesSurviveGrowthRehashAndShrinking) {
  seam::arena a = make_arena("unordered-references");
  seam::arena_scope scope(a);
  seam::unordered_map<u64, seam::string> m;
  seam::string& first = m[7];
  first = "a value long enough to live outside the string object";
  const std::size_t before = m.bucket_count();
  for (u64 i = 100; i < 100100; ++i) m.try_emplace(i, "x");
  EXPECT_GT(m.bucket_count(), before);
  EXPECT_EQ(&m.at(7), &first);
  m.rehash(m.bucket_count() * 4);
  EXPECT_EQ(&m.at(7), &first);
  for (u64 i = 100; i < 100100; ++i) m.erase(i);
  m.rehash(0);
  EXPECT_EQ(m.bucket_count(), 8u);
  EXPECT_EQ(&m.at(7), &first);
  EXPECT_EQ(first, "a value long enough to live outside the string object");
  ASSERT_NO_FATAL_FAILURE(expect_valid(m));
}

TEST(UnorderedMapTest, BucketInterfaceDescribesTheChains) {
  seam::arena a = make_arena("unordered-buckets");
  seam::arena_scope scope(a);
  map_t m;
  EXPECT_EQ(m.bucket_count(), 0u);
  EXPECT_EQ(m.begin(), m.end());
  for (u64 i = 0; i < 5000; ++i) m.emplace(i * 3, i);
  EXPECT_TRUE(std::has_single_bit(m.bucket_count()));
  EXPECT_LE(m.load_factor(), m.max_load_factor());
  std::size_t total = 0;
  for (std::size_t b = 0; b < m.bucket_count(); ++b) {
    std::size_t in_bucket = 0;
    for (auto it = m.begin(b); it != m.end(b); ++it, ++in_bucket) {
      EXPECT_EQ(m.bucket(it->first), b);
    }
    EXPECT_EQ(in_bucket, m.bucket_size(b));
    total += in_bucket;
  }
  EXPECT_EQ(total, m.size());

  m.max_load_factor(0.25f);
  EXPECT_LE(m.load_factor(), 0.25f);
  ASSERT_NO_FATAL_FAILURE(expect_valid(m));
  map_t r;
  r.reserve(10000);
  const std::size_t reserved = r.bucket_count();
  for (u64 i = 0; i < 10000; ++i) r.emplace(i, i);
  EXPECT_EQ(r.bucket_count(), reserved);  // no rehash after reserve
  r.clear();
  EXPECT_TRUE(r.empty());
  EXPECT_EQ(r.bucket_count(), reserved);  // clear keeps the buckets
  EXPECT_EQ(r.begin(), r.end());
  r.emplace(1, 2);
  EXPECT_EQ(r.at(1), 2u);
  ASSERT_NO_FATAL_FAILURE(expect_valid(r));
}

TEST(UnorderedMapTest, CopyMoveSwapAndEqualityBehaveLikeStd) {
  seam::arena a = make_arena("unordered-copy");
  seam::arena_scope scope(a);
  seam::unordered_map<u64, seam::string> m;
  for (u64 i = 0; i < 1000; ++i) m.try_emplace(i, "value " + std::to_string(i));
  seam::unordered_map<u64, seam::string> copy(m);
  ASSERT_NO_FATAL_FAILURE(expect_valid(copy));
  EXPECT_TRUE(copy == m);
  EXPECT_TRUE(std::equal(copy.begin(), copy.end(), m.begin(), m.end()));  // same order
  copy.at(5) = "changed";
  EXPECT_FALSE(copy == m);

  // Equal regardless of insertion order and bucket count.
  seam::unordered_map<u64, seam::string> reversed(4096);
  for (u64 i = 1000; i-- > 0;) reversed.try_emplace(i, "value " + std::to_string(i));
  EXPECT_TRUE(reversed == m);

  const auto* element = &*m.find(10);
  seam::unordered_map<u64, seam::string> moved(std::move(m));
  EXPECT_TRUE(m.empty());                // NOLINT: moved-from is empty, as documented
  EXPECT_EQ(&*moved.find(10), element);  // no element moved
  ASSERT_NO_FATAL_FAILURE(expect_valid(moved));
  m = moved;
  swap(m, copy);
  EXPECT_EQ(m.at(5), "changed");
  EXPECT_EQ(copy.at(5), "value 5");
  copy = std::move(m);
  EXPECT_EQ(copy.at(5), "changed");
  ASSERT_NO_FATAL_FAILURE(expect_valid(copy));
  m = {{1, "one"}, {2, "two"}};
  EXPECT_EQ(m.size(), 2u);

  seam::unordered_multimap<u64, u64> mm{{1, 1}, {1, 2}, {2, 3}};
  seam::unordered_multimap<u64, u64> other{{2, 3}, {1, 2}, {1, 1}};
  EXPECT_TRUE(mm == other);  // equal keys in another order are still equal
  other.emplace(1, 1);
  EXPECT_FALSE(mm == other);
}

TEST(UnorderedMapTest, AValueThatThrowsWhileBuiltLeavesTheTableUnchanged) {
  struct throws_on_42 {
    explicit throws_on_42(int v) : value(v) {
      if (v == 42) throw std::runtime_error("42");
    }
    int value;
  };
  seam::arena a = make_arena("unordered-throw");
  seam::arena_scope scope(a);
  seam::unordered_map<int, throws_on_42> m;
  for (int i = 0; i < 7; ++i) m.try_emplace(i, i);
  EXPECT_THROW(m.try_emplace(100, 42), std::runtime_error);  // the 8th: would grow
  EXPECT_EQ(m.size(), 7u);
  EXPECT_FALSE(m.contains(100));
  ASSERT_NO_FATAL_FAILURE(expect_valid(m));
}

TEST(UnorderedMapTest, ContainerValuesAreDestroyedAndTheirMemoryReturned) {
  seam::arena a = make_arena("unordered-values");
  const std::size_t start = a.stats().allocated;
  auto* m = a.make<seam::unordered_map<seam::string, seam::vector<int>>>();
  {
    seam::arena_scope scope(a);
    for (int i = 0; i < 2000; ++i) {
      auto& v = (*m)[seam::string("key number " + std::to_string(i) + " long enough to allocate")];
      for (int j = 0; j < 50; ++j) v.push_back(j);
    }
    auto copy = *m;  // copies live in the arena too
    EXPECT_TRUE(copy == *m);
  }
  EXPECT_GT(a.stats().allocated, start + 2000 * 50 * sizeof(int));
  EXPECT_EQ(m->erase("key number 7 long enough to allocate"), 1u);  // by const char*, no scope
  EXPECT_EQ(m->size(), 1999u);
  a.destroy(m);
  EXPECT_EQ(a.stats().allocated, start);
}

TEST(UnorderedMapTest, StringKeysAreFoundByOtherStringTypesWithoutAnArena) {
  seam::arena a = make_arena("unordered-strings");
  auto* m = [&] {
    seam::arena_scope scope(a);
    auto* made = a.make<seam::unordered_map<seam::string, int>>();
    for (int i = 0; i < 100; ++i) made->try_emplace(seam::string(seam::test::unordered_name(i)), i);
    return made;
  }();
  // No scope: building a seam::string of these keys would throw no_current_arena.
  const auto& cm = *m;
  for (int i = 0; i < 100; ++i) {
    const std::string key = seam::test::unordered_name(i);
    EXPECT_EQ(cm.at(key.c_str()), i);
    EXPECT_EQ(cm.find(std::string_view(key))->second, i);
    EXPECT_EQ(cm.count(key), 1u);
    EXPECT_TRUE(cm.contains(key));
    EXPECT_EQ(std::distance(cm.equal_range(key.c_str()).first, cm.equal_range(key).second), 1);
  }
  EXPECT_FALSE(cm.contains("absent"));
  EXPECT_THROW((void)cm.at(std::string_view("absent")), std::out_of_range);
  EXPECT_EQ(m->erase(std::string_view(seam::test::unordered_name(3))), 1u);  // erase needs no scope
  EXPECT_EQ(m->size(), 99u);
  a.destroy(m);
}

TEST(UnorderedMapTest, ALookupEndsEvenOnAChainWithACycle) {
  // A table read from another process may hold any bytes: a lookup visits at most size()
  // nodes, so a corrupt chain cannot make it spin forever.
  seam::arena a = make_arena("unordered-cycle");
  seam::arena_scope scope(a);
  map_t m;
  m.max_load_factor(8.0f);  // long chains
  for (u64 i = 0; i < 200; ++i) m.emplace(i, i);
  std::size_t b = 0;
  while (m.bucket_size(b) < 2) ++b;
  seam::detail::chain_links* first = m.begin(b).node();
  seam::detail::chain_links* second = std::next(m.begin(b)).node();
  const std::int64_t saved = second->next;
  seam::detail::encode_link(second->next, first);  // first -> second -> first -> …
  u64 absent = 1000;
  while (m.bucket(absent) != b) ++absent;
  EXPECT_EQ(m.find(absent), m.end());
  EXPECT_EQ(m.count(absent), 0u);
  second->next = saved;  // repaired, so that the map can be destroyed
  ASSERT_NO_FATAL_FAILURE(expect_valid(m));
}

// ---- Other processes.

void fill(seam::arena& a, seam::test::unordered_root& root, std::uint64_t count) {
  seam::arena_scope scope(a);
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::string key = seam::test::unordered_name(i);
    root.names.try_emplace(seam::string(key), seam::test::unordered_value(i));
    root.words.emplace(seam::string(key));
    root.groups.emplace(i % seam::test::unordered_group_keys, i);
    for (std::uint64_t c = 0; c < seam::test::unordered_copies(i); ++c) root.counts.insert(i);
  }
  // Erase and re-insert a share, so that readers also meet relinked chains.
  for (std::uint64_t i = 0; i < count; i += 7) {
    const std::string key = seam::test::unordered_name(i);
    root.names.erase(std::string_view(key));
    root.names.try_emplace(seam::string(key), seam::test::unordered_value(i));
  }
}

TEST(UnorderedCrossProcessTest, LookupsWorkThroughAReadOnlyViewAtAnotherAddress) {
  seam::arena a = make_arena("unordered-view");
  auto* root = a.make<seam::test::unordered_root>();
  fill(a, *root, 3000);
  seam::unique_fd fd = a.share();
  const seam::arena_view view = seam::arena_view::open(fd.get());
  ASSERT_NE(static_cast<const void*>(view.base()), static_cast<const void*>(a.base()));
  const seam::test::unordered_root& seen = *view.get(a.handle_of(root));
  ASSERT_EQ(seen.names.size(), 3000u);
  for (std::uint64_t i = 0; i < 3000; ++i) {
    const auto it = seen.names.find(seam::test::unordered_name(i));
    ASSERT_NE(it, seen.names.end());
    ASSERT_TRUE(view.contains(&*it));  // read through the view's mapping
    ASSERT_EQ(it->second, seam::test::unordered_value(i));
  }
  std::size_t visited = 0;
  for (const auto& v : seen.counts) visited += view.contains(&v);
  EXPECT_EQ(visited, seen.counts.size());
  a.destroy(root);
}

TEST(UnorderedCrossProcessTest, AReaderWithNoArenaReadsEveryEntryThroughAReadOnlyView) {
  constexpr std::uint64_t count = 20000;
  seam::arena a = make_arena("unordered-reader");
  auto* root = a.make<seam::test::unordered_root>();
  fill(a, *root, count);
  a.set_root(a.handle_of(root));
  const seam::test::reader_outcome reader =
      seam::test::run_root_reader(SEAM_UNORDERED_READER, a, count);
  EXPECT_EQ(reader.line, "ok");
  EXPECT_EQ(reader.status, 0);
  a.destroy(root);
}

}  // namespace
