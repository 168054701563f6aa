#include "seam/arena/arena_view.hpp"

#include <string>
#include <utility>

#include "arena/detail/layout.hpp"
#include "arena/detail/os.hpp"
#include "arena/detail/stats_page.hpp"

namespace seam {

arena_view arena_view::open(int fd) {
  std::error_code ec;
  arena_view view = open(fd, ec);
  throw_if(ec, "seam::arena_view::open");
  return view;
}

arena_view arena_view::open(int fd, std::error_code& ec) noexcept {
  arena_view view;
  const long long size = detail::file_size(fd, ec);
  if (ec) return view;
  // An unsealed file could be shrunk under us (SIGBUS on the next read): refuse it.
  if (!detail::is_sealed(fd) || size < static_cast<long long>(detail::header_bytes)) {
    ec = errc::bad_arena;
    return view;
  }
  void* p = detail::map_aligned(fd, static_cast<std::size_t>(size), false, ec);
  if (ec) {
    std::string what;  // the exception-free form has only the code to give
    ec = detail::explain_map_failure(ec, static_cast<std::size_t>(size), what);
    return view;
  }
  view.m_base = static_cast<const std::byte*>(p);
  view.m_size = static_cast<std::size_t>(size);
  const auto& header = *reinterpret_cast<const detail::arena_header*>(p);
  if (header.magic != detail::arena_magic || header.version != detail::arena_version ||
      header.header_size != detail::header_bytes || header.capacity != view.m_size) {
    ec = errc::bad_arena;
    return arena_view{};  // `view` unmaps on the way out
  }
  view.m_id = header.id;
  ec.clear();
  return view;
}

arena_view::arena_view(arena_view&& other) noexcept
    : m_base(std::exchange(other.m_base, nullptr)),
      m_size(std::exchange(other.m_size, 0)),
      m_id(std::exchange(other.m_id, 0)) {}

arena_view& arena_view::operator=(arena_view&& other) noexcept {
  if (this != &other) {
    detail::unmap(const_cast<std::byte*>(m_base), m_size);
    m_base = std::exchange(other.m_base, nullptr);
    m_size = std::exchange(other.m_size, 0);
    m_id = std::exchange(other.m_id, 0);
  }
  return *this;
}

arena_view::~arena_view() { detail::unmap(const_cast<std::byte*>(m_base), m_size); }

bool arena_view::contains(const void* p, std::size_t size) const noexcept {
  const auto begin = reinterpret_cast<std::uintptr_t>(m_base);
  const auto at = reinterpret_cast<std::uintptr_t>(p);
  return m_base != nullptr && at >= begin && at - begin <= m_size && size <= m_size - (at - begin);
}

const void* arena_view::resolve(std::uint64_t id, std::uint64_t offset, std::size_t size,
                                std::size_t alignment, std::error_code& ec) const noexcept {
  return detail::resolve_in(m_base, m_size, m_id, id, offset, size, alignment, ec);
}

std::optional<published_arena_stats> arena_view::stats(std::error_code& ec) const noexcept {
  ec.clear();
  if (m_base == nullptr) return std::nullopt;
  const auto& page = detail::stats_page_of(m_base);
  if (detail::load_acquire(page.magic) != detail::stats_magic) return std::nullopt;
  for (int attempt = 0; attempt < detail::max_stats_reads; ++attempt) {
    const std::uint64_t before = detail::load_acquire(page.sequence);
    if ((before & 1) != 0) continue;
    published_arena_stats s;
    s.owner_pid = detail::load_acquire(page.owner_pid);
    s.published_ns = detail::load_acquire(page.published_ns);
    s.publications = detail::load_acquire(page.publications);
    s.capacity = detail::load_acquire(page.capacity);
    s.reserved = detail::load_acquire(page.reserved);
    s.allocated = detail::load_acquire(page.allocated);
    s.resident = detail::load_acquire(page.resident);
    s.extents = detail::load_acquire(page.extents);
    if (detail::load_acquire(page.sequence) != before) continue;
    // A consistent copy; now check it as any input. Pids are below 2^22 (PID_MAX_LIMIT).
    if (s.capacity != m_size || s.reserved > m_size || s.allocated > m_size ||
        s.resident > m_size || s.extents > m_size / 4096 || s.owner_pid == 0 ||
        s.owner_pid > (std::uint64_t{1} << 22) || s.publications == 0) {
      ec = errc::corrupt_arena;
      return std::nullopt;
    }
    return s;
  }
  ec = std::make_error_code(std::errc::device_or_resource_busy);
  return std::nullopt;
}

const void* arena_view::root_object(std::size_t size, std::size_t alignment) const {
  if (m_base == nullptr) throw std::system_error(errc::no_root, "seam::arena_view::root");
  const auto& header = *reinterpret_cast<const detail::arena_header*>(m_base);
  const std::uint64_t offset = detail::load_acquire(header.root_offset);
  if (offset == 0 || detail::load_acquire(header.root_size) != size) {
    throw std::system_error(errc::no_root, "seam::arena_view::root");
  }
  std::error_code ec;
  const void* p = resolve(m_id, offset, size, alignment, ec);
  throw_if(ec, "seam::arena_view::root");
  return p;
}

}  // namespace seam
