// seam::allocator: where it allocates, how it fails, and what its "version 2" protocol
// (growing and shrinking in place, real block sizes, node chains) does for Boost's containers.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <numeric>
#include <string>
#include <system_error>
#include <vector>

#include "seam/seam.hpp"

namespace {

template <class F>
std::error_code error_of(F&& f) {
  try {
    f();
  } catch (const std::system_error& e) {
    return e.code();
  }
  return {};
}

// ---- Misuse gives a clear error.

TEST(AllocatorTest, AllocatingWithNoScopeThrowsNoCurrentArena) {
  ASSERT_EQ(seam::arena_scope::current(), nullptr);
  seam::vector<int> v;
  EXPECT_EQ(error_of([&] { v.push_back(1); }), seam::errc::no_current_arena);
  seam::string s;
  EXPECT_EQ(error_of([&] { s.assign(100, 'x'); }), seam::errc::no_current_arena);
  seam::map<int, int> m;
  EXPECT_EQ(error_of([&] { m[1] = 2; }), seam::errc::no_current_arena);
  seam::list<int> l;
  EXPECT_EQ(error_of([&] { l.assign(10, 1); }), seam::errc::no_current_arena);
  EXPECT_TRUE(v.empty());
  EXPECT_TRUE(m.empty());
}

// Growing in place would be possible without a scope (the block's arena is known), but it
// must fail the same way as a reallocation, or code would work or throw depending on the heap.
TEST(AllocatorTest, GrowingInPlaceAlsoNeedsAScope) {
  seam::arena a;
  seam::vector<int> v;
  {
    seam::arena_scope scope{a};
    v.reserve(1 << 16);  // a large block, which jemalloc could extend in place
    v.resize(v.capacity());
  }
  EXPECT_EQ(error_of([&] { v.push_back(1); }), seam::errc::no_current_arena);
  EXPECT_EQ(v.size(), v.capacity());
}

TEST(AllocatorTest, ForkedChildCannotGrowTheParentsContainer) {
  seam::arena a;
  seam::arena_scope scope{a};
  seam::vector<int> v(1000, 7);
  v.resize(v.capacity());  // full: the next push_back must allocate (or grow the block)
  const pid_t pid = ::fork();
  ASSERT_NE(pid, -1);
  if (pid == 0) {
    // The child inherits the scope and the mapping, but not the right to allocate in them.
    int code = 3;
    try {
      v.push_back(8);
      code = 1;
    } catch (const std::system_error& e) {
      code = e.code() == seam::errc::forked_child ? 0 : 2;
    } catch (...) {
      code = 4;
    }
    ::_exit(code);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "child died with signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "1: push_back succeeded, 2: another error, 3/4: something else was thrown";
  // The parent's arena is intact and still usable.
  v.push_back(9);
  EXPECT_EQ(v.back(), 9);
  EXPECT_EQ(v.front(), 7);
}

TEST(AllocatorTest, NestedScopesRestoreThePreviousArena) {
  seam::arena outer_arena;
  seam::arena inner_arena;
  const std::size_t outer_start = outer_arena.stats().allocated;
  seam::vector<int> in_outer, in_inner, again_outer;
  {
    seam::arena_scope outer{outer_arena};
    in_outer.assign(100, 1);
    {
      seam::arena_scope inner{inner_arena};
      EXPECT_EQ(seam::arena_scope::current(), &inner_arena);
      in_inner.assign(100, 2);
    }
    EXPECT_EQ(seam::arena_scope::current(), &outer_arena);
    again_outer.assign(100, 3);
  }
  EXPECT_EQ(seam::arena_scope::current(), nullptr);
  EXPECT_TRUE(outer_arena.contains(in_outer.data()));
  EXPECT_TRUE(inner_arena.contains(in_inner.data()));
  EXPECT_TRUE(outer_arena.contains(again_outer.data()));
  // Freeing finds each block's arena from its address, whatever the scope is.
  seam::arena_scope other{inner_arena};
  seam::vector<int>().swap(in_outer);
  seam::vector<int>().swap(again_outer);
  EXPECT_EQ(outer_arena.stats().allocated, outer_start);
}

// ---- make / destroy.

struct record {
  seam::string name;
  seam::vector<seam::string> tags;
  seam::map<int, seam::vector<int>> index;
  seam::unordered_map<seam::string, seam::list<int>> lists;
};

TEST(AllocatorTest, MakeConstructsNestedContainersInTheSameArena) {
  seam::arena a;
  const std::size_t start = a.stats().allocated;
  auto* r = a.make<record>();
  ASSERT_TRUE(a.contains(r, sizeof *r));
  {
    seam::arena_scope scope{a};
    r->name = "a name that does not fit in the small-string buffer";
    for (int i = 0; i < 100; ++i) {
      r->tags.emplace_back(std::string(50, static_cast<char>('a' + i % 26)).c_str());
      r->index[i].assign(static_cast<std::size_t>(i), i);
      r->lists[seam::string("key") + seam::string(40, 'k')].push_back(i);
    }
  }
  EXPECT_TRUE(a.contains(r->name.data()));
  EXPECT_TRUE(a.contains(r->tags.data()));
  for (const auto& tag : r->tags) EXPECT_TRUE(a.contains(tag.data()));
  for (const auto& [key, values] : r->index) {
    if (!values.empty()) {
      EXPECT_TRUE(a.contains(values.data()));
    }
  }
  EXPECT_GT(a.stats().allocated, start);
  a.destroy(r);
  EXPECT_EQ(a.stats().allocated, start);
}

// ---- Version 2: in-place growth and real block sizes.

TEST(AllocatorTest, CapacityIsTheBlocksRealSize) {
  seam::arena a;
  seam::arena_scope scope{a};
  seam::vector<std::uint32_t> v;
  v.reserve(5);  // 20 bytes: jemalloc rounds to a larger size class
  EXPECT_GE(v.capacity(), 5u);
  EXPECT_EQ(v.capacity(), a.usable_size(v.data()) / sizeof(std::uint32_t));
}

TEST(AllocatorTest, VectorGrowsInPlaceWhenThePagesAfterItAreFree) {
  seam::arena a;
  seam::arena_scope scope{a};
  seam::vector<std::uint64_t> v;
  v.reserve(std::size_t{1} << 15);  // 256 KiB: a large block, with free space after it
  const std::uint64_t* before = v.data();
  const std::size_t capacity = v.capacity();
  for (std::uint64_t i = 0; i <= capacity; ++i) v.push_back(i);
  EXPECT_GT(v.capacity(), capacity);
  EXPECT_EQ(v.data(), before) << "the vector moved instead of growing in place";
  EXPECT_EQ(v.capacity(), a.usable_size(v.data()) / sizeof(std::uint64_t));
  for (std::uint64_t i = 0; i <= capacity; ++i) ASSERT_EQ(v[i], i);
  // Boost's "grow only if it stays in place" asks the same question and gets the same answer.
  EXPECT_TRUE(v.stable_reserve(v.capacity() + 1));
  EXPECT_EQ(v.data(), before);
}

TEST(AllocatorTest, ShrinkToFitGivesMemoryBackInPlace) {
  seam::arena a;
  seam::arena_scope scope{a};
  seam::vector<std::uint32_t> v(1 << 20);
  std::iota(v.begin(), v.end(), 0u);
  const auto* data = v.data();
  const std::size_t before = a.stats().allocated;
  v.resize(10);
  v.shrink_to_fit();
  EXPECT_EQ(v.data(), data);
  EXPECT_LT(v.capacity(), std::size_t{1} << 20);
  EXPECT_LT(a.stats().allocated + (std::size_t{3} << 20), before);
  for (std::uint32_t i = 0; i < 10; ++i) EXPECT_EQ(v[i], i);
}

// jemalloc's sized free must get a size of the block's size class; the counts version 2 reports
// are derived from real block sizes, so elements of awkward sizes are the risky case. If a size
// were wrong, the arena's accounting would not come back to where it started.
template <std::size_t Size>
struct blob {
  std::array<unsigned char, Size> bytes;
};

template <std::size_t Size>
void grow_shrink_and_free(seam::arena& a) {
  seam::arena_scope scope{a};
  for (std::size_t count : {1u, 2u, 3u, 7u, 100u, 1000u, 5000u}) {
    seam::vector<blob<Size>> v;
    for (std::size_t i = 0; i < count; ++i) {
      v.push_back(blob<Size>{});
      v.back().bytes[0] = static_cast<unsigned char>(i);
    }
    for (std::size_t i = 0; i < count; ++i) {
      ASSERT_EQ(v[i].bytes[0], static_cast<unsigned char>(i)) << Size << " bytes, " << count;
    }
    v.resize(count / 3);
    v.shrink_to_fit();
    seam::vector<blob<Size>> copy(v);
    copy.insert(copy.begin(), v.begin(), v.end());
  }
}

TEST(AllocatorTest, OddElementSizesFreeExactly) {
  seam::arena a;
  const std::size_t start = a.stats().allocated;
  grow_shrink_and_free<1>(a);
  grow_shrink_and_free<3>(a);
  grow_shrink_and_free<24>(a);
  grow_shrink_and_free<40>(a);
  grow_shrink_and_free<1000>(a);
  grow_shrink_and_free<5000>(a);
  grow_shrink_and_free<12345>(a);
  EXPECT_EQ(a.stats().allocated, start);
}

TEST(AllocatorTest, StringsGrowAndShrinkCorrectly) {
  seam::arena a;
  const std::size_t start = a.stats().allocated;
  {
    seam::arena_scope scope{a};
    seam::string s;
    std::string expected;
    for (int i = 0; i < 20000; ++i) {
      s += static_cast<char>('a' + i % 26);
      expected += static_cast<char>('a' + i % 26);
    }
    EXPECT_EQ(std::string_view(s.data(), s.size()), expected);
    s.resize(30);
    s.shrink_to_fit();
    EXPECT_EQ(std::string_view(s.data(), s.size()), expected.substr(0, 30));
  }
  EXPECT_EQ(a.stats().allocated, start);
}

// Node containers take their nodes through allocate_individual / deallocate_individual when
// built from a range, and give them back in chains when cleared or erased.
TEST(AllocatorTest, NodeContainersAllocateAndFreeChains) {
  seam::arena a;
  const std::size_t start = a.stats().allocated;
  {
    seam::arena_scope scope{a};
    std::vector<int> values(5000);
    std::iota(values.begin(), values.end(), 0);
    seam::list<int> l(values.begin(), values.end());
    seam::multiset<int> s(values.begin(), values.end());
    seam::set<int> ordered(boost::container::ordered_unique_range, values.begin(), values.end());
    EXPECT_TRUE(std::equal(l.begin(), l.end(), values.begin()));
    EXPECT_TRUE(std::equal(s.begin(), s.end(), values.begin()));
    EXPECT_TRUE(std::equal(ordered.begin(), ordered.end(), values.begin()));
    l.erase(std::next(l.begin(), 10), std::prev(l.end(), 10));
    EXPECT_EQ(l.size(), 20u);
    s.erase(s.lower_bound(100), s.upper_bound(4899));
    EXPECT_EQ(s.size(), 200u);
    ordered.erase(42);
    ordered.clear();
    EXPECT_TRUE(ordered.empty());
  }
  EXPECT_EQ(a.stats().allocated, start);
}

}  // namespace
