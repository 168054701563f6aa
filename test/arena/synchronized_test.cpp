// seam::synchronized<T>: a value and its robust mutex, made in an arena like any object.

#include "seam/arena/synchronized.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <string>

#include "seam/arena/arena.hpp"
#include "seam/arena/arena_view.hpp"
#include "seam/containers/hash_map.hpp"
#include "seam/containers/map.hpp"
#include "seam/containers/string.hpp"
#include "support/process.hpp"

namespace {

using namespace std::chrono_literals;
using seam::test::fork_run;
using seam::test::pipe_pair;
using seam::test::read_line;
using seam::test::write_all;

constexpr std::size_t MiB = std::size_t{1} << 20;
using table = seam::synchronized<seam::map<int, int>>;

// seam::shm_safe (checked by arena::make) accepts the mutex and a synchronized safe type, and
// still sees through synchronized to what it holds.
static_assert(seam::shm_safe_v<seam::mutex>);
static_assert(seam::shm_safe_v<table>);
static_assert(seam::shm_safe_v<seam::synchronized<seam::hash_map<seam::string, int>>>);
static_assert(!seam::shm_safe_v<seam::synchronized<std::string>>);
static_assert(!seam::shm_safe_v<seam::synchronized<int*>>);
// A read-only view hands out const objects, which cannot be locked.
template <class T>
concept can_lock = requires(T* t) {
  t->lock();
  t->try_lock();
};
static_assert(can_lock<table>);
static_assert(!can_lock<const table>);

TEST(SynchronizedTest, MapInTheArenaChangesUnderItsLock) {
  seam::arena a({.capacity = 256 * MiB, .name = "sync-map"});
  auto* t = a.make<table>();
  {
    auto locked = t->lock();
    ASSERT_TRUE(locked);
    EXPECT_FALSE(locked.previous_owner_died());
    seam::arena_scope scope(a);
    for (int i = 0; i < 1000; ++i) locked->emplace(i, i * i);
  }
  EXPECT_EQ(t->lock()->size(), 1000u);
  EXPECT_EQ(t->lock()->at(30), 900);
  EXPECT_TRUE(a.contains(&t->unsafe_get()));
  a.destroy(t);
  EXPECT_EQ(a.stats().allocated, 0u);
}

TEST(SynchronizedTest, NamedObjectIsFoundByTheOwnerAndReadByAView) {
  seam::arena a({.capacity = 256 * MiB, .name = "sync-named"});
  auto* t = a.make_named<table>("orders");
  {
    auto locked = t->lock();
    seam::arena_scope scope(a);
    locked->emplace(7, 49);
  }
  EXPECT_EQ(a.find<table>("orders"), t);
  seam::unique_fd fd = a.share();
  auto view = seam::arena_view::open(fd.get());
  const table* seen = view.find<table>("orders");
  ASSERT_NE(seen, nullptr);
  // Writers have stopped: the reader reads without the lock (all it can do).
  EXPECT_EQ(seen->unsafe_get().size(), 1u);
  EXPECT_TRUE(a.destroy_named<table>("orders"));
}

// Locking writes the mutex: through a read-only view the kernel refuses, and the owner's
// mutex is untouched.
TEST(SynchronizedTest, ReadOnlyViewCannotLock) {
  seam::arena a({.capacity = 64 * MiB, .name = "sync-view"});
  auto* t = a.make_named<seam::synchronized<std::array<int, 4>>>("cells");
  seam::unique_fd fd = a.share();
  auto reader = fork_run([&] {
    // The kernel's default action for SIGSEGV, even under a sanitizer that catches it (set by
    // the raw system call, which sanitizers do not intercept).
    struct {
      void (*handler)(int);
      unsigned long flags;
      void (*restorer)();
      std::uint64_t mask;
    } action{SIG_DFL, 0, nullptr, 0};
    if (::syscall(SYS_rt_sigaction, SIGSEGV, &action, nullptr, sizeof action.mask) != 0) return 2;
    auto view = seam::arena_view::open(fd.get());
    auto* seen = view.find<seam::synchronized<std::array<int, 4>>>("cells");
    auto& forced = const_cast<seam::synchronized<std::array<int, 4>>&>(*seen);
    (void)forced.try_lock();  // writes the lock word: SIGSEGV on the read-only mapping
    return 0;
  });
  EXPECT_EQ(reader.wait(), 1000 + SIGSEGV);
  auto locked = t->try_lock();
  EXPECT_TRUE(locked);
  EXPECT_FALSE(locked.previous_owner_died());
}

TEST(SynchronizedTest, TryLockFormsAreEmptyWhileAnotherProcessHolds) {
  seam::arena a({.capacity = 64 * MiB, .name = "sync-try"});
  auto* t = a.make<seam::synchronized<std::array<int, 4>>>(std::array<int, 4>{1, 2, 3, 4});
  pipe_pair held, release;
  auto holder = fork_run([&] {
    auto locked = t->lock();
    (*locked)[0] = 10;
    write_all(held.write_end.get(), "held\n");
    char c;
    (void)::read(release.read_end.get(), &c, 1);
    return 0;
  });
  ASSERT_EQ(read_line(held.read_end.get()), "held");
  EXPECT_FALSE(t->try_lock());
  EXPECT_FALSE(t->try_lock_for(50ms));
  std::error_code ec;
  auto none = t->try_lock_for(10ms, ec);
  EXPECT_FALSE(none);
  EXPECT_FALSE(ec);
  EXPECT_EQ(none.get(), nullptr);
  write_all(release.write_end.get(), "x");
  auto locked = t->try_lock_for(10s);
  ASSERT_TRUE(locked);
  EXPECT_EQ((*locked)[0], 10);
  EXPECT_EQ(holder.wait(), 0);
}

TEST(SynchronizedTest, CorruptMutexIsAnErrorInEveryForm) {
  seam::arena a({.capacity = 64 * MiB, .name = "sync-corrupt"});
  auto* t = a.make<seam::synchronized<int>>(5);
  std::memset(static_cast<void*>(&t->get_mutex()), 0xee, sizeof(seam::mutex));
  std::error_code ec;
  EXPECT_FALSE(t->lock(ec));
  EXPECT_EQ(ec, seam::errc::corrupt_arena);
  EXPECT_FALSE(t->try_lock(ec));
  EXPECT_EQ(ec, seam::errc::corrupt_arena);
  EXPECT_FALSE(t->try_lock_for(1ms, ec));
  EXPECT_EQ(ec, seam::errc::corrupt_arena);
  EXPECT_THROW(t->lock(), std::system_error);
  EXPECT_THROW(t->try_lock(), std::system_error);
  EXPECT_EQ(t->unsafe_get(), 5);
  a.deallocate(t);
}

}  // namespace
