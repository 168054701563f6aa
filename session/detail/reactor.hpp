#pragma once
// The one thread of a process that serves every session's control traffic: an epoll loop over
// the sessions' sockets. Threads no longer grow with sessions (one per session measured 1,001
// threads for 1,000 sessions); the price is that a callback run here (a lend's release,
// `on_close`) delays every other session while it runs, so those must not block.

#include <sys/types.h>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <vector>

#include "seam/base/unique_fd.hpp"

namespace seam::detail {

/// What the reactor serves: one socket and what to do when it is ready.
class reactor_client {
 public:
  virtual ~reactor_client() = default;
  /// On the reactor thread: the socket has `events` (EPOLLIN, EPOLLOUT, EPOLLHUP, EPOLLERR).
  /// `buffer` (`max_packet` bytes) is the reactor's, for one received packet at a time.
  virtual void on_ready(std::uint32_t events, std::span<std::byte> buffer) noexcept = 0;
  /// On the reactor thread: after `reactor::post` for this client.
  virtual void on_posted() noexcept = 0;
};

/// The process's reactor: one thread, started with the first session and joined when the last
/// one is destroyed (so that a process without sessions has no thread of Seam's, e.g. when it
/// forks). Its epoll and eventfd stay for the process's life. Thread-safe. In a forked child
/// the parent's reactor is left alone (its thread does not exist there) and a new one starts
/// on first use.
class reactor {
 public:
  /// The reactor of this process, started on first use; null if it cannot start (`ec` says
  /// why: EMFILE for its epoll and eventfd, or the thread's EAGAIN).
  static reactor* instance(std::error_code& ec) noexcept;

  /// Watches `fd` for input on behalf of `client` (held until `remove`); returns its id (0 on
  /// failure, `ec` set).
  std::uint64_t add(int fd, std::shared_ptr<reactor_client> client, std::error_code& ec) noexcept;
  /// Also (or no longer) wakes `id` when its socket has room to send.
  void want_write(std::uint64_t id, int fd, bool on) noexcept;
  /// Stops watching `id` (again: harmless). With `wait`, unless called on the reactor thread,
  /// also waits for a callback of `id` in progress to return, so that none runs after this,
  /// and joins the thread if no client is left. Drops the reactor's reference last.
  void remove(std::uint64_t id, int fd, bool wait) noexcept;
  /// Runs `on_posted` of `id` on the reactor thread soon.
  void post(std::uint64_t id) noexcept;
  /// True on the reactor thread.
  bool on_thread() const noexcept { return std::this_thread::get_id() == m_thread_id; }

 private:
  reactor() = default;
  bool start(std::error_code& ec) noexcept;
  /// Starts the thread if it is not running (under m_mutex).
  bool run_thread(std::error_code& ec) noexcept;
  void run() noexcept;
  void wake() noexcept;
  void dispatch(std::uint64_t id, std::uint32_t events, bool posted) noexcept;

  unique_fd m_epoll;
  unique_fd m_wake;  // eventfd: posts are waiting
  std::unique_ptr<std::byte[]> m_buffer;

  std::mutex m_mutex;
  std::condition_variable m_idle;  // a callback returned, or the thread ended
  std::thread m_thread;            // runs while there are clients
  std::thread::id m_thread_id;     // of m_thread (read under m_mutex, or by the thread itself)
  bool m_running = false;          // m_thread is in its loop
  bool m_self_exit = false;        // the last session ended on the thread: it ends detached
  std::unordered_map<std::uint64_t, std::shared_ptr<reactor_client>> m_clients;
  std::vector<std::uint64_t> m_posted;
  std::uint64_t m_next_id = 1;
  std::uint64_t m_current = 0;  // the client whose callback runs now
};

}  // namespace seam::detail
