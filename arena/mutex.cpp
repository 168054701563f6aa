#include "seam/arena/mutex.hpp"

#include <linux/futex.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>

#include "seam/arena/error.hpp"
#include "seam/base/error.hpp"

namespace seam {
namespace {

// Written by the constructor, cleared by the destructor: bytes that never held a mutex (or
// held one that was destroyed) fail the check before the C library sees them.
constexpr std::uint32_t mutex_tag = 0x584d5453;  // "STMX"
// The kernel's robust-futex lock word: holder's thread id, and two flags (linux/futex.h).
constexpr std::uint32_t tid_mask = FUTEX_TID_MASK;
constexpr std::uint32_t owner_died_bit = FUTEX_OWNER_DIED;
constexpr std::uint32_t waiters_bit = FUTEX_WAITERS;
// No thread id exceeds the kernel's PID_MAX_LIMIT (4 Mi on 64-bit).
constexpr std::uint32_t max_tid = std::uint32_t{4} << 20;

static_assert(sizeof(mutex) <= 64, "room reserved for a seam::mutex in the arena header");

struct mutex_attributes {
  pthread_mutexattr_t attr;
  mutex_attributes() noexcept {
    ::pthread_mutexattr_init(&attr);
    // Error-checking: a thread that locks twice gets EDEADLK instead of hanging, and an
    // unlock by a non-holder is refused; robust mutexes take the C library's slow path anyway.
    ::pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
    ::pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    ::pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  }
  ~mutex_attributes() { ::pthread_mutexattr_destroy(&attr); }
};

const pthread_mutexattr_t& attributes() noexcept {
  static const mutex_attributes a;
  return a.attr;
}

// The kind word glibc writes for our attributes; a mutex with another kind is not ours (a
// garbage kind could send glibc down its priority-inheritance or elision paths).
int expected_kind() noexcept {
  static const int kind = [] {
    pthread_mutex_t probe;
    ::pthread_mutex_init(&probe, &attributes());
    const int k = probe.__data.__kind;
    ::pthread_mutex_destroy(&probe);
    return k;
  }();
  return kind;
}

// ThreadSanitizer (gcc 12's and clang 14's) intercepts pthread_mutex_timedlock but not the
// newer pthread_mutex_clocklock, and would take our locks for unlocks of unknown mutexes.
#if defined(__SANITIZE_THREAD__)
#define SEAM_MUTEX_WAIT_ON_REALTIME 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SEAM_MUTEX_WAIT_ON_REALTIME 1
#endif
#endif
#ifdef SEAM_MUTEX_WAIT_ON_REALTIME
#include <sanitizer/tsan_interface.h>
#endif

// Waits up to `d` for the mutex. On the monotonic clock, so that setting the wall clock
// neither stretches nor cuts the wait (but for the TSan build, see above).
int timed_lock(pthread_mutex_t& m, std::chrono::steady_clock::duration d) noexcept {
  timespec at{};
#ifdef SEAM_MUTEX_WAIT_ON_REALTIME
  ::clock_gettime(CLOCK_REALTIME, &at);
#else
  ::clock_gettime(CLOCK_MONOTONIC, &at);
#endif
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  at.tv_sec += static_cast<time_t>(ns / 1000000000);
  at.tv_nsec += static_cast<long>(ns % 1000000000);
  if (at.tv_nsec >= 1000000000) {
    at.tv_sec += 1;
    at.tv_nsec -= 1000000000;
  }
#ifdef SEAM_MUTEX_WAIT_ON_REALTIME
  return ::pthread_mutex_timedlock(&m, &at);
#else
  return ::pthread_mutex_clocklock(&m, CLOCK_MONOTONIC, &at);
#endif
}

// The calling thread's id, as the kernel writes it in a robust lock word. Cached per thread;
// a forked child's thread has a new id, hence the epoch that every fork child bumps.
std::atomic<unsigned> g_fork_epoch{0};

std::uint32_t this_thread_id() noexcept {
  static const bool registered = [] {
    ::pthread_atfork(nullptr, nullptr, [] { g_fork_epoch.fetch_add(1); });
    return true;
  }();
  (void)registered;
  thread_local std::uint32_t tid = 0;
  thread_local unsigned epoch = 0;
  const unsigned now = g_fork_epoch.load(std::memory_order_relaxed);
  if (tid == 0 || epoch != now) {
    tid = static_cast<std::uint32_t>(::gettid());
    epoch = now;
  }
  return tid;
}

std::uint32_t* lock_word(pthread_mutex_t& m) noexcept {
  return reinterpret_cast<std::uint32_t*>(&m.__data.__lock);
}

}  // namespace

mutex::mutex() : m_tag(0), m_owner_died(0) {
  if (int r = ::pthread_mutex_init(&m_native, &attributes()); r != 0) {
    throw std::system_error(r, std::system_category(), "seam::mutex: pthread_mutex_init");
  }
  __atomic_store_n(&m_tag, mutex_tag, __ATOMIC_RELEASE);
}

mutex::~mutex() {
  __atomic_store_n(&m_tag, 0u, __ATOMIC_RELAXED);
  ::pthread_mutex_destroy(&m_native);
}

bool mutex::plausible() const noexcept {
  if (__atomic_load_n(&m_tag, __ATOMIC_ACQUIRE) != mutex_tag) return false;
  if (__atomic_load_n(&m_native.__data.__kind, __ATOMIC_RELAXED) != expected_kind()) return false;
  const std::uint32_t word =
      __atomic_load_n(lock_word(const_cast<pthread_mutex_t&>(m_native)), __ATOMIC_RELAXED);
  return (word & tid_mask) <= max_tid;
}

bool mutex::acquired(int result, std::error_code& ec) noexcept {
  switch (result) {
    case 0:
      m_owner_died = 0;
      ec.clear();
      return true;
    case EOWNERDEAD:
      // Consistent at once: the guard tells the caller, and whatever the caller does next
      // (even dying too), later lockers see an ordinary mutex, not ENOTRECOVERABLE.
      if (::pthread_mutex_consistent(&m_native) != 0) {
        ::pthread_mutex_unlock(&m_native);  // not ours to keep: left unrecoverable
        ec = errc::corrupt_arena;
        return false;
      }
      m_owner_died = 1;
      ec.clear();
      return true;
    case EBUSY:
    case ETIMEDOUT:
      ec.clear();
      return false;
    case EDEADLK:
      ec = std::make_error_code(std::errc::resource_deadlock_would_occur);
      return false;
    default:  // ENOTRECOVERABLE (someone unlocked a dead owner's mutex unrepaired), EINVAL
      ec = errc::corrupt_arena;
      return false;
  }
}

// A lock word naming a thread that no longer exists, without the kernel's owner-died mark:
// garbage, or a holder whose robust list the kernel could not walk. Marks it as the kernel
// would have (waiters bit kept), so the next attempt gets EOWNERDEAD. Returns true if the
// word is worth another attempt now.
bool mutex::take_over_if_orphaned() noexcept {
  std::uint32_t* word = lock_word(m_native);
  std::uint32_t w = __atomic_load_n(word, __ATOMIC_ACQUIRE);
  const std::uint32_t tid = w & tid_mask;
  if (tid == 0 || (w & owner_died_bit) != 0) return true;
  if (::kill(static_cast<pid_t>(tid), 0) == 0 || errno != ESRCH) return false;  // alive
  __atomic_compare_exchange_n(word, &w, (w & waiters_bit) | owner_died_bit, false, __ATOMIC_ACQ_REL,
                              __ATOMIC_RELAXED);
  return true;  // marked by us, or changed meanwhile: either way, try again
}

bool mutex::acquire(const std::chrono::steady_clock::time_point* deadline,
                    std::error_code& ec) noexcept {
  if (!plausible()) {
    ec = errc::corrupt_arena;
    return false;
  }
  int r = ::pthread_mutex_trylock(&m_native);
  if (r != EBUSY) return acquired(r, ec);
  for (;;) {
    std::chrono::steady_clock::duration wait = orphan_check_interval;
    if (deadline != nullptr) {
      wait = std::min(wait, *deadline - std::chrono::steady_clock::now());
      if (wait < std::chrono::steady_clock::duration::zero()) wait = {};
    }
    r = timed_lock(m_native, wait);
#ifdef SEAM_MUTEX_WAIT_ON_REALTIME
    // TSan's pthread_mutex_timedlock records a plain success only, not a dead owner's lock.
    // An annotated lock is a pre/post pair: a lone post_lock trips gcc 12 TSan's own check.
    if (r == EOWNERDEAD) {
      __tsan_mutex_pre_lock(&m_native, __tsan_mutex_try_lock);
      __tsan_mutex_post_lock(&m_native, __tsan_mutex_try_lock, 0);
    }
#endif
    if (r != ETIMEDOUT) return acquired(r, ec);
    if (!plausible()) {
      ec = errc::corrupt_arena;
      return false;
    }
    if (take_over_if_orphaned()) {
      r = ::pthread_mutex_trylock(&m_native);
      if (r != EBUSY) return acquired(r, ec);
    }
    if (deadline != nullptr && std::chrono::steady_clock::now() >= *deadline) {
      ec.clear();
      return false;
    }
  }
}

void mutex::lock() {
  std::error_code ec;
  lock(ec);
  throw_if(ec, "seam::mutex::lock");
}

void mutex::lock(std::error_code& ec) noexcept { acquire(nullptr, ec); }

bool mutex::try_lock() {
  std::error_code ec;
  const bool locked = try_lock(ec);
  throw_if(ec, "seam::mutex::try_lock");
  return locked;
}

bool mutex::try_lock(std::error_code& ec) noexcept {
  if (!plausible()) {
    ec = errc::corrupt_arena;
    return false;
  }
  return acquired(::pthread_mutex_trylock(&m_native), ec);
}

bool mutex::try_lock_until(std::chrono::steady_clock::time_point deadline) {
  std::error_code ec;
  const bool locked = try_lock_until(deadline, ec);
  throw_if(ec, "seam::mutex::try_lock_for");
  return locked;
}

bool mutex::try_lock_until(std::chrono::steady_clock::time_point deadline,
                           std::error_code& ec) noexcept {
  return acquire(&deadline, ec);
}

void mutex::unlock() noexcept {
  std::error_code ignored;
  unlock(ignored);
}

void mutex::unlock(std::error_code& ec) noexcept {
  // glibc writes the holder's id both in the lock word and in __owner, and unlinks the mutex
  // from the holder thread's robust list on unlock. A peer that wrote over a held mutex
  // rarely keeps both ids; with a changed kind glibc's unlock would take another path, and
  // with a changed id it would refuse and leave the mutex linked in this thread's list (whose
  // later updates would write into it, even once it is freed). So: if either id still names
  // this thread, put the words glibc checks back and unlock; report it either way.
  std::uint32_t* word = lock_word(m_native);
  std::uint32_t w = __atomic_load_n(word, __ATOMIC_RELAXED);
  const auto owner = static_cast<std::uint32_t>(m_native.__data.__owner);
  const std::uint32_t self = this_thread_id();
  const bool intact = plausible();
  if (intact && (w & tid_mask) == self && owner == self) {
    // m_owner_died stays: each acquisition writes it, and only the holder reads it.
    const int r = ::pthread_mutex_unlock(&m_native);
    ec = r == 0 ? std::error_code{} : std::error_code(r, std::generic_category());
    return;
  }
  if ((w & tid_mask) != self && owner != self) {
    // Not held by this thread (a caller's bug), or overwritten beyond recognition.
    ec = intact ? std::make_error_code(std::errc::operation_not_permitted)
                : std::error_code(errc::corrupt_arena);
    return;
  }
  m_native.__data.__kind = expected_kind();
  m_native.__data.__owner = static_cast<int>(self);
  while (!__atomic_compare_exchange_n(word, &w, self | (w & waiters_bit), true, __ATOMIC_ACQ_REL,
                                      __ATOMIC_RELAXED)) {
  }
  __atomic_store_n(&m_tag, mutex_tag, __ATOMIC_RELEASE);
  ::pthread_mutex_unlock(&m_native);
  ec = errc::corrupt_arena;
}

bool mutex::previous_owner_died() const noexcept {
  return __atomic_load_n(&m_owner_died, __ATOMIC_RELAXED) != 0;
}

}  // namespace seam
