#pragma once
/// \file
/// `seam::synchronized<T>`: a `T` and the `seam::mutex` that guards it, in an arena; and
/// `seam::locked_ptr<T>`, the access a lock gives.

#include <chrono>
#include <concepts>
#include <mutex>
#include <system_error>
#include <utility>

#include "seam/arena/mutex.hpp"

namespace seam {

template <class T>
class synchronized;

/// Access to the value of a `seam::synchronized<T>` while its mutex is held; unlocks when
/// destroyed. `locked->insert(…)`, `*locked`, `locked.previous_owner_died()`.
///
/// May be empty (a `try_lock` that found the value held): test it with `if (locked)` before
/// use. Movable; a local variable of the thread that locked, used on that thread only.
template <class T>
class locked_ptr {
 public:
  /// Empty: holds nothing.
  locked_ptr() noexcept = default;

  /// The value; the pointer must not be empty.
  T* operator->() const noexcept { return m_value; }
  /// The value; the pointer must not be empty.
  T& operator*() const noexcept { return *m_value; }
  /// The value, or nullptr if empty.
  T* get() const noexcept { return m_value; }
  /// True if the lock is held (and the value accessible).
  explicit operator bool() const noexcept { return m_guard.owns_lock(); }
  /// True if the lock is held.
  bool owns_lock() const noexcept { return m_guard.owns_lock(); }
  /// True if the previous holder died holding the lock: the value may be half changed (an
  /// insert cut in the middle); check or rebuild it before trusting it.
  bool previous_owner_died() const noexcept { return m_guard.previous_owner_died(); }
  /// Unlocks now; the pointer becomes empty.
  void unlock() noexcept {
    m_guard.unlock();
    m_value = nullptr;
  }

 private:
  friend class synchronized<T>;
  locked_ptr(mutex_guard guard, T* value) noexcept
      : m_guard(std::move(guard)), m_value(m_guard ? value : nullptr) {}

  mutex_guard m_guard;
  T* m_value = nullptr;
};

/// A `T` that processes change only under its own robust, process-shared mutex.
///
/// Placed in an arena like any object: `auto* table =
/// arena.make<seam::synchronized<seam::map<int, int>>>();` or `make_named`, then in any
/// process that maps the arena writable: `auto locked = table->lock(); locked->insert(…);`.
/// `T`'s constructor arguments are `synchronized`'s. `seam::shm_safe` judges it by `T`.
///
/// If a holder dies (even by `SIGKILL`), the next lock succeeds and its
/// `previous_owner_died()` is true: the value may be half changed. Errors of the mutex (a
/// corrupt one: `errc::corrupt_arena`; see `seam::mutex`) are `std::system_error`, or an
/// empty `locked_ptr` and `ec` in the `error_code` forms.
///
/// A read-only view cannot lock (it gets `const` objects, and locking writes): what it may
/// read without the lock is said under `seam::mutex`; `unsafe_get()` is that access.
/// Not movable (neither is its mutex); destroying it while held is an error.
template <class T>
class synchronized {
 public:
  /// The guarded type.
  using value_type = T;

  /// Constructs the value from `args` (with the arena's scope active, as `arena::make` does,
  /// containers inside `T` allocate in the arena).
  template <class... Args>
  requires std::constructible_from<T, Args...>
  explicit synchronized(Args&&... args) : m_value(std::forward<Args>(args)...) {}
  synchronized(const synchronized&) = delete;
  synchronized& operator=(const synchronized&) = delete;

  /// Waits for the lock (see `seam::mutex::lock`; throws as it does).
  locked_ptr<T> lock() { return {mutex_guard(m_mutex), &m_value}; }
  /// As `lock`; on error sets `ec` and returns an empty pointer.
  locked_ptr<T> lock(std::error_code& ec) noexcept {
    m_mutex.lock(ec);
    if (ec) return {};
    return {mutex_guard(m_mutex, std::adopt_lock), &m_value};
  }
  /// The lock if free now, else an empty pointer. Throws as `seam::mutex::try_lock`.
  locked_ptr<T> try_lock() { return {mutex_guard(m_mutex, std::try_to_lock), &m_value}; }
  /// As `try_lock`; on error sets `ec` and returns an empty pointer.
  locked_ptr<T> try_lock(std::error_code& ec) noexcept {
    if (!m_mutex.try_lock(ec)) return {};
    return {mutex_guard(m_mutex, std::adopt_lock), &m_value};
  }
  /// Waits up to `timeout` for the lock; an empty pointer if it stayed held. Throws as
  /// `seam::mutex::try_lock_for`.
  template <class Rep, class Period>
  locked_ptr<T> try_lock_for(const std::chrono::duration<Rep, Period>& timeout) {
    return {mutex_guard(m_mutex, timeout), &m_value};
  }
  /// As `try_lock_for`; on error sets `ec` and returns an empty pointer.
  template <class Rep, class Period>
  locked_ptr<T> try_lock_for(const std::chrono::duration<Rep, Period>& timeout,
                             std::error_code& ec) noexcept {
    if (!m_mutex.try_lock_for(timeout, ec)) return {};
    return {mutex_guard(m_mutex, std::adopt_lock), &m_value};
  }

  /// The value without the lock: for a process that knows no one else changes it (before it
  /// is shared, after writers stopped) and for read-only views.
  T& unsafe_get() noexcept { return m_value; }
  /// The value without the lock (see the other form).
  const T& unsafe_get() const noexcept { return m_value; }
  /// The mutex, for use with `seam::mutex_guard` or the standard's lock types.
  seam::mutex& get_mutex() noexcept { return m_mutex; }

 private:
  seam::mutex m_mutex;
  T m_value;
};

}  // namespace seam
