// seam::mutex across real processes: forked children share the arena's MAP_SHARED mapping (a
// mutex needs no allocation, so the children may use it though only the owner allocates).

#include "seam/arena/mutex.hpp"

#include <gtest/gtest.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>

#include "seam/arena/arena.hpp"
#include "seam/arena/error.hpp"
#include "seam/arena/synchronized.hpp"
#include "support/process.hpp"

namespace {

using namespace std::chrono_literals;
using seam::test::fork_run;
using seam::test::pipe_pair;
using seam::test::read_line;
using seam::test::write_all;

constexpr std::size_t MiB = std::size_t{1} << 20;

// A counter that only a lock keeps exact: the increment is a separate load and store.
struct counter {
  volatile std::uint64_t value = 0;
  void increment() { value = value + 1; }
};

// Writes `line` and a newline to `fd` from a forked child (no allocation, no exceptions).
void say(int fd, const char* line) {
  const std::size_t n = std::strlen(line);
  if (::write(fd, line, n) != static_cast<ssize_t>(n) || ::write(fd, "\n", 1) != 1) ::_exit(90);
}

// Blocks a forked child until the parent writes a byte (or closes the pipe, or dies).
void wait_for_parent(int fd) {
  char c;
  (void)::read(fd, &c, 1);
}

TEST(MutexTest, TwoProcessesCountEveryIncrementUnderTheLock) {
  seam::arena a({.capacity = 64 * MiB, .name = "mutex-count"});
  auto* shared = a.make<seam::synchronized<counter>>();
  constexpr int per_process = 200000;
  auto child = [&] {
    for (int i = 0; i < per_process; ++i) {
      auto locked = shared->lock();
      locked->increment();
      if (locked.previous_owner_died()) return 2;
    }
    return 0;
  };
  auto first = fork_run(child);
  auto second = fork_run(child);
  EXPECT_EQ(first.wait(), 0);
  EXPECT_EQ(second.wait(), 0);
  EXPECT_EQ(shared->lock()->value, 2u * per_process);
  a.destroy(shared);
}

TEST(MutexTest, HolderKilledWhileHoldingIsReportedToTheNextLockerOnce) {
  seam::arena a({.capacity = 64 * MiB, .name = "mutex-kill"});
  auto* m = a.make<seam::mutex>();
  pipe_pair held, release;
  auto holder = fork_run([&] {
    m->lock();
    say(held.write_end.get(), "held");
    wait_for_parent(release.read_end.get());  // never comes: killed
    return 0;
  });
  ASSERT_EQ(read_line(held.read_end.get()), "held");
  // A second process already waits in lock() when the holder dies.
  pipe_pair waiting;
  auto waiter = fork_run([&] {
    say(waiting.write_end.get(), "waiting");
    seam::mutex_guard guard(*m);
    return guard.previous_owner_died() ? 7 : 8;
  });
  ASSERT_EQ(read_line(waiting.read_end.get()), "waiting");
  EXPECT_FALSE(m->try_lock());
  holder.kill(SIGKILL);
  EXPECT_EQ(holder.wait(), 1000 + SIGKILL);
  EXPECT_EQ(waiter.wait(10s), 7) << "the waiter did not learn of the holder's death";
  // Reported once: the waiter unlocked normally, so this lock sees a healthy mutex.
  seam::mutex_guard again(*m);
  EXPECT_FALSE(again.previous_owner_died());
  again.unlock();
  a.destroy(m);
}

TEST(MutexTest, LockAfterTheHolderDiedSucceedsWithPreviousOwnerDied) {
  seam::arena a({.capacity = 64 * MiB, .name = "mutex-dead"});
  auto* table = a.make<seam::synchronized<counter>>();
  pipe_pair held;
  auto holder = fork_run([&] {
    auto locked = table->lock();
    locked->value = 12345;  // half way through a change
    say(held.write_end.get(), "held");
    ::pause();
    return 0;
  });
  ASSERT_EQ(read_line(held.read_end.get()), "held");
  holder.kill(SIGKILL);
  holder.wait();
  {
    auto locked = table->lock();
    EXPECT_TRUE(locked.previous_owner_died());
    EXPECT_EQ(locked->value, 12345u);  // what the dead holder left, for the survivor to judge
    locked->value = 0;
  }
  std::error_code ec;
  auto locked = table->try_lock(ec);
  ASSERT_TRUE(locked);
  EXPECT_FALSE(ec);
  EXPECT_FALSE(locked.previous_owner_died()) << "reported more than once";
  locked.unlock();
  a.destroy(table);
}

TEST(MutexTest, TryLockForTimesOutWhileALiveProcessHolds) {
  seam::arena a({.capacity = 64 * MiB, .name = "mutex-timeout"});
  auto* m = a.make<seam::mutex>();
  pipe_pair held, release;
  auto holder = fork_run([&] {
    m->lock();
    say(held.write_end.get(), "held");
    wait_for_parent(release.read_end.get());
    m->unlock();
    return 0;
  });
  ASSERT_EQ(read_line(held.read_end.get()), "held");
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(m->try_lock_for(200ms));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 200ms);
  // Longer than the orphan check: a live holder is never taken over.
  EXPECT_FALSE(m->try_lock_for(seam::mutex::orphan_check_interval + 100ms));
  EXPECT_FALSE(m->try_lock());
  seam::mutex_guard timed(*m, 10ms);
  EXPECT_FALSE(timed.owns_lock());
  write_all(release.write_end.get(), "x");
  EXPECT_EQ(holder.wait(), 0);
  EXPECT_TRUE(m->try_lock_for(10s));
  EXPECT_FALSE(m->previous_owner_died());
  m->unlock();
  a.destroy(m);
}

TEST(MutexTest, RelockingFromTheHoldingThreadIsAnErrorNotADeadlock) {
  seam::mutex m;
  m.lock();
  std::error_code ec;
  m.lock(ec);
  EXPECT_EQ(ec, std::errc::resource_deadlock_would_occur);
  EXPECT_THROW(m.lock(), std::system_error);
  m.unlock(ec);
  EXPECT_FALSE(ec);
  m.unlock(ec);
  EXPECT_EQ(ec, std::errc::operation_not_permitted);
}

// ---- bad bytes -------------------------------------------------------------------------------

TEST(MutexTest, GarbageBytesAreReportedAsCorruptNeverLockedOrCrashed) {
  seam::arena a({.capacity = 64 * MiB, .name = "mutex-garbage"});
  auto* m = a.make<seam::mutex>();
  // A buggy peer writes over the mutex.
  auto peer = fork_run([&] {
    auto* bytes = reinterpret_cast<unsigned char*>(m);
    for (std::size_t i = 0; i < sizeof(seam::mutex); ++i) {
      bytes[i] = static_cast<unsigned char>(i * 37 + 11);
    }
    return 0;
  });
  ASSERT_EQ(peer.wait(), 0);
  std::error_code ec;
  m->lock(ec);
  EXPECT_EQ(ec, seam::errc::corrupt_arena);
  EXPECT_FALSE(m->try_lock(ec));
  EXPECT_EQ(ec, seam::errc::corrupt_arena);
  EXPECT_FALSE(m->try_lock_for(10ms, ec));
  EXPECT_EQ(ec, seam::errc::corrupt_arena);
  try {
    seam::mutex_guard guard(*m);
    ADD_FAILURE() << "locked a corrupt mutex";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), seam::errc::corrupt_arena);
  }
  // Zero bytes (memory where no mutex was ever constructed) are refused the same way.
  std::memset(static_cast<void*>(m), 0, sizeof(seam::mutex));
  EXPECT_FALSE(m->try_lock(ec));
  EXPECT_EQ(ec, seam::errc::corrupt_arena);
  // A destroyed mutex too.
  auto* gone = a.make<seam::mutex>();
  gone->~mutex();
  EXPECT_FALSE(gone->try_lock(ec));
  EXPECT_EQ(ec, seam::errc::corrupt_arena);
  a.deallocate(gone);
  a.deallocate(m);
}

// A holder whose death the kernel cannot report (its robust list was lost: here it replaced
// the list with an empty one; garbage that names a dead thread looks the same): the lock word
// keeps naming a thread that no longer exists. Taken over as a dead owner's, no hang.
TEST(MutexTest, LockWordNamingNoLivingThreadIsTakenOverAsADeadOwner) {
  seam::arena a({.capacity = 64 * MiB, .name = "mutex-orphan"});
  auto* m = a.make<seam::mutex>();
  for (bool timed : {true, false}) {
    SCOPED_TRACE(timed ? "try_lock_for" : "lock");
    auto holder = fork_run([&] {
      m->lock();
      static robust_list_head empty{{&empty.list}, 0, nullptr};
      return ::syscall(SYS_set_robust_list, &empty, sizeof empty) == 0 ? 0 : 1;
    });
    ASSERT_EQ(holder.wait(), 0);  // dead and reaped, the mutex still names it
    EXPECT_FALSE(m->try_lock()) << "the kernel reported the death after all";
    if (timed) {
      ASSERT_TRUE(m->try_lock_for(50ms));
      EXPECT_TRUE(m->previous_owner_died());
      m->unlock();
    } else {
      // lock() has no deadline: it must find out by itself (within orphan_check_interval).
      auto waiter = fork_run([&] {
        seam::mutex_guard guard(*m);
        return guard.previous_owner_died() ? 7 : 8;
      });
      EXPECT_EQ(waiter.wait(10s), 7);
    }
    seam::mutex_guard healthy(*m);
    EXPECT_FALSE(healthy.previous_owner_died());
  }
  a.destroy(m);
}

// A peer writes over a mutex that this process holds. Run in a child: a mutex left linked in
// a thread's robust list must not outlive that thread's process here.
TEST(MutexTest, GarbageWrittenOverAHeldMutexIsReportedAtUnlock) {
  seam::arena a({.capacity = 64 * MiB, .name = "mutex-held-garbage"});
  auto* m = a.make<seam::mutex>();
  pipe_pair held, written;
  auto holder = fork_run([&] {
    m->lock();
    say(held.write_end.get(), "held");
    wait_for_parent(written.read_end.get());
    std::error_code ec;
    m->unlock(ec);
    return ec == seam::errc::corrupt_arena ? 0 : 1;
  });
  ASSERT_EQ(read_line(held.read_end.get()), "held");
  // The tag (the mutex's first word) only: the holder puts it back and unlocks.
  std::memset(static_cast<void*>(m), 0x5a, 4);
  write_all(written.write_end.get(), "x");
  EXPECT_EQ(holder.wait(), 0) << "unlock did not report the overwritten mutex";
  {
    seam::mutex_guard guard(*m, 10s);
    EXPECT_TRUE(guard.owns_lock()) << "the repaired mutex was not released";
    EXPECT_FALSE(guard.previous_owner_died());
  }
  // Every byte: nothing names the holder any more; unlock reports it and leaves the mutex.
  pipe_pair held2, written2;
  holder = fork_run([&] {
    m->lock();
    say(held2.write_end.get(), "held");
    wait_for_parent(written2.read_end.get());
    std::error_code ec;
    m->unlock(ec);
    return ec == seam::errc::corrupt_arena ? 0 : 1;
  });
  ASSERT_EQ(read_line(held2.read_end.get()), "held");
  std::memset(static_cast<void*>(m), 0xa7, sizeof(seam::mutex));
  write_all(written2.write_end.get(), "x");
  EXPECT_EQ(holder.wait(), 0);
  std::error_code ec;
  EXPECT_FALSE(m->try_lock_for(10ms, ec));
  EXPECT_EQ(ec, seam::errc::corrupt_arena);
  a.deallocate(m);
}

}  // namespace
