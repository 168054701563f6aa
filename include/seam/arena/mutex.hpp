#pragma once
/// \file
/// `seam::mutex`: a robust, process-shared mutex that lives in an arena, and its guard
/// `seam::mutex_guard`.

#include <pthread.h>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <system_error>
#include <utility>

#include "seam/base/export.hpp"

namespace seam {

/// A mutex in shared memory that every process mapping it writable may lock, and that survives
/// the death of its holder.
///
/// Place it in an arena (`arena.make<seam::mutex>()`, or as a member of an object made there,
/// e.g. `seam::synchronized<T>`). It is a pthread mutex, process-shared, robust and
/// error-checking: if the process (or thread) holding it dies, even by `SIGKILL`, the kernel
/// marks it, and the next `lock()` succeeds with `previous_owner_died()` true; the mutex is
/// made consistent again at once, so the application decides what to do about the data it
/// protects (check it, rebuild it), and later lockers see a plain mutex again. Meets the
/// standard's *TimedLockable* (`std::unique_lock<seam::mutex>` works, but loses
/// `previous_owner_died()`: prefer `seam::mutex_guard`).
///
/// Who may touch it: threads of any process that maps its arena writable (the owner, shared
/// writers, a forked child of the owner: a mutex needs no allocation). A read-only view
/// cannot lock it: locking writes the mutex, and a view's mapping is read-only (the kernel
/// refuses; the `const` objects a view hands out do not even offer `lock`). What a read-only
/// reader may assume: nothing about the data a mutex protects while a writer may be changing
/// it (it can see a half-done change); once writers have stopped (and told the reader so,
/// e.g. by a message), it reads consistent data. For consistent reads while the data keeps
/// changing, publish versions (`seam::published`) instead.
///
/// Bytes from other processes are untrusted, and so is this mutex (a buggy peer may have
/// written over it). Before calling into the C library it checks what can be checked — a tag
/// written by the constructor, the mutex kind, a lock word naming a possible thread — and a
/// mutex that fails reports `errc::corrupt_arena` instead of locking (never a crash). A lock
/// word that names no living thread (garbage, or a holder whose death the kernel could not
/// report) is taken over as a dead owner's: `lock()` checks the holder is alive every
/// `orphan_check_interval` and then succeeds with `previous_owner_died()`. One that names a
/// living thread looks held: `lock()` waits (bound it with `try_lock_for`). All processes
/// using one mutex must share a PID namespace (holders are told apart by thread id).
/// Garbage written over a mutex while this process holds it: `unlock()` notices a changed
/// tag, kind or holder id, puts back what glibc checks (if either of the two holder ids still
/// names this thread), unlocks and reports `errc::corrupt_arena`. Not defended: the C library
/// keeps a held robust mutex linked into the holder thread's list through two addresses
/// stored in the mutex itself, and follows them to unlink it; a peer that overwrites those
/// while this process holds the mutex can make this process write at a wrong address (or,
/// if both ids were overwritten too, leave the mutex linked). A process that can write the
/// arena is trusted not to do that, as it is trusted not to break the containers' links.
///
/// Not movable: its address is registered with the kernel while it is held. 48 bytes
/// (40 on glibc x86-64 for the pthread mutex); at most 64 bytes on every platform.
class SEAM_API mutex {
 public:
  /// How often a waiting `lock()` checks that the holder still lives.
  static constexpr std::chrono::milliseconds orphan_check_interval{500};

  /// An unlocked mutex. Throws `std::system_error` if the C library refuses (it does not on
  /// glibc).
  mutex();
  mutex(const mutex&) = delete;
  mutex& operator=(const mutex&) = delete;
  /// Destroys the mutex; its bytes no longer pass the checks (a later lock reports
  /// `errc::corrupt_arena`). Must not be held.
  ~mutex();

  /// Blocks until this thread holds the mutex. Throws `std::system_error`:
  /// `errc::corrupt_arena` (see the class comment), `std::errc::resource_deadlock_would_occur`
  /// if this thread holds it already.
  void lock();
  /// As `lock`, reporting errors in `ec` (cleared on success).
  void lock(std::error_code& ec) noexcept;
  /// Takes the mutex if no one holds it. Throws as `lock` (a mutex this thread holds:
  /// `resource_deadlock_would_occur`).
  bool try_lock();
  /// As `try_lock`, reporting errors in `ec` (false then).
  bool try_lock(std::error_code& ec) noexcept;
  /// Waits up to `timeout` for the mutex; false if it stayed held. Throws as `lock`.
  template <class Rep, class Period>
  bool try_lock_for(const std::chrono::duration<Rep, Period>& timeout) {
    return try_lock_until(std::chrono::steady_clock::now() + ceil_to_steady(timeout));
  }
  /// As `try_lock_for`, reporting errors in `ec` (false then).
  template <class Rep, class Period>
  bool try_lock_for(const std::chrono::duration<Rep, Period>& timeout,
                    std::error_code& ec) noexcept {
    return try_lock_until(std::chrono::steady_clock::now() + ceil_to_steady(timeout), ec);
  }
  /// Waits until `deadline` for the mutex; false if it stayed held. Throws as `lock`.
  bool try_lock_until(std::chrono::steady_clock::time_point deadline);
  /// As `try_lock_until`, reporting errors in `ec` (false then).
  bool try_lock_until(std::chrono::steady_clock::time_point deadline, std::error_code& ec) noexcept;
  /// Releases the mutex, which this thread must hold. Errors are ignored (see the other form).
  void unlock() noexcept;
  /// Releases the mutex. Reports `std::errc::operation_not_permitted` if this thread does not
  /// hold it, `errc::corrupt_arena` if its bytes were overwritten while held (released
  /// anyway when they still show this thread as the holder; see the class comment).
  void unlock(std::error_code& ec) noexcept;

  /// For the holder: true if, when this thread took the mutex, its previous holder had died
  /// holding it (the data it protects may be half changed). Meaningless when not held.
  bool previous_owner_died() const noexcept;

 private:
  template <class Rep, class Period>
  static std::chrono::steady_clock::duration ceil_to_steady(
      const std::chrono::duration<Rep, Period>& d) {
    return std::chrono::ceil<std::chrono::steady_clock::duration>(d);
  }
  bool acquire(const std::chrono::steady_clock::time_point* deadline, std::error_code& ec) noexcept;
  bool acquired(int result, std::error_code& ec) noexcept;
  bool take_over_if_orphaned() noexcept;
  bool plausible() const noexcept;

  std::uint32_t m_tag;         // `mutex_tag` while constructed
  std::uint32_t m_owner_died;  // written by the holder: its acquisition found the owner dead
  pthread_mutex_t m_native;
};

/// Holds a `seam::mutex` for a scope, and says whether its previous owner died.
///
/// Like `std::unique_lock`: movable, may be empty (a failed `try_lock`), may `unlock` early.
/// Lives in the memory of the thread that locked (a local variable); use on that thread only.
class mutex_guard {
 public:
  /// Empty: holds nothing.
  mutex_guard() noexcept = default;
  /// Locks `m` (`m.lock()`; throws as it does).
  explicit mutex_guard(mutex& m) : m_mutex(&m) {
    m.lock();
    adopt();
  }
  /// Tries to lock `m`; `owns_lock()` says whether it did. Throws as `m.try_lock()`.
  mutex_guard(mutex& m, std::try_to_lock_t) : m_mutex(&m) {
    if (m.try_lock()) adopt();
  }
  /// Waits up to `timeout` to lock `m`; `owns_lock()` says whether it did. Throws as
  /// `m.try_lock_for()`.
  template <class Rep, class Period>
  mutex_guard(mutex& m, const std::chrono::duration<Rep, Period>& timeout) : m_mutex(&m) {
    if (m.try_lock_for(timeout)) adopt();
  }
  /// Takes over `m`, which this thread has just locked.
  mutex_guard(mutex& m, std::adopt_lock_t) noexcept : m_mutex(&m) { adopt(); }
  /// Takes over what `other` holds; `other` becomes empty.
  mutex_guard(mutex_guard&& other) noexcept
      : m_mutex(std::exchange(other.m_mutex, nullptr)),
        m_owns(std::exchange(other.m_owns, false)),
        m_owner_died(std::exchange(other.m_owner_died, false)) {}
  /// Unlocks what this guard holds, then takes over what `other` holds.
  mutex_guard& operator=(mutex_guard&& other) noexcept {
    if (this != &other) {
      unlock();
      m_mutex = std::exchange(other.m_mutex, nullptr);
      m_owns = std::exchange(other.m_owns, false);
      m_owner_died = std::exchange(other.m_owner_died, false);
    }
    return *this;
  }
  /// Unlocks if held.
  ~mutex_guard() { unlock(); }

  /// True if the guard holds its mutex.
  bool owns_lock() const noexcept { return m_owns; }
  /// `owns_lock()`.
  explicit operator bool() const noexcept { return m_owns; }
  /// True if the holder before this one died holding the mutex: what it protects may be half
  /// changed. The mutex itself is consistent again.
  bool previous_owner_died() const noexcept { return m_owner_died; }
  /// Unlocks now (if held).
  void unlock() noexcept {
    if (m_owns) m_mutex->unlock();
    m_owns = false;
  }
  /// The mutex, or nullptr for an empty guard.
  mutex* get_mutex() const noexcept { return m_mutex; }

 private:
  void adopt() noexcept {
    m_owns = true;
    m_owner_died = m_mutex->previous_owner_died();
  }

  mutex* m_mutex = nullptr;
  bool m_owns = false;
  bool m_owner_died = false;
};

}  // namespace seam
