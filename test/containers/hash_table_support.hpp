#pragma once
// What the tests of seam::hash_map, seam::hash_set and seam::hash share: tables on the heap,
// arenas, and a random workload checked against std::unordered_map as the model.

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "seam/arena/arena.hpp"
#include "seam/containers/hash_map.hpp"
#include "seam/containers/string.hpp"

namespace seam::test::hash_tables {

inline constexpr std::size_t MiB = std::size_t{1} << 20;

// Tables on the process heap, for behaviour that does not depend on the arena.
template <class K, class V, class Hash = seam::hash<K>>
using heap_map =
    seam::hash_map<K, V, Hash, seam::equal_to<K>, std::allocator<std::pair<const K, V>>>;
template <class K>
using heap_set = seam::hash_set<K, seam::hash<K>, seam::equal_to<K>, std::allocator<K>>;

inline seam::arena make_arena(const char* name) {
  return seam::arena({.capacity = 1024 * MiB, .name = name});
}

inline std::string_view view_of(const seam::string& s) { return {s.data(), s.size()}; }

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

}  // namespace seam::test::hash_tables
