// seam::hash_set against std::unordered_set, on the heap and in an arena.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <unordered_set>

#include "containers/hash_table_support.hpp"
#include "seam/arena/arena.hpp"
#include "seam/containers/hash_map.hpp"
#include "seam/containers/string.hpp"

namespace {

using namespace seam::test::hash_tables;  // NOLINT: the shared helpers of these tests

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

}  // namespace
