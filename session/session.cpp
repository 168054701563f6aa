#include "seam/session/session.hpp"

#include "seam/arena/error.hpp"
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
void session::share(seam::arena& a) { core_of(m_core).share(a); }
channel session::open_channel() { return core_of(m_core).open_channel(); }
channel session::accept_channel(duration timeout) {
  return core_of(m_core).accept_channel(timeout);
}
std::size_t session::lent_count() const noexcept { return m_core ? m_core->lent_count() : 0; }

handle<std::byte> session::lend_bytes(const void* p, std::size_t size,
                                      std::function<void()> release) {
  return core_of(m_core).lend(p, size, std::move(release));
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

std::shared_ptr<detail::borrow_token> session::borrow_bytes(std::uint64_t arena_id,
                                                            std::uint64_t offset, std::size_t size,
                                                            std::size_t alignment,
                                                            const void*& object) {
  auto& core = core_of(m_core);
  object = peer_object(arena_id, offset, size, alignment);
  auto token = std::make_shared<detail::borrow_token>();
  token->core = core.weak_from_this();
  token->lent = {arena_id, offset};
  token->view = core.peer_view(arena_id);
  return token;
}

const void* session::peer_object(std::uint64_t arena_id, std::uint64_t offset, std::size_t size,
                                 std::size_t alignment) const {
  auto view = core_of(m_core).peer_view(arena_id);
  if (!view) throw std::system_error(errc::unknown_arena, "seam::session::borrow");
  const std::byte* p = view->get(handle<std::byte>{arena_id, offset}, size).data();
  if (reinterpret_cast<std::uintptr_t>(p) % alignment != 0) {
    throw std::system_error(errc::handle_misaligned, "seam::session::borrow");
  }
  return p;
}

}  // namespace seam
