#include "seam/arena/arena.hpp"

#include <unistd.h>

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
    if (options.capacity <= header_bytes)
      throw std::system_error(EINVAL, std::system_category(), "seam::arena: capacity too small");
    // Whole huge pages, so a view maps exactly what the owner maps.
    capacity = (options.capacity + mapping_alignment - 1) & ~(mapping_alignment - 1);
    fd = create_memfd(options.name.c_str(), capacity, ec);
    throw_if(ec, "seam::arena: memfd_create");
    base = static_cast<std::byte*>(map_aligned(fd.get(), capacity, true, ec));
    throw_if(ec, "seam::arena: mmap");
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
    start_heap("seam::arena", true);
    if (isolation == seam::isolation::strict) {
      // Now, after our own mapping (which keeps writing) and before any fd leaves the process.
      heap->keep_pages();
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
    start_heap("seam::arena::attach", false);
  }

  void start_heap(const char* what, bool creator) {
    std::error_code ec;
    writers = std::make_unique<shared_writers>(base, capacity, header_bytes, creator,
                                               isolation == seam::isolation::strict, ec);
    if (!ec) {
      heap = std::make_unique<detail::heap>(fd.get(), base, header_bytes, capacity, ec, 0,
                                            writers.get());
    }
    if (ec) {
      heap.reset();
      writers.reset();
      unmap(base, capacity);
      throw std::system_error(ec, what);
    }
  }
  arena_core(const arena_core&) = delete;
  arena_core& operator=(const arena_core&) = delete;
  ~arena_core() {
    heap.reset();  // before the memory it manages goes away
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
  std::unique_ptr<detail::heap> heap;
};

}  // namespace detail

namespace {

// The arenas of this process, by address, so a block can be freed knowing only its pointer.
// Lock-free for readers; a slot is written only by the constructor and destructor of its arena.
constexpr std::size_t max_arenas = 1024;
std::array<std::atomic<arena*>, max_arenas> g_arenas{};
std::atomic<std::size_t> g_arenas_used{0};
std::mutex g_arenas_mutex;

void register_arena(arena* a) {
  std::lock_guard lock(g_arenas_mutex);
  const std::size_t used = g_arenas_used.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < used; ++i) {
    if (g_arenas[i].load(std::memory_order_relaxed) == nullptr) {
      g_arenas[i].store(a, std::memory_order_release);
      return;
    }
  }
  if (used == max_arenas) {
    throw std::system_error(EMFILE, std::system_category(), "seam::arena: too many arenas");
  }
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

arena::arena(const arena_options& options) : m_core(std::make_unique<detail::arena_core>(options)) {
  register_arena(this);
}

arena::arena(unique_fd writable_fd)
    : m_core(std::make_unique<detail::arena_core>(std::move(writable_fd))) {
  register_arena(this);
}

arena::~arena() { unregister_arena(this); }

void* arena::allocate(std::size_t size, std::size_t alignment) {
  if (void* p = allocate(size, alignment, std::nothrow)) return p;
  throw_allocation_failure(alignment);
}

void* arena::allocate_zeroed(std::size_t size, std::size_t alignment) {
  if (alignment != 0 && (alignment & (alignment - 1)) == 0 && alignment <= m_core->capacity) {
    if (void* p = m_core->heap->allocate(size, alignment, true)) {
      if (size >= publish_block_size) [[unlikely]]
        publish_after_big_block();
      return p;
    }
  }
  throw_allocation_failure(alignment);
}

void arena::throw_allocation_failure(std::size_t alignment) const {
  if (m_core->heap->forked()) {
    throw std::system_error(errc::forked_child, "seam::arena::allocate");
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
  void* p = m_core->heap->allocate(size, alignment, false);
  if (size >= publish_block_size && p != nullptr) [[unlikely]]
    publish_after_big_block();
  return p;
}

void arena::deallocate(void* p, std::size_t size, std::size_t alignment) noexcept {
  SEAM_ASSERT(p == nullptr || contains(p), "seam::arena::deallocate: block of another arena");
  m_core->heap->deallocate(p, size, alignment);
  if (size >= publish_block_size) [[unlikely]]
    publish_after_big_block();
}

// A block of 1 MiB or more costs far more than a publication (a few microseconds: jemalloc's
// statistics and one fstat), and it is when the figures move most: it refreshes the stats page
// for other processes, at most every 100 ms, without flushing any thread's cache.
void arena::publish_after_big_block() noexcept {
  if (m_core->heap->forked()) return;
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
  return m_core->heap->expand(p, min_size, preferred_size);
}

std::size_t arena::usable_size(const void* p) const noexcept {
  return m_core->heap->usable_size(p);
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
  m_core->heap->collect_remote();
  m_core->writers->reap();
  if (m_core->writers->corrupt()) {
    ec = errc::corrupt_arena;
  } else {
    ec.clear();
  }
}

void arena::purge() noexcept {
  m_core->heap->purge();
  stats();  // publishes them
}

void arena::flush_thread_cache() noexcept { m_core->heap->flush_thread_cache(); }

arena_stats arena::stats() const noexcept {
  m_core->heap->flush_thread_cache();
  const arena_stats s = collect_stats();
  publish_stats(m_core->base, s);
  return s;
}

arena_stats arena::collect_stats() const noexcept {
  auto& heap = *m_core->heap;
  arena_stats s;
  s.capacity = m_core->capacity;
  s.reserved = heap.reserved();
  s.allocated = heap.allocated();
  s.resident = detail::resident_bytes(m_core->fd.get());
  s.extents = heap.extents();
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

bool arena::forked() const noexcept { return m_core->heap->forked(); }

std::uint64_t arena::id() const noexcept { return m_core->id; }
std::byte* arena::base() const noexcept { return m_core->base; }
std::size_t arena::capacity() const noexcept { return m_core->capacity; }
seam::isolation arena::isolation() const noexcept { return m_core->isolation; }

}  // namespace seam
