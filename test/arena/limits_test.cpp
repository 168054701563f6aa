// The limits of a process, as an arena meets them: each is named (its errc, which compares
// equal to its errno), never a bare ENOMEM. Each case runs in a forked child, which keeps what
// it took.

#include "support/limits.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "seam/arena/arena.hpp"
#include "support/process.hpp"

namespace {

constexpr std::size_t MiB = std::size_t{1} << 20;
constexpr std::size_t GiB = std::size_t{1} << 30;

// Exit codes of the children: 0 when the arena said what the test expects.
template <class Body>
int code_of(Body body) {
  try {
    body();
    return 10;  // no error at all
  } catch (const std::system_error& e) {
    return e.code() == seam::errc::address_space_limit ? 1
           : e.code() == seam::errc::map_count_limit   ? 2
           : e.code() == seam::errc::heap_limit        ? 3
                                                       : 11;
  } catch (...) {
    return 12;
  }
}

TEST(LimitsTest, ArenaOverTheAddressSpaceLimitSaysSo) {
  auto child = seam::test::fork_run([] {
    seam::test::limit_address_space(512 * MiB);
    try {
      seam::arena a({.capacity = 4 * GiB, .name = "over-as"});
      return 10;
    } catch (const std::system_error& e) {
      // The code names the limit and compares equal to its errno; the message says which limit
      // and which option to change.
      const std::string what = e.what();
      if (e.code() != seam::errc::address_space_limit) return 11;
      if (e.code() != std::errc::not_enough_memory) return 12;
      if (what.find("RLIMIT_AS") == std::string::npos) return 13;
      if (what.find("arena_options::capacity") == std::string::npos) return 14;
      return 0;
    }
  });
  EXPECT_EQ(child.wait(), 0);
}

TEST(LimitsTest, DefaultCapacityFitsUnderAnAddressSpaceLimit) {
  auto child = seam::test::fork_run([] {
    seam::test::limit_address_space(2 * GiB);
    // The default (64 GiB unlimited) is a quarter of what is left: it fits, and allocates.
    seam::arena a({.name = "default-under-as"});
    if (a.capacity() > GiB / 2 || a.capacity() < 256 * MiB) return 1;
    return a.allocate(MiB) != nullptr ? 0 : 2;
  });
  EXPECT_EQ(child.wait(), 0);
}

TEST(LimitsTest, ArenaAtTheMapCountLimitSaysSo) {
  if (seam::test::sanitized) GTEST_SKIP() << "the sanitizer needs mappings of its own";
  auto child = seam::test::fork_run([] {
    seam::test::fill_mappings(1);
    return code_of([] { seam::arena a({.capacity = 64 * MiB, .name = "map-count"}); }) == 2 ? 0 : 1;
  });
  EXPECT_EQ(child.wait(), 0);
}

// jemalloc has 4095 arenas per process. Arenas that never allocate hold none (thousands of
// sessions' arenas cost nothing there); the one that allocates past the last says so.
TEST(LimitsTest, ArenasHoldAHeapOnlyOnceTheyAllocateAndTheLastOneSaysSo) {
  auto child = seam::test::fork_run([] {
    std::vector<std::unique_ptr<seam::arena>> arenas;
    // 5,000 arenas without a heap: more than jemalloc could give heaps to.
    for (int i = 0; i < 5000; ++i) {
      arenas.push_back(std::make_unique<seam::arena>(
          seam::arena_options{.capacity = 4 * MiB, .name = "many", .heap_arenas = 1}));
      if (!arenas.back()->drop_descriptor()) return 1;  // one fd each would be 5,000 fds
    }
    for (auto& a : arenas) {
      try {
        a->allocate(64);
      } catch (const std::system_error& e) {
        if (e.code() != seam::errc::heap_limit) return 2;
        if (std::strstr(e.what(), "4095") == nullptr) return 3;
        return 0;
      }
    }
    return 4;  // every one allocated: jemalloc's limit is gone?
  });
  EXPECT_EQ(child.wait(), 0);
}

}  // namespace
