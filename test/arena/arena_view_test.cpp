#include "seam/arena/arena_view.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <csignal>
#include <cstdio>
#include <cstring>

#include "arena/pattern.hpp"
#include "seam/arena/arena.hpp"
#include "support/process.hpp"

namespace {

using seam::test::fill_pattern;

constexpr std::size_t MiB = std::size_t{1} << 20;

std::string hex(const void* p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%zx", reinterpret_cast<std::size_t>(p));
  return buf;
}

TEST(ArenaViewTest, SeparateProcessReadsWhatTheOwnerWrote) {
  seam::arena a({.capacity = 256 * MiB, .name = "reader"});
  constexpr std::size_t bytes = 8 * MiB;
  auto* p = static_cast<std::byte*>(a.allocate(bytes));
  fill_pattern(p, bytes, 11);
  const auto h = a.handle_of(p);
  seam::unique_fd fd = a.share();
  seam::test::pipe_pair out;
  auto reader = seam::test::spawn(
      SEAM_ARENA_READER,
      {"read", std::to_string(a.id()), std::to_string(h.offset), std::to_string(bytes), "11",
       hex(a.base())},
      {{fd.get(), 3}, {out.write_end.get(), 1}});
  out.write_end.reset();
  EXPECT_EQ(seam::test::read_line(out.read_end.get()), "ok");
  EXPECT_EQ(reader.wait(), 0);
}

TEST(ArenaViewTest, ReaderKeepsCorrectDataAfterTheOwnerIsKilled) {
  seam::test::pipe_pair to_reader, from_reader, from_owner;
  constexpr std::size_t bytes = 4 * MiB;
  // The owner is a child process so that it can be killed; it starts the reader itself.
  auto owner = seam::test::fork_run([&] {
    seam::arena a({.capacity = 64 * MiB, .name = "killed-owner"});
    auto* p = static_cast<std::byte*>(a.allocate(bytes));
    fill_pattern(p, bytes, 5);
    seam::unique_fd fd = a.share();
    auto reader = seam::test::spawn(
        SEAM_ARENA_READER,
        {"hold", std::to_string(a.id()), std::to_string(a.handle_of(p).offset),
         std::to_string(bytes), "5"},
        {{fd.get(), 3}, {to_reader.read_end.get(), 0}, {from_reader.write_end.get(), 1}});
    seam::test::write_all(from_owner.write_end.get(), std::to_string(reader.pid()) + "\n");
    reader.wait(std::chrono::hours(1));  // until killed
    return 0;
  });
  const pid_t reader_pid = std::stoi(seam::test::read_line(from_owner.read_end.get()));
  seam::test::process reader_guard;  // not ours to reap: only killed if the test fails
  from_reader.write_end.reset();
  ASSERT_EQ(seam::test::read_line(from_reader.read_end.get()), "ready");
  owner.kill(SIGKILL);
  EXPECT_EQ(owner.wait(), 1000 + SIGKILL);
  seam::test::write_all(to_reader.write_end.get(), "go\n");
  EXPECT_EQ(seam::test::read_line(from_reader.read_end.get()), "ok");
  // The reader was the owner's child, now reparented: its "ok" line is the proof; make sure
  // it does not outlive the test.
  ::kill(reader_pid, SIGKILL);
}

TEST(ArenaViewTest, WritingThroughAViewDiesWithSigsegv) {
  seam::arena a({.capacity = 64 * MiB, .name = "write"});
  auto* p = a.make<int>(7);
  seam::unique_fd fd = a.share();
  auto view = seam::arena_view::open(fd.get());
  const int* seen = view.get(a.handle_of(p));
  ASSERT_EQ(*seen, 7);
  ASSERT_NE(static_cast<const void*>(seen), static_cast<const void*>(p));
  // The default action, not a sanitizer's handler: the kernel's verdict is what is tested.
  auto write_through_view = [seen] {
    std::signal(SIGSEGV, SIG_DFL);
    *const_cast<volatile int*>(seen) = 8;
  };
  EXPECT_EXIT(write_through_view(), testing::KilledBySignal(SIGSEGV), "");
  EXPECT_EQ(*seen, 7);
}

TEST(ArenaViewTest, HandlesAreCheckedBeforeUse) {
  seam::arena a({.capacity = 64 * MiB, .name = "handles"});
  auto* p = a.make<std::uint64_t>(99);
  seam::unique_fd fd = a.share();
  auto view = seam::arena_view::open(fd.get());
  const auto good = a.handle_of(p);
  EXPECT_EQ(*view.get(good), 99u);

  auto refused = [&](seam::handle<std::uint64_t> h) {
    std::error_code ec;
    EXPECT_EQ(view.get(h, ec), nullptr);
    EXPECT_THROW((void)view.get(h), std::system_error);
    return ec;
  };
  EXPECT_EQ(refused({}), seam::errc::null_handle);
  EXPECT_EQ(refused({good.arena_id + 1, good.offset}), seam::errc::foreign_handle);
  EXPECT_EQ(refused({good.arena_id, good.offset + 1}), seam::errc::handle_misaligned);
  EXPECT_EQ(refused({good.arena_id, view.size()}), seam::errc::handle_out_of_range);
  EXPECT_EQ(refused({good.arena_id, view.size() - 4}), seam::errc::handle_out_of_range);
  EXPECT_EQ(refused({good.arena_id, ~std::uint64_t{0} - 7}), seam::errc::handle_out_of_range);
  EXPECT_EQ(refused({good.arena_id, 8}), seam::errc::handle_out_of_range);  // the header
  // A count that would overflow or run past the end.
  EXPECT_THROW((void)view.get(good, SIZE_MAX / 4), std::system_error);
  EXPECT_THROW((void)view.get(good, view.size()), std::system_error);
  EXPECT_EQ(view.get(good, 1).size(), 1u);
}

TEST(ArenaViewTest, RefusesWhatIsNotASealedArena) {
  auto open_error = [](int fd) {
    std::error_code ec;
    auto view = seam::arena_view::open(fd, ec);
    EXPECT_FALSE(view);
    return ec;
  };
  // An unsealed memfd could be shrunk under the reader.
  seam::unique_fd plain{::memfd_create("plain", MFD_CLOEXEC | MFD_ALLOW_SEALING)};
  ASSERT_EQ(::ftruncate(plain.get(), 4 * MiB), 0);
  EXPECT_EQ(open_error(plain.get()), seam::errc::bad_arena);
  // Sealed, but not an arena: zeros where the header should be.
  ASSERT_EQ(::fcntl(plain.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
  EXPECT_EQ(open_error(plain.get()), seam::errc::bad_arena);
  // Sealed and too small to hold a header.
  seam::unique_fd tiny{::memfd_create("tiny", MFD_CLOEXEC | MFD_ALLOW_SEALING)};
  ASSERT_EQ(::ftruncate(tiny.get(), 100), 0);
  ASSERT_EQ(::fcntl(tiny.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
  EXPECT_EQ(open_error(tiny.get()), seam::errc::bad_arena);
  // Not a memfd at all, and not an fd.
  seam::unique_fd null{::open("/dev/null", O_RDONLY | O_CLOEXEC)};
  EXPECT_EQ(open_error(null.get()), seam::errc::bad_arena);
  EXPECT_EQ(open_error(-1), std::errc::bad_file_descriptor);
  EXPECT_THROW(seam::arena_view::open(-1), std::system_error);
}

TEST(ArenaViewTest, ReaderFindsTheRootWithNoOtherChannel) {
  struct config {
    std::uint64_t answer;
    double ratio;
  };
  seam::arena a({.capacity = 64 * MiB, .name = "root"});
  seam::unique_fd fd = a.share();
  auto view = seam::arena_view::open(fd.get());
  EXPECT_THROW((void)view.root<config>(), std::system_error);
  a.set_root(a.handle_of(a.make<config>(config{42, 0.5})));
  EXPECT_EQ(view.root<config>()->answer, 42u);
  EXPECT_EQ(view.root<config>()->ratio, 0.5);
  try {
    (void)view.root<std::uint8_t>();  // published as another type
    ADD_FAILURE() << "root of the wrong size accepted";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), seam::errc::no_root);
  }
}

TEST(ArenaViewTest, AlignmentsHoldInTheView) {
  seam::arena a({.capacity = 256 * MiB, .name = "view-align"});
  void* p = a.allocate(100, 2 * MiB);
  seam::unique_fd fd = a.share();
  auto view = seam::arena_view::open(fd.get());
  const std::byte* q = view.get(a.handle_of(static_cast<std::byte*>(p)));
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(q) % (2 * MiB), 0u);
}

}  // namespace
