// seam::hash_map read by other processes: through a read-only view at another address, in
// this process and in a separate executable.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "containers/hash_map_data.hpp"
#include "containers/hash_table_support.hpp"
#include "containers/root_reader.hpp"
#include "seam/arena/arena.hpp"
#include "seam/arena/arena_view.hpp"
#include "seam/containers/hash_map.hpp"
#include "support/process.hpp"

namespace {

using namespace seam::test::hash_tables;  // NOLINT: the shared helpers of these tests

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
  const seam::test::reader_outcome reader =
      seam::test::run_root_reader(SEAM_HASH_MAP_READER, a, count);
  EXPECT_EQ(reader.line, "ok");
  EXPECT_EQ(reader.status, 0);
  a.destroy(root);
}

}  // namespace
