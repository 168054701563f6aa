// seam::hash: deterministic values, string types alike, no clustering of integer keys.
#include "seam/containers/hash.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "containers/hash_table_support.hpp"
#include "seam/containers/string.hpp"

namespace {

using namespace seam::test::hash_tables;  // NOLINT: the shared helpers of these tests

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

}  // namespace
