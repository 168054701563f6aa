#pragma once
// The only futex calls of Seam. The words are in MAP_SHARED memory of a memfd, mapped
// read-write by their writer and read-only by the other process: shared (not private) futexes,
// keyed by the page, so a FUTEX_WAKE on either mapping wakes a FUTEX_WAIT on the other.

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <ctime>

namespace seam::detail {

/// Sleeps while `*word == expected`, at most `wait` (negative: no limit). Returns early on a
/// wake, a signal, or if the word differs already.
inline void futex_wait(const std::uint32_t* word, std::uint32_t expected,
                       std::chrono::nanoseconds wait) noexcept {
  timespec ts{};
  timespec* limit = nullptr;
  if (wait.count() >= 0) {
    ts.tv_sec = static_cast<time_t>(wait.count() / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(wait.count() % 1'000'000'000);
    limit = &ts;
  }
  ::syscall(SYS_futex, word, FUTEX_WAIT, expected, limit, nullptr, 0);
}

/// Wakes every thread sleeping on `word`, in any process.
inline void futex_wake(const std::uint32_t* word) noexcept {
  ::syscall(SYS_futex, word, FUTEX_WAKE, INT32_MAX, nullptr, nullptr, 0);
}

}  // namespace seam::detail
