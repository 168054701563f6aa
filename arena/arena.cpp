#include "seam/arena/arena.hpp"

#include <algorithm>
#include <array>
#include <atomic>

#include "arena/detail/heap.hpp"
#include "arena/detail/layout.hpp"
#include "arena/detail/os.hpp"

namespace seam {
namespace detail {

class arena_core {
 public:
  explicit arena_core(const arena_options& options) {
    std::error_code ec;
    std::size_t wanted = options.capacity;
    if (wanted == 0) {
      // The default: 64 GiB, or a quarter of what RLIMIT_AS leaves, whichever is smaller.
      wanted = std::min(arena_options::default_capacity, address_space_left() / 4);
      wanted &= ~(mapping_alignment - 1);
    }
    if (wanted <= header_bytes)
      throw std::system_error(EINVAL, std::system_category(), "seam::arena: capacity too small");
    // Whole huge pages, so a view maps exactly what the owner maps.
    capacity = (wanted + mapping_alignment - 1) & ~(mapping_alignment - 1);
    fd = create_memfd(options.name.c_str(), capacity, ec);
    throw_if(ec, "seam::arena: memfd_create");
    base = static_cast<std::byte*>(map_aligned(fd.get(), capacity, true, ec));
    if (ec) {
      std::string what;
      ec = explain_map_failure(ec, capacity, what);
      std::string message;
      try {
        message = "seam::arena: cannot reserve the arena's capacity " +
                  (what.empty() ? std::string() : "(" + what + ")") +
                  "; arena_options::capacity sets it";
      } catch (const std::bad_alloc&) {
        // At the map count limit malloc may fail too: the code still names the limit.
      }
      throw std::system_error(ec, message);
    }
    id = random_u64();
    auto* header = ::new (base) arena_header{};
    header->magic = arena_magic;
    header->version = arena_version;
    header->header_size = header_bytes;
    header->id = id;
    header->capacity = capacity;
    fork_epoch = g_fork_epoch.load(std::memory_order_relaxed);
    heap_arenas = options.heap_arenas;
    isolation = options.isolation;
    if (isolation == seam::isolation::strict) {
      // Now, after our own mapping (which keeps writing) and before any fd leaves the process.
      // The heap, made on the first allocation, keeps its pages then (see `heap()`).
      seal_strict(fd.get(), ec);
      throw_if(ec, "seam::arena: sealing (F_SEAL_FUTURE_WRITE)");
    }
  }
  arena_core(const arena_core&) = delete;
  arena_core& operator=(const arena_core&) = delete;
  ~arena_core() {
    delete heap_if_made();  // before the memory it manages goes away
    unmap(base, capacity);
  }

  arena_header& header() const noexcept { return *reinterpret_cast<arena_header*>(base); }

  /// The heap, made on the first allocation: jemalloc allows 4095 arenas per process and every
  /// session has an arena, so only arenas that allocate hold one. Null with `made_error` set if
  /// it cannot be made (in a forked child: `errc::forked_child`).
  detail::heap* heap(arena* owner) noexcept;
  /// The heap if an allocation made it, else null (nothing to free, flush or count).
  detail::heap* heap_if_made() const noexcept { return m_heap.load(std::memory_order_acquire); }
  bool forked() const noexcept {
    return fork_epoch != g_fork_epoch.load(std::memory_order_relaxed);
  }

  unique_fd fd;
  std::byte* base = nullptr;
  std::size_t capacity = 0;
  std::uint64_t id = 0;
  unsigned fork_epoch = 0;
  unsigned heap_arenas = 0;
  seam::isolation isolation = seam::isolation::strict;
  std::error_code made_error;  // why the heap could not be made (under made_error_mutex())
  std::mutex& made_error_mutex() noexcept { return m_heap_mutex; }

 private:
  std::atomic<detail::heap*> m_heap{nullptr};
  std::mutex m_heap_mutex;
};

}  // namespace detail

namespace {

// The arenas of this process, by address, so a block can be freed knowing only its pointer.
// Lock-free for readers; a slot is written only by the constructor and destructor of its arena.
// Only arenas with a heap (those that allocated) are here: at most jemalloc's 4095.
constexpr std::size_t max_arenas = 4096;
std::array<std::atomic<arena*>, max_arenas> g_arenas{};
std::atomic<std::size_t> g_arenas_used{0};
// Each slot's range, so that `owning` never reads an arena object, which another thread may be
// destroying (one thread serves every session's releases while others end sessions).
std::array<std::atomic<std::uintptr_t>, max_arenas> g_begin{}, g_end{};
std::mutex g_arenas_mutex;

void register_arena(arena* a) {
  std::lock_guard lock(g_arenas_mutex);
  auto fill = [a](std::size_t i) {
    const auto begin = reinterpret_cast<std::uintptr_t>(a->base());
    // Release: a reader that sees the new range sees the slot emptied before it.
    g_begin[i].store(begin, std::memory_order_release);
    g_end[i].store(begin + a->capacity(), std::memory_order_release);
  };
  const std::size_t used = g_arenas_used.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < used; ++i) {
    if (g_arenas[i].load(std::memory_order_relaxed) == nullptr) {
      fill(i);
      g_arenas[i].store(a, std::memory_order_release);
      return;
    }
  }
  if (used == max_arenas) throw std::system_error(errc::heap_limit, "seam::arena");
  fill(used);
  g_arenas[used].store(a, std::memory_order_release);
  g_arenas_used.store(used + 1, std::memory_order_release);
}

void unregister_arena(arena* a) noexcept {
  std::lock_guard lock(g_arenas_mutex);
  for (auto& slot : g_arenas) {
    if (slot.load(std::memory_order_relaxed) == a) {
      slot.store(nullptr, std::memory_order_release);
      return;
    }
  }
}

}  // namespace

namespace detail {

heap* arena_core::heap(arena* owner) noexcept {
  if (detail::heap* h = heap_if_made()) return h;
  std::lock_guard lock(m_heap_mutex);
  if (detail::heap* h = heap_if_made()) return h;
  if (forked()) return made_error = errc::forked_child, nullptr;
  std::error_code ec;
  auto* h =
      new (std::nothrow) detail::heap(fd.get(), base, header_bytes, capacity, ec, heap_arenas);
  if (h == nullptr) return made_error = std::make_error_code(std::errc::not_enough_memory), nullptr;
  if (ec) {
    delete h;
    // EAGAIN: jemalloc's 4095 arenas are taken (each arena that allocates holds one).
    made_error =
        ec == std::errc::resource_unavailable_try_again ? std::error_code(errc::heap_limit) : ec;
    return nullptr;
  }
  try {
    register_arena(owner);
  } catch (const std::system_error& e) {
    delete h;
    return made_error = e.code(), nullptr;
  }
  // A strict arena's memfd is sealed against writes through any new mapping: its freed pages
  // cannot be punched, they stay for reuse.
  if (isolation == seam::isolation::strict) h->keep_pages();
  m_heap.store(h, std::memory_order_release);
  return h;
}

}  // namespace detail

arena::arena(const arena_options& options)
    : m_core(std::make_unique<detail::arena_core>(options)) {}

arena::~arena() { unregister_arena(this); }

void* arena::allocate(std::size_t size, std::size_t alignment) {
  if (void* p = allocate(size, alignment, std::nothrow)) return p;
  throw_allocation_failure(alignment);
}

void* arena::allocate_zeroed(std::size_t size, std::size_t alignment) {
  if (alignment != 0 && (alignment & (alignment - 1)) == 0 && alignment <= m_core->capacity) {
    if (auto* h = m_core->heap(this)) {
      if (void* p = h->allocate(size, alignment, true)) return p;
    }
  }
  throw_allocation_failure(alignment);
}

void arena::throw_allocation_failure(std::size_t alignment) const {
  if (m_core->forked()) {
    throw std::system_error(errc::forked_child, "seam::arena::allocate");
  }
  if (m_core->heap_if_made() == nullptr) {
    std::error_code why;
    {
      std::lock_guard lock(m_core->made_error_mutex());
      why = m_core->made_error;
    }
    if (why) throw std::system_error(why, "seam::arena::allocate: no heap");
  }
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
    throw std::system_error(EINVAL, std::system_category(),
                            "seam::arena::allocate: alignment is not a power of two");
  }
  throw std::bad_alloc();
}

void* arena::allocate(std::size_t size, std::size_t alignment, std::nothrow_t) noexcept {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment > m_core->capacity) {
    return nullptr;
  }
  auto* h = m_core->heap(this);
  return h != nullptr ? h->allocate(size, alignment, false) : nullptr;
}

void arena::deallocate(void* p, std::size_t size, std::size_t alignment) noexcept {
  SEAM_ASSERT(p == nullptr || contains(p), "seam::arena::deallocate: block of another arena");
  if (auto* h = m_core->heap_if_made()) h->deallocate(p, size, alignment);
}

std::size_t arena::expand(void* p, std::size_t min_size, std::size_t preferred_size) noexcept {
  auto* h = m_core->heap_if_made();
  return h != nullptr ? h->expand(p, min_size, preferred_size) : 0;
}

std::size_t arena::usable_size(const void* p) const noexcept {
  auto* h = m_core->heap_if_made();
  return h != nullptr ? h->usable_size(p) : 0;
}

arena* arena::owning(const void* p) noexcept {
  const auto at = reinterpret_cast<std::uintptr_t>(p);
  for (bool again = true; again;) {
    again = false;
    const std::size_t used = g_arenas_used.load(std::memory_order_acquire);
    for (std::size_t i = 0; i < used; ++i) {
      arena* a = g_arenas[i].load(std::memory_order_acquire);
      if (a == nullptr) continue;
      if (at < g_begin[i].load(std::memory_order_acquire) ||
          at >= g_end[i].load(std::memory_order_acquire)) {
        continue;
      }
      // The slot may have changed arenas while we read its range: same arena, same range.
      if (g_arenas[i].load(std::memory_order_acquire) == a) return a;
      again = true;  // a slot was reused under us: look again
      break;
    }
  }
  return nullptr;
}

bool arena::contains(const void* p, std::size_t size) const noexcept {
  const auto begin = reinterpret_cast<std::uintptr_t>(m_core->base);
  const auto at = reinterpret_cast<std::uintptr_t>(p);
  return at >= begin && at - begin <= m_core->capacity && size <= m_core->capacity - (at - begin);
}

std::uint64_t arena::offset_of(const void* p, std::size_t size) const {
  if (!contains(p, size)) throw std::system_error(errc::not_in_arena, "seam::arena::handle_of");
  return static_cast<std::uint64_t>(static_cast<const std::byte*>(p) - m_core->base);
}

void* arena::resolve(std::uint64_t id, std::uint64_t offset, std::size_t size,
                     std::size_t alignment) const {
  std::error_code ec;
  const void* p = detail::resolve_in(m_core->base, m_core->capacity, m_core->id, id, offset, size,
                                     alignment, ec);
  throw_if(ec, "seam::arena::get");
  return const_cast<void*>(p);
}

void arena::set_root_offset(std::uint64_t offset, std::uint64_t size) noexcept {
  auto& header = m_core->header();
  detail::store_release(header.root_size, size);
  detail::store_release(header.root_offset, offset);
}

unique_fd arena::share() const {
  std::error_code ec;
  unique_fd fd = share(ec);
  throw_if(ec, "seam::arena::share");
  return fd;
}

bool arena::drop_descriptor() noexcept {
  std::lock_guard lock(m_core->made_error_mutex());
  // A heap holds the descriptor's number: closing it could let it name another file.
  if (m_core->heap_if_made() != nullptr) return false;
  m_core->fd.reset();
  return true;
}

unique_fd arena::share(std::error_code& ec) const noexcept {
  return detail::share_read_only(m_core->fd.get(), ec);
}

void arena::purge() noexcept {
  if (auto* h = m_core->heap_if_made()) h->purge();
}

void arena::flush_thread_cache() noexcept {
  if (auto* h = m_core->heap_if_made()) h->flush_thread_cache();
}

arena_stats arena::stats() const noexcept {
  arena_stats s;
  s.capacity = m_core->capacity;
  s.resident = detail::resident_bytes(m_core->fd.get());
  s.returns_memory = m_core->isolation != seam::isolation::strict;
  auto* made = m_core->heap_if_made();
  if (made == nullptr) return s;  // nothing allocated yet
  auto& heap = *made;
  heap.flush_thread_cache();
  s.reserved = heap.reserved();
  s.allocated = heap.allocated();
  s.resident = detail::resident_bytes(m_core->fd.get());  // after the flush
  s.extents = heap.extents();
  return s;
}

bool arena::forked() const noexcept { return m_core->forked(); }

std::size_t arena::address_space_left() noexcept { return detail::address_space_left(); }

std::uint64_t arena::id() const noexcept { return m_core->id; }
std::byte* arena::base() const noexcept { return m_core->base; }
std::size_t arena::capacity() const noexcept { return m_core->capacity; }
seam::isolation arena::isolation() const noexcept { return m_core->isolation; }

}  // namespace seam
