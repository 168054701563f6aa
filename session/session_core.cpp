#include "session/detail/session_core.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "seam/session/error.hpp"
#include "session/detail/handshake.hpp"
#include "session/detail/protocol.hpp"
#include "session/detail/view_cache.hpp"

namespace seam::detail {

session_core::session_core(unique_fd socket, std::unique_ptr<seam::arena> own, arena_view peer,
                           pid_t pid, uid_t uid, const session_options& options)
    : m_socket(std::move(socket)),
      m_arena(std::move(own)),
      m_peer_pid(pid),
      m_peer_uid(uid),
      m_options(options) {
  m_peer_views.push_back(std::make_shared<const arena_view>(std::move(peer)));
  m_lendable.push_back(m_arena.get());
}

session_core::~session_core() { stop(); }

void session_core::stop() noexcept {
  close(std::make_error_code(std::errc::operation_canceled));
  // close() left without waiting: a callback of this session (on_close, a release) may still
  // run on the reactor thread. Wait for it: none runs after the session is destroyed.
  leave_reactor(true);
}

void session_core::start() {
  std::error_code ec;
  reactor* r = reactor::instance(ec);
  throw_if(ec, "seam::session: reactor");
  std::lock_guard lock(m_mutex);
  if (!m_open) return;
  m_reactor = r;
  const std::uint64_t id = r->add(m_socket.get(), shared_from_this(), ec);
  throw_if(ec, "seam::session: epoll");
  m_reactor_id.store(id, std::memory_order_release);
}

void session_core::leave_reactor(bool wait) noexcept {
  // Idempotent: a second call finds nothing to remove, but may still wait for a callback.
  const std::uint64_t id = m_reactor_id.load(std::memory_order_acquire);
  if (id != 0) m_reactor->remove(id, m_socket.get(), wait);
}

void session_core::close(std::error_code reason) noexcept {
  std::unordered_map<handle<std::byte>, lend_entry, key_hash> lends;
  std::function<void(std::error_code)> callback;
  std::vector<std::pair<std::uint64_t, std::function<void()>>> hooks;
  {
    std::lock_guard lock(m_mutex);
    if (!m_open) return;
    m_open = false;
    m_reason = reason;
    lends.swap(m_lends);
    m_channels.clear();
    m_in_band.clear();  // the peer's close releases what they name
    m_in_band_count.store(0, std::memory_order_relaxed);
    callback = std::move(m_on_close);
    hooks.swap(m_close_hooks);
  }
  // Transports first: their waiters wake now, as the peer's death is known.
  for (auto& [id, hook] : hooks) hook();
  // The peer sees EOF now, whatever state its reads are in.
  ::shutdown(m_socket.get(), SHUT_RDWR);
  m_changed.notify_all();
  // A shut socket is always readable: out of the reactor before it spins on it. No wait for a
  // callback in progress: the caller may hold what that callback needs (stop() waits).
  leave_reactor(false);
  for (auto& [h, entry] : lends) {
    if (entry.release) entry.release();
  }
  const bool freed = !lends.empty();
  lends.clear();  // what the releases captured (e.g. a message's segments) goes now too
  {
    std::lock_guard lock(m_mutex);
    if (freed) {
      for (seam::arena* a : m_lendable) a->flush_thread_cache();
    }
    // Zero only now, so that a zero count means the memory is back too.
    m_lent.store(0, std::memory_order_relaxed);
  }
  if (callback) callback(reason);
  {
    // Only now is the close complete: waiters see every lend released.
    std::lock_guard lock(m_mutex);
    m_closed = true;
  }
  m_changed.notify_all();
}

std::uint64_t session_core::watch_close(std::function<void()> hook) {
  std::unique_lock lock(m_mutex);
  if (!m_open) {
    lock.unlock();
    hook();
    return 0;
  }
  const std::uint64_t id = m_next_hook++;
  m_close_hooks.emplace_back(id, std::move(hook));
  return id;
}

void session_core::unwatch_close(std::uint64_t id) noexcept {
  std::lock_guard lock(m_mutex);
  std::erase_if(m_close_hooks, [id](const auto& h) { return h.first == id; });
}

bool session_core::is_open() const {
  std::lock_guard lock(m_mutex);
  return m_open;
}

std::error_code session_core::reason() const {
  std::lock_guard lock(m_mutex);
  return m_reason;
}

void session_core::on_close(std::function<void(std::error_code)> callback) {
  std::unique_lock lock(m_mutex);
  if (m_open) {
    m_on_close = std::move(callback);
    return;
  }
  const auto reason = m_reason;
  lock.unlock();
  callback(reason);
}

bool session_core::wait_closed(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(m_mutex);
  if (timeout.count() < 0) {
    m_changed.wait(lock, [&] { return m_closed; });
    return true;
  }
  return m_changed.wait_for(lock, timeout, [&] { return m_closed; });
}

std::error_code session_core::send(const packet& p) noexcept {
  std::lock_guard lock(m_send_mutex);
  return send_packet(m_socket.get(), p, std::chrono::seconds(10));
}

std::error_code session_core::share(seam::arena& a, access mode) noexcept {
  const bool writable = mode == access::read_write;
  {
    std::lock_guard lock(m_mutex);
    if (!m_open) return errc::peer_closed;
    auto& shared = writable ? m_shared_writable : m_lendable;
    if (std::find(shared.begin(), shared.end(), &a) != shared.end()) return {};
  }
  std::error_code ec;
  unique_fd fd = writable ? a.share_writable(ec) : a.share(ec);
  if (ec) return ec;
  try {
    if ((ec = send(writable ? encode_share_writable(fd.get()) : encode_share(fd.get())))) {
      return ec;
    }
    std::lock_guard lock(m_mutex);
    if (std::find(m_lendable.begin(), m_lendable.end(), &a) == m_lendable.end()) {
      m_lendable.push_back(&a);
    }
    if (writable) m_shared_writable.push_back(&a);
  } catch (const std::bad_alloc&) {
    return std::make_error_code(std::errc::not_enough_memory);
  }
  return {};
}

std::error_code session_core::take_writable(std::uint64_t arena_id,
                                            std::chrono::milliseconds timeout,
                                            unique_fd& out) noexcept {
  std::unique_lock lock(m_mutex);
  auto offered = [&] {
    return std::find_if(m_writable.begin(), m_writable.end(),
                        [&](const auto& w) { return arena_id == 0 || w.first == arena_id; });
  };
  if (auto ec = wait_ready(lock, timeout,
                           [&] { return offered() != m_writable.end() || !m_open; })) {
    return ec;
  }
  auto it = offered();
  if (it == m_writable.end()) return errc::peer_closed;
  out = std::move(it->second);
  m_writable.erase(it);
  return {};
}

std::error_code session_core::offer_channel(std::span<const std::byte> setup,
                                            std::span<const int> fds) noexcept {
  if (setup.empty() || setup.size() > max_channel_setup || fds.empty() || fds.size() > max_fds) {
    return std::make_error_code(std::errc::invalid_argument);
  }
  if (!is_open()) return errc::peer_closed;
  try {
    return send(encode_channel(setup, fds));
  } catch (const std::bad_alloc&) {
    return std::make_error_code(std::errc::not_enough_memory);
  }
}

std::error_code session_core::take_channel_offer(session::channel_offer& out,
                                                 std::chrono::milliseconds timeout) noexcept {
  std::unique_lock lock(m_mutex);
  if (auto ec = wait_ready(lock, timeout, [&] { return !m_channels.empty() || !m_open; })) {
    return ec;
  }
  if (m_channels.empty()) return errc::peer_closed;
  out = std::move(m_channels.front());
  m_channels.pop_front();
  return {};
}

handle<std::byte> session_core::lend(const void* p, std::size_t size, std::function<void()> release,
                                     bool counted) {
  std::lock_guard lock(m_mutex);
  if (!m_open) throw std::system_error(errc::peer_closed, "seam::session::lend");
  auto it = std::find_if(m_lendable.begin(), m_lendable.end(),
                         [&](seam::arena* a) { return a->contains(p, size); });
  if (it == m_lendable.end()) throw std::system_error(errc::not_in_arena, "seam::session::lend");
  if (counted && m_lent.load(std::memory_order_relaxed) >= m_options.max_lends) {
    throw std::system_error(errc::lend_limit, "seam::session::lend");
  }
  const handle<std::byte> h = (*it)->handle_of(static_cast<const std::byte*>(p));
  auto& entry = m_lends[h];
  if (entry.count++ == 0) {
    entry.release = std::move(release);
    entry.counted = counted;
  }
  if (entry.counted) m_lent.fetch_add(1, std::memory_order_relaxed);
  return h;
}

std::shared_ptr<const arena_view> session_core::peer_view(std::uint64_t arena_id) const {
  std::lock_guard lock(m_mutex);
  for (const auto& v : m_peer_views) {
    if (v->id() == arena_id) return v;
  }
  return nullptr;
}

std::size_t session_core::peer_views(
    std::array<const arena_view*, max_peer_arenas>& out) const noexcept {
  std::lock_guard lock(m_mutex);
  std::size_t n = 0;
  for (const auto& v : m_peer_views) out[n++] = v.get();  // at most max_peer_arenas
  return n;
}

const void* session_core::resolve(handle<std::byte> h, std::size_t size, std::size_t alignment,
                                  std::error_code& ec) const noexcept {
  std::lock_guard lock(m_mutex);
  for (const auto& v : m_peer_views) {
    if (v->id() != h.arena_id) continue;
    if (size > SIZE_MAX - alignment) return ec = errc::handle_out_of_range, nullptr;
    const std::byte* p = v->get(h, ec);
    if (ec) return nullptr;
    // The arena checked the first byte; the object must fit and be aligned too.
    if (!v->contains(p, size)) return ec = errc::handle_out_of_range, nullptr;
    if (reinterpret_cast<std::uintptr_t>(p) % alignment != 0) {
      return ec = errc::handle_misaligned, nullptr;
    }
    return p;
  }
  // The peer may also hand back handles into our own arenas: the same checks, by the arena.
  for (const seam::arena* a : m_lendable) {
    if (a->id() != h.arena_id) continue;
    // The offset is the peer's: compare it before any pointer arithmetic.
    if (h.offset >= a->capacity() || size > a->capacity() - h.offset) {
      return ec = errc::handle_out_of_range, nullptr;
    }
    try {
      const std::byte* p = a->get(h);
      if (reinterpret_cast<std::uintptr_t>(p) % alignment != 0) {
        return ec = errc::handle_misaligned, nullptr;
      }
      ec.clear();
      return p;
    } catch (const std::system_error& e) {
      return ec = e.code(), nullptr;
    }
  }
  return ec = errc::unknown_arena, nullptr;
}

namespace {
// Bounds of the releases queued for carriers (see release_carrier).
constexpr std::size_t max_in_band = 256;
constexpr std::chrono::milliseconds max_in_band_age(1);
}  // namespace

void session_core::queue_release(handle<std::byte> h) noexcept {
  bool first = false;
  {
    std::lock_guard lock(m_mutex);
    if (!m_open) return;
    try {
      if (m_awake_carriers != 0) {
        // A carrier takes it with its next message, unless the queue is long or old.
        const auto now = std::chrono::steady_clock::now();
        if (m_in_band.empty()) m_in_band_since = now;
        m_in_band.push_back(h);
        if (m_in_band.size() < max_in_band && now - m_in_band_since < max_in_band_age) {
          m_in_band_count.store(m_in_band.size(), std::memory_order_relaxed);
          return;
        }
        first = spill_in_band();
      } else {
        first = m_releases.empty();
        m_releases.push_back(h);
      }
    } catch (...) {
      return;  // out of memory: the lend stays until the session closes
    }
  }
  // One wake-up per batch: while the reactor has not drained the list, later releases join it.
  if (first) post_releases();
}

bool session_core::spill_in_band() {
  const bool first = m_releases.empty();
  m_releases.insert(m_releases.end(), m_in_band.begin(), m_in_band.end());
  m_in_band.clear();
  m_in_band_count.store(0, std::memory_order_relaxed);
  return first;
}

void session_core::post_releases() noexcept {
  if (m_reactor == nullptr) return;
  const std::uint64_t id = m_reactor_id.load(std::memory_order_acquire);
  if (id != 0) m_reactor->post(id);
}

void session_core::carrier_awake(bool awake) noexcept {
  bool first = false;
  {
    std::lock_guard lock(m_mutex);
    if (awake) {
      ++m_awake_carriers;
      return;
    }
    --m_awake_carriers;
    if (!m_open || m_in_band.empty()) return;
    // A carrier goes to sleep: it will not send soon, so nothing queued for carriers waits.
    try {
      first = spill_in_band();
    } catch (...) {
      return;  // out of memory: the lends stay until the session closes
    }
  }
  if (first) post_releases();
}

std::size_t session_core::take_in_band(std::span<handle<std::byte>> out) noexcept {
  if (m_in_band_count.load(std::memory_order_relaxed) == 0) return 0;
  std::lock_guard lock(m_mutex);
  const std::size_t n = std::min(out.size(), m_in_band.size());
  std::copy_n(m_in_band.begin(), n, out.begin());
  m_in_band.erase(m_in_band.begin(), m_in_band.begin() + static_cast<std::ptrdiff_t>(n));
  m_in_band_count.store(m_in_band.size(), std::memory_order_relaxed);
  return n;
}

bool session_core::release_in_band(std::span<const handle<std::byte>> handles) noexcept {
  try {
    // Read after the session closed (the peer died with its message in the ring): the close
    // released every lend already, and took them out of the table with the same lock.
    return release(handles, false) || !is_open();
  } catch (...) {
    return false;  // out of memory collecting the callbacks: treated as a broken message
  }
}

std::error_code session_core::queue_control(packet p) noexcept {
  try {
    std::lock_guard lock(m_mutex);
    if (m_replies.size() >= max_queued_replies) return errc::protocol_error;
    m_replies.push_back(std::move(p));
  } catch (const std::bad_alloc&) {
    return std::make_error_code(std::errc::not_enough_memory);
  }
  return flush_releases();
}

std::error_code session_core::flush_releases() noexcept {
  std::vector<handle<std::byte>> batch;
  std::deque<packet> replies;
  {
    std::lock_guard lock(m_mutex);
    batch.swap(m_releases);
    replies.swap(m_replies);
  }
  std::size_t sent = 0;
  std::error_code ec;
  // Another thread sending on the socket (a share, a channel) may wait there for room: never
  // wait behind it on the reactor thread. EPOLLOUT brings us back.
  std::unique_lock send_lock(m_send_mutex, std::try_to_lock);
  if (!send_lock) ec = errc::would_block;
  while (!ec && !replies.empty()) {
    ec = send_packet(m_socket.get(), replies.front(), timeout{0});
    if (!ec) replies.pop_front();
  }
  while (!ec && sent < batch.size()) {
    const std::size_t n = std::min(max_release_handles, batch.size() - sent);
    try {
      ec = send_packet(m_socket.get(), encode_release({batch.data() + sent, n}), timeout{0});
    } catch (const std::bad_alloc&) {
      return std::make_error_code(std::errc::not_enough_memory);
    }
    if (!ec) sent += n;
  }
  if (send_lock) send_lock.unlock();
  if (ec && ec != errc::would_block) return ec;
  const bool rest = sent < batch.size() || !replies.empty();
  if (rest) {
    // The socket is full: keep the rest, in order, ahead of what was queued meanwhile.
    try {
      std::lock_guard lock(m_mutex);
      m_releases.insert(m_releases.begin(), batch.begin() + static_cast<std::ptrdiff_t>(sent),
                        batch.end());
      m_replies.insert(m_replies.begin(), std::make_move_iterator(replies.begin()),
                       std::make_move_iterator(replies.end()));
    } catch (const std::bad_alloc&) {
      return std::make_error_code(std::errc::not_enough_memory);
    }
  }
  if (rest != m_want_write) {
    m_want_write = rest;
    m_reactor->want_write(m_reactor_id.load(std::memory_order_relaxed), m_socket.get(), rest);
  }
  return {};
}

std::error_code session_core::dispatch(frame& f) {
  // The peer gave up right after the handshake (it hit a limit mapping our arena): its reason
  // closes the session, so that this side names the cause too.
  if (f.kind == frame_kind::refuse) return decode_refuse(f);
  control c;
  if (auto ec = decode_control(f, c)) return ec;
  switch (c.kind) {
    case frame_kind::channel: {
      try {
        std::lock_guard lock(m_mutex);
        // A peer that opens channels nobody accepts would fill our descriptor table.
        if (m_channels.size() >= max_pending_channels) return errc::protocol_error;
        m_channels.push_back({{c.setup.begin(), c.setup.end()}, std::move(c.fds)});
      } catch (const std::bad_alloc&) {
        return std::make_error_code(std::errc::not_enough_memory);
      }
      m_changed.notify_all();
      return {};
    }
    case frame_kind::share_writable: {
      // Checked as a view would check it (sealed, a Seam arena); `attach` checks it again.
      // Mapped once per process, like a read-only share.
      std::error_code ec;
      auto view = map_shared(c.fds[0].get(), ec);
      if (ec) return ec;
      std::lock_guard lock(m_mutex);
      if (m_writable_offers >= max_peer_arenas) return errc::protocol_error;
      ++m_writable_offers;
      const bool known = std::any_of(m_peer_views.begin(), m_peer_views.end(),
                                     [&](const auto& v) { return v->id() == view->id(); });
      if (!known) {
        if (m_peer_views.size() >= max_peer_arenas) return errc::protocol_error;
        m_peer_views.push_back(view);
      }
      try {
        m_writable.emplace_back(view->id(), std::move(c.fds[0]));
      } catch (const std::bad_alloc&) {
        return std::make_error_code(std::errc::not_enough_memory);
      }
      m_changed.notify_all();
      return {};
    }
    case frame_kind::share: {
      std::error_code ec;
      auto view = map_shared(c.fds[0].get(), ec);
      if (ec) return ec;
      std::lock_guard lock(m_mutex);
      // Each view maps a whole arena: bound what a peer can make us map.
      if (m_peer_views.size() >= max_peer_arenas) return errc::protocol_error;
      for (const auto& v : m_peer_views) {
        if (v->id() == view->id()) return errc::protocol_error;
      }
      m_peer_views.push_back(std::move(view));
      return {};
    }
    case frame_kind::release:
      // Releasing what was never lent (or twice) is a broken or hostile peer.
      return release(c.handles) ? std::error_code() : std::error_code(errc::protocol_error);
    case frame_kind::subscribe:
    case frame_kind::subscribed:
    case frame_kind::unsubscribe:
      return dispatch_publication(c);
    default:
      return errc::protocol_error;
  }
}

bool session_core::release(std::span<const handle<std::byte>> handles, bool flush_caches) {
  std::vector<std::function<void()>> released;
  std::size_t counted = 0;
  bool valid = true;
  {
    std::lock_guard lock(m_mutex);
    for (const auto& h : handles) {
      auto it = m_lends.find(h);
      if (it == m_lends.end()) {
        valid = false;
        break;
      }
      if (it->second.counted) ++counted;
      if (--it->second.count == 0) {
        released.push_back(std::move(it->second.release));
        m_lends.erase(it);
      }
    }
  }
  for (auto& r : released) {
    if (r) r();
  }
  const bool freed = !released.empty();
  released.clear();  // what the releases captured (e.g. a message's segments) goes now too
  std::lock_guard lock(m_mutex);
  // Freed blocks would otherwise wait in this thread's caches, which rarely allocate (the
  // reactor's; a channel's receiving thread allocates, and a flush there would cost its
  // message microseconds).
  if (freed && flush_caches) {
    for (seam::arena* a : m_lendable) a->flush_thread_cache();
  }
  // Counted down last, so that a zero count means the memory is back too. (A close in
  // progress zeroes the count itself once it has released the rest.)
  if (m_open) m_lent.fetch_sub(counted, std::memory_order_relaxed);
  return valid;
}

void session_core::release_local(handle<std::byte> h) {
  if (release({&h, 1})) return;
  // A close released every lend already (the peer died while our send failed): nothing to do.
  if (!is_open()) return;
  throw std::system_error(errc::not_in_arena, "seam::session::unlend: never lent");
}

void session_core::on_posted() noexcept {
  if (!is_open()) return;
  if (auto ec = flush_releases()) close(ec);
}

void session_core::on_ready(std::uint32_t events, std::span<std::byte> buffer) noexcept {
  if (!is_open()) return;
  if (events & EPOLLOUT) {
    if (auto ec = flush_releases()) return close(ec);
  }
  if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
  // A few packets per turn, so that a chatty peer does not starve the other sessions; the
  // socket stays readable and epoll brings us back for the rest.
  for (int i = 0; i < 16 && is_open(); ++i) {
    frame f;
    auto ec = receive_frame(m_socket.get(), f, buffer, timeout{0});
    if (ec == errc::would_block) return;
    if (!ec) ec = dispatch(f);
    // e.g. a channel's descriptor could not be installed: errc::descriptor_limit, not EMFILE.
    if (ec) return close(name_limit(ec));
  }
}

}  // namespace seam::detail
