#include "session/detail/reactor.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <new>

#include "seam/session/wire.hpp"

namespace seam::detail {
namespace {

std::mutex g_start_mutex;
// The process's reactor and the process it was started in. Leaked on purpose: sessions may
// outlive static destructors, and a forked child must not touch the parent's (its mutex may
// be held by a thread that does not exist there).
reactor* g_reactor = nullptr;
pid_t g_reactor_pid = 0;

}  // namespace

reactor* reactor::instance(std::error_code& ec) noexcept {
  std::lock_guard lock(g_start_mutex);
  if (g_reactor != nullptr && g_reactor_pid == ::getpid()) return g_reactor;
  auto* r = new (std::nothrow) reactor();
  if (r == nullptr) return ec = std::make_error_code(std::errc::not_enough_memory), nullptr;
  if (!r->start(ec)) {
    delete r;
    return nullptr;
  }
  g_reactor = r;
  g_reactor_pid = ::getpid();
  return r;
}

bool reactor::start(std::error_code& ec) noexcept {
  m_buffer.reset(new (std::nothrow) std::byte[max_packet]);
  if (!m_buffer) return ec = std::make_error_code(std::errc::not_enough_memory), false;
  m_epoll.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!m_epoll) return ec = {errno, std::system_category()}, false;
  m_wake.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!m_wake) return ec = {errno, std::system_category()}, false;
  epoll_event e{};
  e.events = EPOLLIN;
  e.data.u64 = 0;  // ids start at 1
  if (::epoll_ctl(m_epoll.get(), EPOLL_CTL_ADD, m_wake.get(), &e) != 0) {
    return ec = {errno, std::system_category()}, false;
  }
  ec.clear();
  return true;
}

bool reactor::run_thread(std::error_code& ec) noexcept {
  if (m_running) return true;
  // The last thread left its loop (no client was left): it ends without the lock.
  if (m_thread.joinable()) m_thread.join();
  try {
    m_thread = std::thread([this] { run(); });
  } catch (const std::system_error& e) {
    return ec = e.code(), false;
  }
  m_thread_id = m_thread.get_id();
  m_running = true;
  return true;
}

void reactor::wake() noexcept {
  const std::uint64_t one = 1;
  [[maybe_unused]] ssize_t r = ::write(m_wake.get(), &one, sizeof one);
}

std::uint64_t reactor::add(int fd, std::shared_ptr<reactor_client> client,
                           std::error_code& ec) noexcept {
  std::uint64_t id = 0;
  try {
    std::lock_guard lock(m_mutex);
    m_self_exit = false;
    if (!run_thread(ec)) return 0;
    id = m_next_id++;
    m_clients.emplace(id, std::move(client));
  } catch (const std::bad_alloc&) {
    return ec = std::make_error_code(std::errc::not_enough_memory), 0;
  }
  epoll_event e{};
  e.events = EPOLLIN;
  e.data.u64 = id;
  if (::epoll_ctl(m_epoll.get(), EPOLL_CTL_ADD, fd, &e) != 0) {
    ec = {errno, std::system_category()};
    std::shared_ptr<reactor_client> dropped;
    std::lock_guard lock(m_mutex);
    auto it = m_clients.find(id);
    if (it != m_clients.end()) {
      dropped = std::move(it->second);  // dropped after the lock: it may be the last reference
      m_clients.erase(it);
    }
    return 0;
  }
  ec.clear();
  return id;
}

void reactor::want_write(std::uint64_t id, int fd, bool on) noexcept {
  epoll_event e{};
  e.events = EPOLLIN | (on ? EPOLLOUT : 0u);
  e.data.u64 = id;
  ::epoll_ctl(m_epoll.get(), EPOLL_CTL_MOD, fd, &e);
}

void reactor::remove(std::uint64_t id, int fd, bool wait) noexcept {
  if (id == 0) return;
  std::shared_ptr<reactor_client> dropped;
  {
    std::unique_lock lock(m_mutex);
    auto it = m_clients.find(id);
    if (it != m_clients.end()) {
      dropped = std::move(it->second);
      m_clients.erase(it);
      ::epoll_ctl(m_epoll.get(), EPOLL_CTL_DEL, fd, nullptr);
    }
    if (wait && on_thread() && m_clients.empty()) {
      // The last session ends in a callback: nobody will join the thread, it ends detached.
      m_self_exit = true;
    } else if (wait && !on_thread()) {
      m_idle.wait(lock, [&] { return m_current != id; });
      if (m_clients.empty() && m_thread.joinable()) {
        // The last client: the thread leaves its loop once woken, and is joined here, so that
        // a process whose sessions are all gone has no thread left (fork then is safe).
        if (m_running) {
          wake();
          m_idle.wait(lock, [&] { return !m_running || !m_clients.empty(); });
        }
        if (!m_running && m_thread.joinable()) m_thread.join();
      }
    }
  }
  // `dropped` goes here, outside the lock: it may be the client's last reference.
}

void reactor::post(std::uint64_t id) noexcept {
  try {
    std::lock_guard lock(m_mutex);
    m_posted.push_back(id);
  } catch (const std::bad_alloc&) {
    return;  // the releases wait for the next post or the session's end
  }
  wake();
}

void reactor::dispatch(std::uint64_t id, std::uint32_t events, bool posted) noexcept {
  std::shared_ptr<reactor_client> client;
  {
    std::lock_guard lock(m_mutex);
    auto it = m_clients.find(id);
    if (it == m_clients.end()) return;  // removed since epoll reported it
    client = it->second;
    m_current = id;
  }
  if (posted) {
    client->on_posted();
  } else {
    client->on_ready(events, {m_buffer.get(), max_packet});
  }
  client.reset();  // may end the client here (its last session dropped in a callback)
  {
    std::lock_guard lock(m_mutex);
    m_current = 0;
  }
  m_idle.notify_all();
}

void reactor::run() noexcept {
  constexpr int batch = 256;
  epoll_event events[batch];
  std::vector<std::uint64_t> posted;
  for (;;) {
    {
      std::lock_guard lock(m_mutex);
      if (m_clients.empty() && m_posted.empty()) {
        // No session left: end (joined by the last remove, or by the next add).
        m_running = false;
        m_thread_id = {};  // a later thread may get this one's id
        // Nobody will join us (the last session was destroyed on this thread): end detached,
        // not as a thread nobody joins. Otherwise the last session's destruction joins us.
        if (m_self_exit) m_thread.detach();
        m_self_exit = false;
        m_idle.notify_all();
        return;
      }
    }
    const int n = ::epoll_wait(m_epoll.get(), events, batch, -1);
    if (n < 0) continue;  // EINTR
    for (int i = 0; i < n; ++i) {
      const std::uint64_t id = events[i].data.u64;
      if (id != 0) {
        dispatch(id, events[i].events, false);
        continue;
      }
      std::uint64_t count;
      [[maybe_unused]] ssize_t r = ::read(m_wake.get(), &count, sizeof count);
      {
        std::lock_guard lock(m_mutex);
        posted.swap(m_posted);
      }
      for (std::uint64_t p : posted) dispatch(p, 0, true);
      posted.clear();
    }
  }
}

}  // namespace seam::detail
