#pragma once
/// \file
/// `seam::arena_view`: the reader side of an arena, mapped read-only.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <system_error>
#include <vector>

#include "seam/arena/error.hpp"
#include "seam/arena/handle.hpp"
#include "seam/arena/named.hpp"
#include "seam/base/export.hpp"

namespace seam {

/// What an arena's owner last published of its `arena::stats()`, as another process reads it
/// (`arena_view::stats`). The owner publishes when it calls `arena::stats()`,
/// `arena::share()` or `arena::purge()`: the figures are as old as `published_ns` says.
struct published_arena_stats {
  std::uint64_t capacity = 0;      ///< Bytes of address space.
  std::uint64_t reserved = 0;      ///< Bytes handed to the allocator so far (high-water mark).
  std::uint64_t allocated = 0;     ///< Bytes in live blocks.
  std::uint64_t resident = 0;      ///< Bytes of memory the arena's memfd held.
  std::uint64_t extents = 0;       ///< Extents the allocator held.
  std::uint64_t owner_pid = 0;     ///< The process that published (as it said: informative).
  std::uint64_t published_ns = 0;  ///< When, in nanoseconds since 1970 (`CLOCK_REALTIME`).
  std::uint64_t publications = 0;  ///< How many times the owner has published so far.
};

/// A read-only mapping of another process's arena.
///
/// Made from the fd that `arena::share()` returned (passed over a Unix socket, or inherited).
/// The mapping is `PROT_READ`: a bug or an attack in this process cannot corrupt the owner's
/// heap, and writing through a pointer from a view dies with SIGSEGV. Every handle is checked
/// (arena id, bounds, alignment) before it becomes a pointer: a handle is input from another
/// process, not trusted memory.
///
/// The bytes behind a pointer can change while you read them if the owner writes them: the
/// view guarantees memory safety of the mapping, not a consistent snapshot (that is the lend
/// protocol's job). The mapping stays valid after the owner exits or is killed.
///
/// Movable, not copyable. `get` is thread-safe (const); the object lives in private memory.
class SEAM_API arena_view {
 public:
  /// An empty view (maps nothing).
  arena_view() noexcept = default;
  /// Maps the arena behind `fd` read-only. The fd is not taken: close it when you like.
  /// Throws `std::system_error` (`errc::bad_arena` if `fd` is not a sealed Seam arena).
  static arena_view open(int fd);
  /// As the overload above, reporting errors in `ec` instead of throwing.
  static arena_view open(int fd, std::error_code& ec) noexcept;

  /// Move constructor.
  arena_view(arena_view&& other) noexcept;
  /// Move assignment.
  arena_view& operator=(arena_view&& other) noexcept;
  arena_view(const arena_view&) = delete;
  arena_view& operator=(const arena_view&) = delete;
  ~arena_view();

  /// True when the view maps an arena.
  explicit operator bool() const noexcept { return m_base != nullptr; }
  /// The arena's id (that of `arena::id()` in the owner).
  std::uint64_t id() const noexcept { return m_id; }
  /// Start of the mapping in this process (differs from the owner's).
  const std::byte* base() const noexcept { return m_base; }
  /// Bytes mapped.
  std::size_t size() const noexcept { return m_size; }
  /// True if the `size` bytes at `p` lie inside the mapping.
  bool contains(const void* p, std::size_t size = 1) const noexcept;

  /// The object `h` names; throws `std::system_error` if the handle is null, of another
  /// arena, out of range or misaligned.
  template <class T>
  const T* get(handle<T> h) const {
    return get(h, 1).data();
  }
  /// As the overload above, reporting errors in `ec` instead of throwing.
  template <class T>
  const T* get(handle<T> h, std::error_code& ec) const noexcept {
    return static_cast<const T*>(resolve(h.arena_id, h.offset, sizeof(T), alignof(T), ec));
  }
  /// `count` consecutive objects starting at `h`, all inside the arena.
  template <class T>
  std::span<const T> get(handle<T> h, std::size_t count) const {
    std::error_code ec;
    const void* p = count > SIZE_MAX / sizeof(T)
                        ? (ec = errc::handle_out_of_range, nullptr)
                        : resolve(h.arena_id, h.offset, sizeof(T) * count, alignof(T), ec);
    throw_if(ec, "seam::arena_view::get");
    return {static_cast<const T*>(p), count};
  }

  /// Every named object of the arena (see `seam/arena/named.hpp`), each entry checked as any
  /// input: `errc::corrupt_arena` if the directory does not hold up (with what was listed
  /// before). Objects being made or destroyed meanwhile may be missing. Thread-safe.
  std::vector<named_object_info> names(std::error_code& ec) const noexcept {
    return detail::list_named(m_base, m_size, m_id, ec);
  }

  /// The owner's last published statistics, or nothing if it never published (or the view is
  /// empty). The page is read under its sequence counter, a bounded number of times, and
  /// checked: `std::errc::device_or_resource_busy` if it kept changing (or its owner died while
  /// writing it), `errc::corrupt_arena` if its figures do not hold up. Thread-safe, lock-free.
  std::optional<published_arena_stats> stats(std::error_code& ec) const noexcept;

  /// The object the owner published with `arena::set_root`; throws `errc::no_root` if there is
  /// none or it was published as a type of another size.
  template <class T>
  const T* root() const {
    return static_cast<const T*>(root_object(sizeof(T), alignof(T)));
  }

  /// The object the owner made with `arena::make_named<T>(name, …)`, or nullptr if no object
  /// has that name (or the view is empty). Throws `std::system_error`: `errc::type_mismatch`
  /// if it was made as another type, `errc::bad_name`, `errc::corrupt_arena` if the
  /// directory's bytes do not hold up. Every directory byte read is checked; see
  /// `seam/arena/named.hpp` for what a lookup racing the owner sees. Thread-safe, lock-free.
  template <class T>
  const T* find(std::string_view name) const {
    std::error_code ec;
    const T* p = find<T>(name, ec);
    throw_if(ec, "seam::arena_view::find");
    return p;
  }
  /// As `find`, reporting errors in `ec` (cleared when the name is simply absent).
  template <class T>
  const T* find(std::string_view name, std::error_code& ec) const noexcept {
    return static_cast<const T*>(
        detail::find_named(m_base, m_size, m_id, name, detail::named_type_of<T>(), ec));
  }

 private:
  const void* resolve(std::uint64_t id, std::uint64_t offset, std::size_t size,
                      std::size_t alignment, std::error_code& ec) const noexcept;
  const void* root_object(std::size_t size, std::size_t alignment) const;

  const std::byte* m_base = nullptr;
  std::size_t m_size = 0;
  std::uint64_t m_id = 0;
};

}  // namespace seam
