#include "seam/arena/arena.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <ctime>

#include "arena/detail/directory.hpp"
#include "arena/detail/heap.hpp"
#include "arena/detail/layout.hpp"
#include "arena/detail/os.hpp"
#include "arena/detail/stats_page.hpp"
#include "arena/detail/writers.hpp"

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
    // The writers' table follows the header page (whose second half is the stats page's).
    if (header_bytes + writers_region_bytes(capacity) >= capacity) {
      unmap(base, capacity);
      throw std::system_error(EINVAL, std::system_category(), "seam::arena: capacity too small");
    }
    header->writers_offset = header_bytes;
    init_directory_lock(header->directory_lock);
    shared_writers::format(base, capacity, header_bytes);
    isolation = options.isolation;
    fork_epoch = g_fork_epoch.load(std::memory_order_relaxed);
    heap_arenas = options.heap_arenas;
    // The heap waits for the first allocation (see `heap()`); the writers' table does not.
    start_writers("seam::arena", true);
    if (isolation == seam::isolation::strict) {
      // Now, after our own mapping (which keeps writing) and before any fd leaves the process.
      // The heap, made on the first allocation, keeps its pages then (see `heap()`).
      seal_strict(fd.get(), ec);
      throw_if(ec, "seam::arena: sealing (F_SEAL_FUTURE_WRITE)");
    }
  }

  // Attaches to the arena behind `writable` as one more writer.
  explicit arena_core(unique_fd writable) {
    std::error_code ec;
    const long long size = file_size(writable.get(), ec);
    throw_if(ec, "seam::arena::attach");
    if (!is_sealed(writable.get()) || !is_writable(writable.get()) ||
        size < static_cast<long long>(mapping_alignment) ||
        (static_cast<std::size_t>(size) & (mapping_alignment - 1)) != 0) {
      throw std::system_error(errc::bad_arena, "seam::arena::attach");
    }
    capacity = static_cast<std::size_t>(size);
    base = static_cast<std::byte*>(map_aligned(writable.get(), capacity, true, ec));
    throw_if(ec, "seam::arena::attach: mmap");
    fd = std::move(writable);
    const auto& h = header();
    if (h.magic != arena_magic || h.version != arena_version || h.header_size != header_bytes ||
        h.capacity != capacity || h.writers_offset != header_bytes) {
      unmap(base, capacity);
      throw std::system_error(errc::bad_arena, "seam::arena::attach");
    }
    id = h.id;
    // A strict arena is sealed against writable mappings: it never reaches here (the map
    // above fails), and `share_writable` refuses it.
    isolation = seam::isolation::trust_same_uid;
    fork_epoch = g_fork_epoch.load(std::memory_order_relaxed);
    start_writers("seam::arena::attach", false);
  }

  void start_writers(const char* what, bool creator) {
    std::error_code ec;
    writers = std::make_unique<shared_writers>(base, capacity, header_bytes, creator,
                                               isolation == seam::isolation::strict, ec);
    if (ec) {
      writers.reset();
      unmap(base, capacity);
      throw std::system_error(ec, what);
    }
  }
  arena_core(const arena_core&) = delete;
  arena_core& operator=(const arena_core&) = delete;
  ~arena_core() {
    delete heap_if_made();  // before the memory it manages goes away
    writers.reset();
    unmap(base, capacity);
  }

  arena_header& header() const noexcept { return *reinterpret_cast<arena_header*>(base); }

  // CLOCK_MONOTONIC_COARSE nanoseconds of the last publication made by a big block (see
  // `arena::publish_after_big_block`); 0: none yet.
  std::atomic<std::uint64_t> last_auto_publish{0};
  unique_fd fd;
  std::byte* base = nullptr;
  std::size_t capacity = 0;
  std::uint64_t id = 0;
  std::unique_ptr<shared_writers> writers;
  seam::isolation isolation = seam::isolation::strict;

  /// The heap, made on the first allocation: jemalloc allows 4095 arenas per process and every
  /// session has an arena, so only arenas that allocate hold one. Null with `made_error` set if
  /// it cannot be made (in a forked child: `errc::forked_child`).
  detail::heap* heap(arena* owner) noexcept;
  /// The heap if an allocation made it, else null (nothing to free, flush or count).
  detail::heap* heap_if_made() const noexcept { return m_heap.load(std::memory_order_acquire); }
  bool forked() const noexcept {
    return fork_epoch != g_fork_epoch.load(std::memory_order_relaxed);
  }

  unsigned fork_epoch = 0;
  unsigned heap_arenas = 0;
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

// Writes `s` to the arena's stats page (arena/detail/stats_page.hpp) for other processes to
// read. Skips if another thread is writing it now: that thread's figures are as fresh.
void publish_stats(std::byte* base, const arena_stats& s) noexcept {
  auto& page = detail::stats_page_of(base);
  std::uint64_t sequence = __atomic_load_n(&page.sequence, __ATOMIC_RELAXED);
  if ((sequence & 1) != 0 ||
      !__atomic_compare_exchange_n(&page.sequence, &sequence, sequence + 1, false, __ATOMIC_ACQUIRE,
                                   __ATOMIC_RELAXED)) {
    return;
  }
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  const auto put = [](std::uint64_t& word, std::uint64_t value) {
    detail::store_release(word, value);
  };
  put(page.owner_pid, static_cast<std::uint64_t>(::getpid()));
  put(page.published_ns, static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000 +
                             static_cast<std::uint64_t>(now.tv_nsec));
  put(page.publications, detail::load_acquire(page.publications) + 1);
  put(page.capacity, s.capacity);
  put(page.reserved, s.reserved);
  put(page.allocated, s.allocated);
  put(page.resident, s.resident);
  put(page.extents, s.extents);
  put(page.sequence, sequence + 2);
  if (detail::load_acquire(page.magic) != detail::stats_magic) put(page.magic, detail::stats_magic);
}

}  // namespace

namespace detail {

heap* arena_core::heap(arena* owner) noexcept {
  if (detail::heap* h = heap_if_made()) return h;
  std::lock_guard lock(m_heap_mutex);
  if (detail::heap* h = heap_if_made()) return h;
  if (forked()) return made_error = errc::forked_child, nullptr;
  std::error_code ec;
  auto* h = new (std::nothrow)
      detail::heap(fd.get(), base, header_bytes, capacity, ec, heap_arenas, writers.get());
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

arena::arena(const arena_options& options) : m_core(std::make_unique<detail::arena_core>(options)) {
  // A `trust_same_uid` arena may get shared writers: its heap claims its first span now, as
  // writers expect. A strict one (the default, and every session's) waits for its first
  // allocation.
  if (options.isolation != seam::isolation::strict && m_core->heap(this) == nullptr) {
    throw std::system_error(m_core->made_error, "seam::arena: jemalloc arenas_create_ext");
  }
}

arena::arena(unique_fd writable_fd)
    : m_core(std::make_unique<detail::arena_core>(std::move(writable_fd))) {
  // An attached writer allocates: its heap now, so that a failure is the constructor's.
  if (m_core->heap(this) == nullptr) {
    throw std::system_error(m_core->made_error, "seam::arena::attach");
  }
}

arena::~arena() { unregister_arena(this); }

void* arena::allocate(std::size_t size, std::size_t alignment) {
  if (void* p = allocate(size, alignment, std::nothrow)) return p;
  throw_allocation_failure(alignment);
}

void* arena::allocate_zeroed(std::size_t size, std::size_t alignment) {
  if (alignment != 0 && (alignment & (alignment - 1)) == 0 && alignment <= m_core->capacity) {
    auto* h = m_core->heap(this);
    if (void* p = h != nullptr ? h->allocate(size, alignment, true) : nullptr) {
      if (size >= publish_block_size) [[unlikely]]
        publish_after_big_block();
      return p;
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
  void* p = h != nullptr ? h->allocate(size, alignment, false) : nullptr;
  if (size >= publish_block_size && p != nullptr) [[unlikely]]
    publish_after_big_block();
  return p;
}

void arena::deallocate(void* p, std::size_t size, std::size_t alignment) noexcept {
  SEAM_ASSERT(p == nullptr || contains(p), "seam::arena::deallocate: block of another arena");
  auto* h = m_core->heap_if_made();
  if (h == nullptr) return;  // nothing was ever allocated here
  h->deallocate(p, size, alignment);
  if (size >= publish_block_size) [[unlikely]]
    publish_after_big_block();
}

// A block of 1 MiB or more costs far more than a publication (a few microseconds: jemalloc's
// statistics and one fstat), and it is when the figures move most: it refreshes the stats page
// for other processes, at most every 100 ms, without flushing any thread's cache.
void arena::publish_after_big_block() noexcept {
  if (m_core->forked()) return;
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
  const std::uint64_t ns = static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000 +
                           static_cast<std::uint64_t>(now.tv_nsec);
  std::uint64_t last = m_core->last_auto_publish.load(std::memory_order_relaxed);
  if (last != 0 && ns - last < 100'000'000) return;
  if (!m_core->last_auto_publish.compare_exchange_strong(last, ns == 0 ? 1 : ns,
                                                         std::memory_order_relaxed)) {
    return;  // another thread publishes now
  }
  publish_stats(m_core->base, collect_stats());
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
  const std::size_t used = g_arenas_used.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < used; ++i) {
    arena* a = g_arenas[i].load(std::memory_order_acquire);
    if (a != nullptr && a->contains(p)) return a;
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
  unique_fd fd = detail::share_read_only(m_core->fd.get(), ec);
  if (!ec) stats();  // publishes them: a new reader may look
  return fd;
}

unique_fd arena::share_writable() const {
  std::error_code ec;
  unique_fd fd = share_writable(ec);
  throw_if(ec, "seam::arena::share_writable");
  return fd;
}

unique_fd arena::share_writable(std::error_code& ec) const noexcept {
  if (m_core->isolation == seam::isolation::strict) {
    ec = errc::strict_isolation;
    return {};
  }
  return detail::share_read_write(m_core->fd.get(), ec);
}

void arena::collect() {
  std::error_code ec;
  collect(ec);
  throw_if(ec, "seam::arena::collect");
}

void arena::collect(std::error_code& ec) noexcept {
  if (auto* h = m_core->heap_if_made()) h->collect_remote();
  m_core->writers->reap();
  if (m_core->writers->corrupt()) {
    ec = errc::corrupt_arena;
  } else {
    ec.clear();
  }
}

void arena::purge() noexcept {
  if (auto* h = m_core->heap_if_made()) h->purge();
  stats();  // publishes them
}

void arena::flush_thread_cache() noexcept {
  if (auto* h = m_core->heap_if_made()) h->flush_thread_cache();
}

arena_stats arena::stats() const noexcept {
  if (auto* h = m_core->heap_if_made()) h->flush_thread_cache();
  const arena_stats s = collect_stats();
  publish_stats(m_core->base, s);
  return s;
}

arena_stats arena::collect_stats() const noexcept {
  arena_stats s;
  s.capacity = m_core->capacity;
  s.resident = detail::resident_bytes(m_core->fd.get());
  if (auto* heap = m_core->heap_if_made()) {  // none: nothing allocated yet
    s.reserved = heap->reserved();
    s.allocated = heap->allocated();
    s.extents = heap->extents();
  }
  const detail::writers_counters w = m_core->writers->counters();
  s.writers = w.live_writers;
  s.remote_frees_sent = w.remote_frees_sent;
  s.remote_frees_pending = w.remote_frees_pending;
  s.remote_frees_returned = w.remote_frees_returned;
  s.orphan_frees = w.orphan_frees;
  s.orphaned = w.orphaned_bytes;
  s.returns_memory = m_core->isolation != seam::isolation::strict;
  return s;
}

bool arena::forked() const noexcept { return m_core->forked(); }

std::size_t arena::address_space_left() noexcept { return detail::address_space_left(); }

std::uint64_t arena::id() const noexcept { return m_core->id; }
std::byte* arena::base() const noexcept { return m_core->base; }
std::size_t arena::capacity() const noexcept { return m_core->capacity; }
seam::isolation arena::isolation() const noexcept { return m_core->isolation; }

}  // namespace seam
