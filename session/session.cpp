#include "seam/session/session.hpp"

#include <utility>

#include "seam/session/error.hpp"
#include "session/detail/session_core.hpp"

namespace seam {

session::session() noexcept = default;
session::session(std::shared_ptr<detail::session_core> core) noexcept : m_core(std::move(core)) {}
session::session(session&&) noexcept = default;
session& session::operator=(session&& other) noexcept {
  if (this != &other) {
    if (m_core) m_core->stop();
    m_core = std::move(other.m_core);
  }
  return *this;
}
session::~session() {
  // Close and stop the thread now: borrow tokens and channels hold the core only weakly.
  if (m_core) m_core->stop();
}

namespace {
detail::session_core& core_of(const std::shared_ptr<detail::session_core>& core) {
  if (!core) throw std::system_error(errc::peer_closed, "seam::session: empty session");
  return *core;
}
}  // namespace

bool session::is_open() const noexcept { return m_core && m_core->is_open(); }
std::error_code session::close_reason() const {
  return m_core ? m_core->reason() : std::error_code(errc::peer_closed);
}
void session::on_close(std::function<void(std::error_code)> callback) {
  core_of(m_core).on_close(std::move(callback));
}
bool session::wait_closed(duration timeout) const { return core_of(m_core).wait_closed(timeout); }
void session::close() noexcept {
  if (m_core) m_core->close(std::make_error_code(std::errc::operation_canceled));
}
pid_t session::peer_pid() const noexcept { return m_core ? m_core->peer_pid() : -1; }
uid_t session::peer_uid() const noexcept {
  return m_core ? m_core->peer_uid() : static_cast<uid_t>(-1);
}
seam::arena& session::arena() const noexcept { return m_core->arena(); }
void session::share(seam::arena& a) { throw_if(core_of(m_core).share(a), "seam::session::share"); }
void session::share(seam::arena& a, std::error_code& ec) noexcept {
  ec = m_core ? m_core->share(a) : std::error_code(errc::peer_closed);
}

void session::share(seam::arena& a, access mode) {
  throw_if(core_of(m_core).share(a, mode), "seam::session::share");
}
void session::share(seam::arena& a, access mode, std::error_code& ec) noexcept {
  ec = m_core ? m_core->share(a, mode) : std::error_code(errc::peer_closed);
}

seam::arena session::attach(std::uint64_t arena_id, duration timeout) {
  unique_fd fd;
  throw_if(core_of(m_core).take_writable(arena_id, timeout, fd), "seam::session::attach");
  return seam::arena::attach(std::move(fd));
}

void session::offer_channel(std::span<const std::byte> setup, std::span<const int> fds,
                            std::error_code& ec) noexcept {
  ec = m_core ? m_core->offer_channel(setup, fds) : std::error_code(errc::peer_closed);
}

bool session::take_channel_offer(channel_offer& out, duration timeout,
                                 std::error_code& ec) noexcept {
  ec = m_core ? m_core->take_channel_offer(out, timeout) : std::error_code(errc::peer_closed);
  return !ec;
}

const void* session::resolve(handle<std::byte> h, std::size_t size, std::size_t alignment,
                             std::error_code& ec) const noexcept {
  if (!m_core) return ec = errc::peer_closed, nullptr;
  return m_core->resolve(h, size, alignment, ec);
}

std::shared_ptr<void> session::watch_close(std::function<void()> hook) {
  auto& core = core_of(m_core);
  const std::uint64_t id = core.watch_close(std::move(hook));
  std::weak_ptr<detail::session_core> weak = core.weak_from_this();
  // The token's deleter removes the hook, if the session is still there.
  return std::shared_ptr<void>(nullptr, [weak, id](void*) {
    if (auto c = weak.lock()) c->unwatch_close(id);
  });
}

std::shared_ptr<const void> session::keep_alive() const {
  return core_of(m_core).shared_from_this();
}

std::function<std::error_code(const handle<std::byte>&)> session::handle_checker() const {
  std::weak_ptr<detail::session_core> weak = core_of(m_core).weak_from_this();
  return [weak](const handle<std::byte>& h) {
    auto core = weak.lock();
    if (!core) return std::error_code(errc::peer_closed);
    std::error_code ec;
    core->resolve(h, 1, 1, ec);
    return ec;
  };
}
std::size_t session::lent_count() const noexcept { return m_core ? m_core->lent_count() : 0; }

handle<std::byte> session::lend_bytes(const void* p, std::size_t size,
                                      std::function<void()> release, bool counted) {
  return core_of(m_core).lend(p, size, std::move(release), counted);
}

std::shared_ptr<const arena_view> session::peer_arena(std::uint64_t arena_id) const {
  return core_of(m_core).peer_view(arena_id);
}

const void* session::find_named(std::string_view name, const detail::named_type& type,
                                std::error_code& ec) const noexcept {
  if (!m_core) {
    ec = errc::peer_closed;
    return nullptr;
  }
  std::array<const arena_view*, detail::session_core::max_peer_arenas> views{};
  const std::size_t count = m_core->peer_views(views);
  ec.clear();
  for (std::size_t i = 0; i < count; ++i) {
    const arena_view& v = *views[i];
    const void* p = detail::find_named(v.base(), v.size(), v.id(), name, type, ec);
    if (p != nullptr || ec) return p;
  }
  return nullptr;
}

void session::unlend_bytes(handle<std::byte> h) { core_of(m_core).release_local(h); }

namespace {

// What `borrow` checks and records, for a session's core (null once the session is gone).
std::shared_ptr<detail::borrow_token> borrow_in(detail::session_core* core, handle<std::byte> h,
                                                std::size_t size, std::size_t alignment,
                                                const void*& object, std::error_code& ec) noexcept {
  if (core == nullptr) return ec = errc::peer_closed, nullptr;
  object = core->resolve(h, size, alignment, ec);
  if (ec) return nullptr;
  auto view = core->peer_view(h.arena_id);
  // resolve also takes handles into our own arenas: those are not borrowed.
  if (!view) return ec = errc::unknown_arena, nullptr;
  try {
    auto token = std::make_shared<detail::borrow_token>();
    token->core = core->weak_from_this();
    token->lent = h;
    token->view = std::move(view);
    return token;
  } catch (const std::bad_alloc&) {
    ec = std::make_error_code(std::errc::not_enough_memory);
    return nullptr;
  }
}

}  // namespace

std::shared_ptr<detail::borrow_token> session::borrow_bytes(handle<std::byte> h, std::size_t size,
                                                            std::size_t alignment,
                                                            const void*& object,
                                                            std::error_code& ec) noexcept {
  return borrow_in(m_core.get(), h, size, alignment, object, ec);
}

std::function<borrowed<const std::byte>(handle<std::byte>, std::size_t, std::size_t,
                                        std::error_code&)>
session::borrower() const {
  std::weak_ptr<detail::session_core> weak = core_of(m_core).weak_from_this();
  return [weak](handle<std::byte> h, std::size_t size, std::size_t alignment,
                std::error_code& ec) -> borrowed<const std::byte> {
    const void* object = nullptr;
    auto token = borrow_in(weak.lock().get(), h, size, alignment, object, ec);
    if (ec) return {};
    return borrowed<const std::byte>(std::move(token), static_cast<const std::byte*>(object));
  };
}

seam::release_carrier session::release_carrier() const {
  return seam::release_carrier(core_of(m_core).shared_from_this());
}

release_carrier::release_carrier() noexcept = default;
release_carrier::release_carrier(std::shared_ptr<detail::session_core> core) noexcept
    : m_core(std::move(core)), m_queued(&m_core->in_band_count()) {}
release_carrier::release_carrier(release_carrier&& other) noexcept
    : m_core(std::move(other.m_core)),
      m_queued(std::exchange(other.m_queued, nullptr)),
      m_awake(std::exchange(other.m_awake, false)) {}
release_carrier::~release_carrier() { set_awake(false); }

void release_carrier::change_awake(bool awake) noexcept {
  if (!m_core) return;
  m_awake = awake;
  m_core->carrier_awake(awake);
}

std::size_t release_carrier::take_queued(std::span<handle<std::byte>> out) noexcept {
  return m_core->take_in_band(out);
}

bool release_carrier::apply(std::span<const handle<std::byte>> handles) noexcept {
  return m_core && m_core->release_in_band(handles);
}

const void* session::peer_object(std::uint64_t arena_id, std::uint64_t offset, std::size_t size,
                                 std::size_t alignment) const {
  std::error_code ec;
  const void* p = core_of(m_core).resolve({arena_id, offset}, size, alignment, ec);
  throw_if(ec, "seam::session::get");
  return p;
}

}  // namespace seam
