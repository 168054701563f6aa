#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "arena/detail/directory.hpp"
#include "arena/detail/layout.hpp"
#include "arena/named_objects.hpp"
#include "seam/arena/arena.hpp"
#include "seam/arena/arena_view.hpp"
#include "seam/session/session.hpp"
#include "support/process.hpp"

namespace {

using namespace std::chrono_literals;
using namespace seam::test::named;
constexpr std::size_t MiB = std::size_t{1} << 20;

seam::arena small_arena(const char* name) {
  return seam::arena({.capacity = 64 * MiB, .name = name});
}

struct versioned {
  static constexpr std::string_view seam_type_name = "test::versioned/v1";
  int value;
};
struct same_layout_other_name {
  int value;
};

// The fingerprint is a compile-time constant: these hold in every build.
static_assert(seam::type_fingerprint<int>() != seam::type_fingerprint<float>());
static_assert(seam::type_fingerprint<int>() == seam::type_fingerprint<const int>());
static_assert(seam::type_fingerprint<seam::map<int, int>>() !=
              seam::type_fingerprint<seam::map<int, long>>());
static_assert(seam::type_name<versioned>() == "test::versioned/v1");
static_assert(seam::type_name<point>() == "seam::test::named::point");

TEST(NamedTest, MakeThenFindReturnsTheSameObject) {
  auto a = small_arena("named");
  EXPECT_EQ(a.find<std::uint64_t>("answer"), nullptr);  // no directory yet
  auto* p = a.make_named<std::uint64_t>("answer", 42u);
  EXPECT_EQ(*p, 42u);
  EXPECT_EQ(a.find<std::uint64_t>("answer"), p);
  EXPECT_EQ(a.find<const std::uint64_t>("answer"), p);
  EXPECT_EQ(a.find<std::uint64_t>("other"), nullptr);
  std::error_code ec = seam::errc::arena_full;
  EXPECT_EQ(a.find<std::uint64_t>("other", ec), nullptr);
  EXPECT_FALSE(ec);  // absent is not an error
}

TEST(NamedTest, SecondMakeWithTheSameNameFailsAndKeepsTheFirst) {
  auto a = small_arena("named");
  auto* first = a.make_named<int>("x", 1);
  try {
    a.make_named<int>("x", 2);
    ADD_FAILURE() << "second make_named succeeded";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), seam::errc::name_exists);
  }
  EXPECT_THROW(a.make_named<double>("x", 2.0), std::system_error);  // any type
  EXPECT_EQ(a.find<int>("x"), first);
  EXPECT_EQ(*first, 1);
}

TEST(NamedTest, FindWithAnotherTypeIsTypeMismatch) {
  auto a = small_arena("named");
  a.make_named<int>("int", 7);
  a.make_named<versioned>("versioned", versioned{5});
  std::error_code ec;
  EXPECT_EQ(a.find<float>("int", ec), nullptr);  // same size and alignment, other name
  EXPECT_EQ(ec, seam::errc::type_mismatch);
  EXPECT_EQ(a.find<std::uint64_t>("int", ec), nullptr);  // other size
  EXPECT_EQ(ec, seam::errc::type_mismatch);
  EXPECT_EQ(a.find<same_layout_other_name>("versioned", ec), nullptr);
  EXPECT_EQ(ec, seam::errc::type_mismatch);
  EXPECT_EQ(a.find<versioned>("versioned")->value, 5);
  try {
    a.find<float>("int");
    ADD_FAILURE() << "find with the wrong type returned";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), seam::errc::type_mismatch);
  }
  // destroy_named with the wrong type removes nothing.
  EXPECT_FALSE(a.destroy_named<float>("int", ec));
  EXPECT_EQ(ec, seam::errc::type_mismatch);
  EXPECT_EQ(*a.find<int>("int"), 7);
}

TEST(NamedTest, NamesAreOneTo255BytesComparedExactly) {
  auto a = small_arena("named");
  const std::string longest(seam::max_name_length, 'n');
  auto* p = a.make_named<int>(longest, 1);
  EXPECT_EQ(a.find<int>(longest), p);
  EXPECT_EQ(a.find<int>(longest.substr(1)), nullptr);
  std::error_code ec;
  EXPECT_EQ(a.find<int>(longest + "n", ec), nullptr);
  EXPECT_EQ(ec, seam::errc::bad_name);
  EXPECT_EQ(a.find<int>("", ec), nullptr);
  EXPECT_EQ(ec, seam::errc::bad_name);
  try {
    a.make_named<int>(longest + "n", 1);
    ADD_FAILURE() << "a name of 256 bytes was accepted";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), seam::errc::bad_name);
  }
  // Bytes, not C strings or case-folded text.
  auto* with_nul = a.make_named<int>(std::string_view("a\0b", 3), 2);
  auto* plain = a.make_named<int>("a", 3);
  auto* upper = a.make_named<int>("A", 4);
  EXPECT_EQ(a.find<int>(std::string_view("a\0b", 3)), with_nul);
  EXPECT_EQ(a.find<int>("a"), plain);
  EXPECT_EQ(a.find<int>("A"), upper);
  EXPECT_EQ(a.find<int>(std::string_view("a\0c", 3)), nullptr);
  const std::string high_bytes("\xff\x80\x01", 3);
  auto* binary = a.make_named<int>(high_bytes, 5);
  EXPECT_EQ(a.find<int>(high_bytes), binary);
}

struct counted {
  static inline int alive = 0;
  int value;
  explicit counted(int v) : value(v) { ++alive; }
  ~counted() { --alive; }
};

TEST(NamedTest, DestroyNamedRemovesTheNameThenDestroysTheObject) {
  auto a = small_arena("named");
  const auto baseline = a.stats().allocated;
  a.make_named<counted>("c", 1);
  EXPECT_EQ(counted::alive, 1);
  EXPECT_TRUE(a.destroy_named<counted>("c"));
  EXPECT_EQ(counted::alive, 0);
  EXPECT_EQ(a.find<counted>("c"), nullptr);
  EXPECT_FALSE(a.destroy_named<counted>("c"));  // nothing of that name any more
  // The name is free again, and its slot is reused: the directory does not grow.
  const auto with_directory = a.stats().allocated;
  for (int i = 0; i < 100; ++i) {
    auto* p = a.make_named<counted>("c", i);
    EXPECT_EQ(a.find<counted>("c"), p);
    EXPECT_TRUE(a.destroy_named<counted>("c"));
  }
  EXPECT_EQ(counted::alive, 0);
  EXPECT_EQ(a.stats().allocated, with_directory);
  EXPECT_GT(with_directory, baseline);
}

struct throws_on_construction {
  explicit throws_on_construction(int) { throw std::runtime_error("no"); }
};

TEST(NamedTest, AConstructorThatThrowsLeavesTheNameFree) {
  auto a = small_arena("named");
  EXPECT_THROW(a.make_named<throws_on_construction>("t", 1), std::runtime_error);
  EXPECT_EQ(a.find<throws_on_construction>("t"), nullptr);
  EXPECT_NE(a.make_named<int>("t", 1), nullptr);
}

// A constructor may make other named objects (it runs without the directory's lock), and its
// own name is taken while it runs.
struct maker {
  std::error_code own_name;
  explicit maker(seam::arena& a) {
    a.make_named<int>("made inside", 9);
    try {
      a.make_named<int>("outer", 1);
    } catch (const std::system_error& e) {
      own_name = e.code();
    }
  }
};

TEST(NamedTest, AConstructorMayMakeNamedObjectsAndItsNameIsTaken) {
  auto a = small_arena("named");
  auto* m = a.make_named<maker>("outer", a);
  EXPECT_EQ(m->own_name, seam::errc::name_exists);
  EXPECT_EQ(*a.find<int>("made inside"), 9);
  EXPECT_EQ(a.find<maker>("outer"), m);
}

TEST(NamedTest, ThousandsOfNamesGrowTheDirectoryAndAreAllFound) {
  auto a = small_arena("named");
  constexpr int n = 5000;  // blocks of 12, 24, ... 6144 slots, each filled to half: ten blocks
  // Names made by formatting: gcc 12 at -O3 reports a false -Werror=restrict when a short string
  // is concatenated in a loop.
  auto name = [](int i) {
    char text[16];
    return std::string(text, static_cast<std::size_t>(std::snprintf(text, sizeof text, "n%d", i)));
  };
  std::vector<int*> made;
  for (int i = 0; i < n; ++i) made.push_back(a.make_named<int>(name(i), i));
  for (int i = 0; i < n; i += 7) EXPECT_EQ(a.find<int>(name(i)), made[i]);
  for (int i = 0; i < n; i += 2) EXPECT_TRUE(a.destroy_named<int>(name(i)));
  for (int i = 0; i < n; ++i) EXPECT_EQ(a.find<int>(name(i)), i % 2 == 0 ? nullptr : made[i]);
}

// Names whose probes start at the same slot of the first block: the second goes to the next
// slot, and stays found when the first is removed (the removed slot becomes a tombstone that
// lookups walk past, and that the next such name reuses).
TEST(NamedTest, NamesThatCollideStayFoundAcrossRemovals) {
  auto a = small_arena("named");
  const auto capacity = seam::detail::block_capacity(0);
  auto start = [&](const std::string& n) {
    return seam::detail::probe_start(seam::detail::name_hash(n), capacity);
  };
  std::vector<std::string> same;
  for (int i = 0; same.size() < 3; ++i) {
    const std::string n = std::string("k") + std::to_string(i);
    if (start(n) == start("k0")) same.push_back(n);
  }
  auto* first = a.make_named<int>(same[0], 0);
  auto* second = a.make_named<int>(same[1], 1);
  EXPECT_TRUE(a.destroy_named<int>(same[0]));
  EXPECT_EQ(a.find<int>(same[0]), nullptr);
  EXPECT_EQ(a.find<int>(same[1]), second);  // past the tombstone
  auto* third = a.make_named<int>(same[2], 2);
  EXPECT_EQ(a.find<int>(same[2]), third);
  EXPECT_EQ(a.find<int>(same[1]), second);
  EXPECT_THROW(a.make_named<int>(same[1], 9), std::system_error);  // found past the reuse
  // The third reused the first's slot: the block holds no more used slots than before.
  auto* block = reinterpret_cast<seam::detail::directory_block*>(
      a.base() + reinterpret_cast<seam::detail::arena_header*>(a.base())->directory_offset);
  EXPECT_EQ(block->used, 2u);
  (void)first;
}

TEST(NamedTest, AForkedChildFindsButMayNotMakeOrDestroy) {
  auto a = small_arena("named");
  a.make_named<int>("x", 5);
  auto child = seam::test::fork_run([&] {
    if (a.find<int>("x") == nullptr || *a.find<int>("x") != 5) return 1;
    try {
      a.make_named<int>("y", 1);
      return 2;
    } catch (const std::system_error& e) {
      if (e.code() != seam::errc::forked_child) return 3;
    }
    std::error_code ec;
    if (a.destroy_named<int>("x", ec) || ec != seam::errc::forked_child) return 4;
    return 0;
  });
  EXPECT_EQ(child.wait(), 0);
  EXPECT_EQ(*a.find<int>("x"), 5);  // the child changed nothing
}

// Readers on other threads look up while the owner makes and destroys: a name being made is
// seen whole or not at all (never half-constructed), a name made before the lookup began is
// always found, and lookups of names being destroyed neither fail nor crash.
TEST(NamedTest, LookupsRacingMakesAndDestroysSeeWholeObjectsOrNothing) {
  auto a = small_arena("named");
  using quad = std::array<std::uint64_t, 4>;
  constexpr std::uint64_t n = 3000;
  std::atomic<std::uint64_t> made{0};
  std::atomic<bool> done{false};
  std::atomic<long> bad{0}, seen_while_made{0};
  auto name = [](std::uint64_t i) { return std::string("churn") + std::to_string(i); };
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&] {
      while (!done.load(std::memory_order_relaxed)) {
        const std::uint64_t last = made.load(std::memory_order_acquire);
        if (last != 0 && a.find<quad>(name(last)) == nullptr) bad.fetch_add(1);
        if (const quad* p = a.find<quad>(name(last + 1))) {  // being made right now
          const quad v = *p;
          if (v[0] != last + 1 || v[1] != v[0] || v[2] != v[0] || v[3] != v[0]) bad.fetch_add(1);
          seen_while_made.fetch_add(1);
        }
        std::error_code ec;
        a.find<int>(std::string("other") + std::to_string(last % 8), ec);
        if (ec) bad.fetch_add(1);
      }
    });
  }
  for (std::uint64_t i = 1; i <= n; ++i) {
    a.make_named<quad>(name(i), quad{i, i, i, i});
    made.store(i, std::memory_order_release);
    a.make_named<int>(std::string("other") + std::to_string(i % 8), 1);
    EXPECT_TRUE(a.destroy_named<int>(std::string("other") + std::to_string(i % 8)));
  }
  done = true;
  for (auto& r : readers) r.join();
  EXPECT_EQ(bad.load(), 0);
  RecordProperty("lookups_that_saw_an_object_being_made", std::to_string(seen_while_made.load()));
}

// --- A corrupted directory: an error, never a crash ----------------------------------------------

class NamedCorruptDirectoryTest : public ::testing::Test {
 protected:
  NamedCorruptDirectoryTest() : a(small_arena("corrupt")) {
    a.make_named<std::uint64_t>("answer", 42u);
    fd = a.share();
    view = seam::arena_view::open(fd.get());
    header = reinterpret_cast<seam::detail::arena_header*>(a.base());
    block = reinterpret_cast<seam::detail::directory_block*>(a.base() + header->directory_offset);
    const auto capacity = seam::detail::block_capacity(0);
    slot = seam::detail::probe_start(seam::detail::name_hash("answer"), capacity);
    entry = seam::detail::entries_of(block, capacity) + slot;
  }
  // What the view says about "answer"; the owner's own lookup must agree.
  std::error_code lookup() {
    std::error_code ec, owner_ec;
    const auto* p = view.find<std::uint64_t>("answer", ec);
    a.find<std::uint64_t>("answer", owner_ec);
    EXPECT_EQ(ec, owner_ec);
    if (p != nullptr) {
      EXPECT_TRUE(view.contains(p, sizeof *p));
    }
    return ec;
  }

  seam::arena a;
  seam::unique_fd fd;
  seam::arena_view view;
  seam::detail::arena_header* header;
  seam::detail::directory_block* block;
  std::uint64_t slot;
  seam::detail::directory_entry* entry;
};

TEST_F(NamedCorruptDirectoryTest, IntactDirectoryIsFound) {
  EXPECT_EQ(*view.find<std::uint64_t>("answer"), 42u);
  EXPECT_FALSE(lookup());
}

TEST_F(NamedCorruptDirectoryTest, DirectoryOffsetOutsideTheArena) {
  for (std::uint64_t bad : {std::uint64_t{8}, std::uint64_t{a.capacity() - 32}, ~std::uint64_t{0},
                            std::uint64_t{a.capacity()}, header->directory_offset + 8}) {
    header->directory_offset = bad;
    EXPECT_EQ(lookup(), seam::errc::corrupt_arena) << bad;
  }
}

TEST_F(NamedCorruptDirectoryTest, BlockWithWrongMagicIndexOrCapacity) {
  block->magic ^= 1;
  EXPECT_EQ(lookup(), seam::errc::corrupt_arena);
  block->magic ^= 1;
  block->index = 1;
  EXPECT_EQ(lookup(), seam::errc::corrupt_arena);
  block->index = 0;
  block->capacity = ~std::uint64_t{0};
  EXPECT_EQ(lookup(), seam::errc::corrupt_arena);
}

TEST_F(NamedCorruptDirectoryTest, ChainThatLoopsBackEnds) {
  // The name is not in block 0 (its hash slot says another name), and block 0's next points
  // at block 0.
  seam::detail::hashes_of(block)[slot] ^= 4;
  block->next = header->directory_offset;
  EXPECT_EQ(lookup(), seam::errc::corrupt_arena);
}

TEST_F(NamedCorruptDirectoryTest, EntryWithAnObjectOutsideTheArena) {
  for (std::uint64_t bad : {std::uint64_t{0}, std::uint64_t{16}, ~std::uint64_t{0} - 3,
                            std::uint64_t{a.capacity() - 4}, entry->offset + 1}) {
    entry->offset = bad;
    EXPECT_EQ(lookup(), seam::errc::corrupt_arena) << bad;
  }
}

TEST_F(NamedCorruptDirectoryTest, EntryWithGarbageLengthOrStateIsNotAMatch) {
  entry->name_length = ~std::uint64_t{0};
  EXPECT_FALSE(lookup());
  EXPECT_EQ(view.find<std::uint64_t>("answer"), nullptr);
  entry->name_length = 6;
  entry->state = 12345;
  EXPECT_FALSE(lookup());
  EXPECT_EQ(view.find<std::uint64_t>("answer"), nullptr);
}

TEST_F(NamedCorruptDirectoryTest, EntryStuckMidWriteIsSkippedNotWaitedFor) {
  entry->sequence |= 1;  // as if the owner died while rewriting it
  EXPECT_FALSE(lookup());
  EXPECT_EQ(view.find<std::uint64_t>("answer"), nullptr);
}

TEST_F(NamedCorruptDirectoryTest, ListingNamesTheLiveObjectsAndRefusesABadEntry) {
  std::error_code ec;
  std::vector<seam::named_object_info> names = view.names(ec);
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_EQ(names.size(), 1u);
  EXPECT_EQ(names[0].name, "answer");
  EXPECT_EQ(names[0].size, sizeof(std::uint64_t));
  EXPECT_EQ(names[0].alignment, alignof(std::uint64_t));
  EXPECT_EQ(names[0].fingerprint, seam::type_fingerprint<std::uint64_t>());
  EXPECT_EQ(static_cast<const void*>(view.base() + names[0].offset),
            static_cast<const void*>(view.find<std::uint64_t>("answer")));
  entry->sequence |= 1;  // mid-write: skipped, not waited for
  EXPECT_TRUE(view.names(ec).empty());
  EXPECT_FALSE(ec);
  entry->sequence &= ~std::uint64_t{1};
  entry->offset = a.capacity() - 4;
  view.names(ec);
  EXPECT_EQ(ec, seam::errc::corrupt_arena);
}

TEST_F(NamedCorruptDirectoryTest, ListingAChainThatLoopsBackEnds) {
  block->next = header->directory_offset;
  std::error_code ec;
  view.names(ec);
  EXPECT_EQ(ec, seam::errc::corrupt_arena);
}

TEST(NamedTest, ListingNamesEveryLiveObjectAcrossBlocks) {
  seam::arena a = small_arena("listing");
  // Appended, not `"n" + std::to_string(i)`: gcc 12 -O3 warns falsely (-Wrestrict) on that.
  const auto name = [](int i) {
    std::string s = "n";
    s += std::to_string(i);
    return s;
  };
  for (int i = 0; i < 1000; ++i) a.make_named<int>(name(i), i);
  for (int i = 0; i < 1000; i += 100) a.destroy_named<int>(name(i));
  const seam::unique_fd fd = a.share();
  const seam::arena_view view = seam::arena_view::open(fd.get());
  std::error_code ec;
  std::vector<std::string> names;
  for (const auto& n : view.names(ec)) names.push_back(n.name);
  ASSERT_FALSE(ec) << ec.message();
  std::vector<std::string> expected;
  for (int i = 0; i < 1000; ++i) {
    if (i % 100 != 0) expected.push_back(name(i));
  }
  std::sort(names.begin(), names.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(names, expected);
}

// --- Other processes -----------------------------------------------------------------------------

TEST(NamedTest, AnotherProcessFindsNamedObjectsThroughAView) {
  seam::arena a({.capacity = 256 * MiB, .name = "named-view"});
  make_all(a);
  seam::unique_fd fd = a.share();
  seam::test::pipe_pair out, in;
  auto reader =
      seam::test::spawn(SEAM_NAMED_READER, {"view"},
                        {{fd.get(), 3}, {out.write_end.get(), 1}, {in.read_end.get(), 0}});
  out.write_end.reset();
  in.read_end.reset();
  ASSERT_EQ(seam::test::read_line(out.read_end.get()), "ok");
  EXPECT_TRUE(a.destroy_named<std::uint64_t>("answer"));
  seam::test::write_all(in.write_end.get(), "go\n");
  EXPECT_EQ(seam::test::read_line(out.read_end.get()), "ok");
  EXPECT_EQ(reader.wait(), 0);
}

TEST(NamedTest, APeerFindsNamedObjectsThroughItsSession) {
  const std::string app = std::string("named-test-") + std::to_string(::getpid());
  seam::session_server server{app};
  seam::arena dataset({.capacity = 64 * MiB, .name = "dataset"});
  seam::test::pipe_pair out, in;
  auto reader = seam::test::spawn(SEAM_NAMED_READER, {"session", app, std::to_string(dataset.id())},
                                  {{out.write_end.get(), 1}, {in.read_end.get(), 0}});
  out.write_end.reset();
  in.read_end.reset();
  auto s = server.accept(30s);
  ASSERT_EQ(seam::test::read_line(out.read_end.get()), "connected");
  make_all(s.arena());
  dataset.make_named<std::uint64_t>("dataset-answer", answer_value + 1);
  s.share(dataset);
  seam::test::write_all(in.write_end.get(), "go\n");
  ASSERT_EQ(seam::test::read_line(out.read_end.get()), "ok");
  EXPECT_TRUE(s.arena().destroy_named<std::uint64_t>("answer"));
  EXPECT_TRUE(dataset.destroy_named<std::uint64_t>("dataset-answer"));
  seam::test::write_all(in.write_end.get(), "go\n");
  EXPECT_EQ(seam::test::read_line(out.read_end.get()), "ok");
  EXPECT_EQ(reader.wait(), 0);
}

}  // namespace
