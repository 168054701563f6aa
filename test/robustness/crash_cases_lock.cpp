// Crash matrix case: a process killed while it holds a seam::mutex in an arena, half way
// through a change. The victim is a forked child of the arena's owner (it shares the mapping;
// a lock needs no allocation), standing for any process that can write the arena.

#include <gtest/gtest.h>
#include <unistd.h>

#include "robustness/crash_cases.hpp"
#include "seam/arena/synchronized.hpp"

namespace seam::test::crash_cases {

namespace {

// Holds while no change is under way: `total == 10 * changes`.
struct account {
  std::uint64_t changes = 0;
  std::uint64_t total = 0;
};

}  // namespace

void locker_holding_lock() {
  const held_resources baseline;
  {
    seam::arena a({.capacity = 64 << 20, .name = "crash-lock"});
    auto* shared = a.make<seam::synchronized<account>>();
    const std::size_t allocated = a.stats().allocated;
    pipe_pair held;
    auto victim = fork_run([&] {
      auto locked = shared->lock();
      locked->changes += 1;  // killed before `total` follows
      if (::write(held.write_end.get(), "held\n", 5) != 5) return 1;
      ::pause();
      return 0;
    });
    ASSERT_EQ(read_line(held.read_end.get()), "held");
    victim.kill(SIGKILL);
    ASSERT_EQ(victim.wait(), 1000 + SIGKILL);
    // Noticed: the lock is free again and says why.
    {
      auto locked = shared->try_lock_for(5s);
      ASSERT_TRUE(locked) << "the dead holder's lock was not released";
      EXPECT_TRUE(locked.previous_owner_died());
      EXPECT_NE(locked->total, 10 * locked->changes) << "the half-done change is visible";
      locked->total = 10 * locked->changes;  // the survivor repairs it
    }
    // Keeps working: a new process changes the account under the lock, which is healthy again.
    auto next = fork_run([&] {
      for (int i = 0; i < 1000; ++i) {
        auto locked = shared->lock();
        if (locked.previous_owner_died()) return 2;
        locked->changes += 1;
        locked->total += 10;
      }
      return 0;
    });
    EXPECT_EQ(next.wait(30s), 0);
    {
      auto locked = shared->lock();
      EXPECT_FALSE(locked.previous_owner_died()) << "the death was reported more than once";
      EXPECT_EQ(locked->changes, 1001u);
      EXPECT_EQ(locked->total, 10 * locked->changes);
    }
    EXPECT_EQ(a.stats().allocated, allocated);  // the victim could not allocate: nothing to leak
    a.destroy(shared);
  }
  expect_back_to(baseline, "once the arena is gone");
}

}  // namespace seam::test::crash_cases
