#include "arena/detail/heap.hpp"

#include <pthread.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <thread>
#include <unordered_set>

#include "arena/detail/os.hpp"
#include "seam/arena/error.hpp"

namespace seam::detail {
namespace {

// jemalloc 5.3's `arena_config_t`, taken by `experimental.arenas_create_ext`. It is not in the
// public header; its layout is {hooks, metadata_use_hooks} in 5.3.
struct arena_config {
  extent_hooks_t* extent_hooks;
  bool metadata_use_hooks;
};

// Live heaps, by generation, for threads that exit and must destroy their caches. Leaked on
// purpose: threads may exit after static destructors ran.
std::mutex g_registry_mutex;
std::vector<heap*>& registry() {
  static auto* heaps = new std::vector<heap*>;
  return *heaps;
}
std::atomic<std::uint64_t> g_next_generation{1};

void install_fork_handlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Hold the registry lock across fork so the child never inherits it locked by a thread
    // that does not exist there.
    ::pthread_atfork([] { g_registry_mutex.lock(); }, [] { g_registry_mutex.unlock(); },
                     [] {
                       g_fork_epoch.fetch_add(1, std::memory_order_relaxed);
                       g_registry_mutex.unlock();
                     });
  });
}

// The cache used last by this thread: the fast path, trivially destructible.
constinit thread_local thread_entry t_last{0, 0, 0};

// A thread's front cache of freed blocks for one heap (the first it frees into, until it is
// flushed). jemalloc's calls with an explicit arena and thread cache take its generic path
// (measured ~31 ns per allocate+free, against ~13 ns for plain malloc); a last-in-first-out
// list of recently freed blocks per size class serves most allocations without jemalloc.
// Cacheable blocks are always asked of jemalloc rounded up to their class, so any cached block
// fits any request of its class, and is freed to jemalloc with its class's size. Blocks are
// linked through their first word (they are free; the smallest class is 16 bytes).
struct front_cache {
  std::uint64_t generation = 0;  // the heap cached for; 0: none
  std::size_t bytes = 0;         // bytes held
  std::uint32_t count[cache_bins] = {};
  void* head[cache_bins] = {};
};
constinit thread_local front_cache t_front{};

// Bytes a thread's front cache holds at most: a batch of 1024 blocks of 1 KiB (or 4096 of
// 64 bytes) freed and allocated again stays in the thread, as in jemalloc's own thread caches
// (which hold up to ~200 blocks per small class).
constexpr std::size_t front_budget = std::size_t{4} << 20;

// Blocks of a medium class moved at once from the shared cache to a thread: ~256 KiB worth.
constexpr unsigned refill_count(unsigned bin) noexcept {
  const std::size_t n = (std::size_t{256} << 10) / class_size(bin);
  return n < 1 ? 1 : n > 32 ? 32 : static_cast<unsigned>(n);
}

void*& next(void* block) noexcept { return shared_cache::next(block); }

// Detaches the whole list of `bin` from the front cache and returns its first block.
void* detach_bin(unsigned bin) noexcept {
  void* first = t_front.head[bin];
  t_front.bytes -= t_front.count[bin] * class_size(bin);
  t_front.head[bin] = nullptr;
  t_front.count[bin] = 0;
  return first;
}

// Gives every block of the front cache back to jemalloc (the heap must be alive).
void drain_front(int flags) noexcept {
  for (unsigned bin = 1; bin < cache_bins; ++bin) {
    for (void* p = detach_bin(bin); p != nullptr;) {
      void* after = next(p);
      sdallocx(p, class_size(bin), flags);
      p = after;
    }
  }
  t_front.generation = 0;
}

// Forgets the front cache without touching its blocks (their heap is gone, or is the parent's).
void forget_front() noexcept { t_front = front_cache{}; }

// Every cache this thread made; destroyed with the thread.
struct thread_caches {
  std::vector<thread_entry> entries;
  ~thread_caches() {
    heap::release_front_cache();
    for (const auto& e : entries) heap::release_thread_cache(e.generation, e.tcache);
    t_last = {0, 0, 0};
  }
};
thread_local thread_caches t_caches;

int destroy_tcache(unsigned tcache) noexcept {
  return mallctl("tcache.destroy", nullptr, nullptr, &tcache, sizeof tcache);
}

}  // namespace

// jemalloc's extent hooks. Each runs inside jemalloc with its locks held: nothing here may
// throw, allocate, or call back into jemalloc.
struct hooks {
  static heap& of(extent_hooks_t* h) { return *reinterpret_cast<hook_table*>(h)->owner; }

  // Carves a fresh range off the top of jemalloc's side of a span (`huge_blocks`).
  // Fresh memfd pages are zero and always "committed" (the mapping is there). `new_addr` asks
  // to extend a range in place, which jemalloc does only without `retain`: refused.
  static void* alloc(extent_hooks_t* h, void* new_addr, std::size_t size, std::size_t alignment,
                     bool* zero, bool* commit, unsigned) {
    heap& self = of(h);
    if (self.forked() || new_addr != nullptr) return nullptr;
    void* p = self.carve(size, alignment);
    if (p == nullptr) return nullptr;
    self.m_extents.fetch_add(1, std::memory_order_relaxed);
    *zero = true;
    *commit = true;
    return p;
  }

  // Opting out (true) makes jemalloc retain the range and reuse it itself; a free list of our
  // own measured more than twice the peak memory.
  static bool dalloc(extent_hooks_t*, void*, std::size_t, bool, unsigned) { return true; }

  // Only called when the arena is destroyed: the memory goes with the memfd, and a view in
  // another process may still read it, so nothing is punched here.
  static void destroy(extent_hooks_t* h, void*, std::size_t, bool, unsigned) {
    of(h).m_extents.fetch_sub(1, std::memory_order_relaxed);
  }

  // Pages must read as zero afterwards and their memory must go back to the kernel.
  static bool purge(extent_hooks_t* h, void* addr, std::size_t size, std::size_t offset,
                    std::size_t length, unsigned) {
    heap& self = of(h);
    (void)size;
    if (self.forked() || self.m_dying.load(std::memory_order_relaxed) ||
        self.m_keep_pages.load(std::memory_order_relaxed)) {
      return true;  // not purged: jemalloc keeps the pages as they are, not zeroed
    }
    const auto at = static_cast<std::size_t>(static_cast<std::byte*>(addr) - self.m_base) + offset;
    return !punch_hole(self.m_fd, self.m_base, at, length);
  }

  // One mapping: any range may be split, and any neighbours merged.
  static bool split(extent_hooks_t* h, void*, std::size_t, std::size_t, std::size_t, bool,
                    unsigned) {
    of(h).m_extents.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  static bool merge(extent_hooks_t* h, void*, std::size_t, void*, std::size_t, bool, unsigned) {
    of(h).m_extents.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
};

heap::heap(int fd, std::byte* base, std::size_t begin, std::size_t capacity, std::error_code& ec,
           unsigned arenas, shared_writers* writers)
    : m_table{{&hooks::alloc, &hooks::dalloc, &hooks::destroy, nullptr, nullptr, nullptr,
               &hooks::purge, &hooks::split, &hooks::merge},
              this},
      m_fd(fd),
      m_base(base),
      m_capacity(capacity),
      m_generation(g_next_generation.fetch_add(1, std::memory_order_relaxed)),
      m_fork_epoch(g_fork_epoch.load(std::memory_order_relaxed)),
      m_writers(writers),
      m_spans(new std::optional<huge_blocks>[max_spans]),
      m_span_of(new std::atomic<std::uint8_t>[(capacity >> chunk_shift) + 1]{}),
      m_shared(std::min(shared_cache_limit, capacity / 4)) {
  install_fork_handlers();
  if (capacity / huge_blocks::page > UINT32_MAX) {  // the bounds are 32-bit page numbers
    ec = std::make_error_code(std::errc::invalid_argument);
    return;
  }
  // One arena per CPU (up to max_arenas): two threads allocating batches from one arena
  // serialise on its bin and extent locks. Every arena carves its ranges through the same hooks
  // from the same end of the mapping (`huge_blocks::carve_for_jemalloc`). The first is made
  // now, the others when threads come (`thread_cache_slow`).
  if (writers == nullptr) {
    m_spans[0].emplace(fd, base, begin, capacity);
    for (std::size_t c = 0; c <= (capacity >> chunk_shift); ++c) m_span_of[c].store(1);
    m_nspans.store(1, std::memory_order_release);
  } else {
    std::lock_guard lock(m_span_mutex);
    // The creator of an arena that no other process may write (strict) takes all of it at once,
    // as before shared writers: a span bounds in-place growth of huge blocks. The creator of
    // one that may have other writers takes half, so that its huge blocks still grow far.
    const std::size_t first = !writers->creator() ? 0
                              : writers->sole()   ? capacity
                                                  : (capacity / 2) & ~(chunk_bytes - 1);
    if (!add_span(huge_blocks::page, first)) {
      ec = writers->corrupt() ? std::error_code(errc::corrupt_arena)
                              : std::error_code(errc::arena_full);
      return;
    }
  }
  m_wanted = std::clamp(arenas != 0 ? arenas : std::thread::hardware_concurrency(), 1u, max_arenas);
  if (int r = add_arena(); r != 0) {
    ec = {r, std::system_category()};
    return;
  }
  std::lock_guard lock(g_registry_mutex);
  registry().push_back(this);
  ec.clear();
}

int heap::add_arena() noexcept {
  const unsigned n = m_narenas.load(std::memory_order_relaxed);
  if (n == max_arenas) return EAGAIN;
  arena_config config{&m_table.hooks, false};
  unsigned index = 0;
  std::size_t size = sizeof index;
  if (int r = mallctl("experimental.arenas_create_ext", &index, &size, &config, sizeof config);
      r != 0) {
    return r;  // e.g. jemalloc's 4095 arenas are taken
  }
  // jemalloc purges a freed extent of 8 MiB or more at once; in a memfd that is a hole punched
  // and every page faulted in again on reuse (a growing vector paid it at each step). Let
  // such extents decay like the rest; `purge()` remains the way to return memory now.
  char name[64];
  std::snprintf(name, sizeof name, "arena.%u.oversize_threshold", index);
  std::size_t never = m_capacity;
  mallctl(name, nullptr, nullptr, &never, sizeof never);
  m_arenas[n] = index;
  m_narenas.store(n + 1, std::memory_order_release);
  return 0;
}

heap::~heap() {
  {
    std::lock_guard lock(g_registry_mutex);
    std::erase(registry(), this);
  }
  const unsigned narenas = m_narenas.load(std::memory_order_acquire);
  if (narenas == 0 || forked()) return;
  m_dying.store(true, std::memory_order_relaxed);
  if (t_front.generation == m_generation) forget_front();  // its blocks go with the arena
  {
    std::lock_guard lock(m_mutex);
    for (unsigned tc : m_tcaches) destroy_tcache(tc);
    m_tcaches.clear();
  }
  // The shared cache's blocks go with the arenas too.
  for (unsigned i = 0; i < narenas; ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "arena.%u.destroy", m_arenas[i]);
    mallctl(name, nullptr, nullptr, nullptr, 0);
  }
}

void heap::release_front_cache() noexcept {
  if (t_front.generation == 0) return;
  std::lock_guard lock(g_registry_mutex);
  for (heap* h : registry()) {
    if (h->m_generation == t_front.generation && !h->forked()) {
      // No thread cache: this thread is ending.
      drain_front(MALLOCX_TCACHE_NONE);
      return;
    }
  }
  forget_front();
}

void heap::release_thread_cache(std::uint64_t generation, unsigned tcache) noexcept {
  std::lock_guard lock(g_registry_mutex);
  for (heap* h : registry()) {
    if (h->m_generation != generation) continue;
    if (h->forked()) return;
    std::lock_guard heap_lock(h->m_mutex);
    std::erase(h->m_tcaches, tcache);
    destroy_tcache(tcache);
    return;
  }
}

const thread_entry& heap::thread_cache() noexcept {
  if (t_last.generation == m_generation) return t_last;
  return thread_cache_slow();
}

const thread_entry& heap::thread_cache_slow() noexcept {
  auto& entries = t_caches.entries;
  auto it = std::find_if(entries.begin(), entries.end(),
                         [&](const thread_entry& e) { return e.generation == m_generation; });
  if (it == entries.end()) {
    unsigned tc = 0;
    std::size_t size = sizeof tc;
    if (mallctl("tcache.create", &tc, &size, nullptr, 0) != 0) {
      tc = UINT32_MAX;
    } else {
      std::lock_guard lock(m_mutex);
      m_tcaches.push_back(tc);
    }
    // Forget caches of heaps that are gone (their generation never comes back).
    {
      std::lock_guard lock(g_registry_mutex);
      // A set of the live ones, not a scan per entry: a thread that serves thousands of
      // sessions' heaps (the session reactor) has thousands of entries.
      std::unordered_set<std::uint64_t> live;
      for (heap* h : registry()) live.insert(h->m_generation);
      auto gone = [&](std::uint64_t generation) { return live.count(generation) == 0; };
      std::erase_if(entries, [&](const thread_entry& e) { return gone(e.generation); });
      if (t_front.generation != 0 && gone(t_front.generation)) forget_front();
    }
    unsigned arena = m_next_arena.fetch_add(1, std::memory_order_relaxed) % m_wanted;
    if (arena >= m_narenas.load(std::memory_order_acquire)) {
      std::lock_guard lock(m_mutex);
      while (m_narenas.load(std::memory_order_relaxed) <= arena && add_arena() == 0) {
      }
    }
    // Fewer arenas than wanted (jemalloc had no more): slower with many threads, still correct.
    arena %= m_narenas.load(std::memory_order_acquire);
    entries.push_back({m_generation, tc, arena});
    it = entries.end() - 1;
  }
  t_last = *it;
  return t_last;
}

unsigned heap::thread_arena() noexcept { return thread_cache().arena; }

int heap::arena_of(const void* p) const noexcept {
  if (!mine(p) || huge_span(p) != nullptr) return -1;
  unsigned index = 0;
  std::size_t size = sizeof index;
  if (mallctl("arenas.lookup", &index, &size, &p, sizeof p) != 0) return -1;
  for (unsigned i = 0, n = arena_count(); i < n; ++i) {
    if (m_arenas[i] == index) return static_cast<int>(i);
  }
  return -1;
}

int heap::flags(std::size_t size, std::size_t alignment) noexcept {
  const unsigned tc = thread_cache().tcache;
  // Without a cache of its own (tcache.create failed), never fall back to the default cache:
  // it would mix this arena's blocks with malloc's.
  int f = tc == UINT32_MAX ? MALLOCX_TCACHE_NONE : MALLOCX_TCACHE(tc);
  // jemalloc aligns a block to its size class (16 from 16 bytes up), so only a larger
  // alignment, or a block smaller than its alignment, needs the flag (and its slower path).
  if (alignment > alignof(std::max_align_t) || size < alignment) f |= MALLOCX_ALIGN(alignment);
  return f;
}

void* heap::allocate(std::size_t size, std::size_t alignment, bool zero) noexcept {
  if (forked()) return nullptr;
  if (size == 0) size = 1;
  if (cacheable(size, alignment)) {
    const unsigned bin = bin_of(size);
    if (!zero) {
      if (void* p = t_front.head[bin]; p != nullptr && t_front.generation == m_generation) {
        t_front.head[bin] = next(p);
        --t_front.count[bin];
        t_front.bytes -= class_size(bin);
        return p;
      }
      if (bin >= first_medium_bin) {
        if (void* p = allocate_medium(bin)) return p;
      }
    }
    size = class_size(bin);
    alignment = 16;
  } else if (size > huge_blocks::threshold) {
    if (void* p = allocate_huge(size, alignment, zero)) return p;
    // The huge region cannot grow (jemalloc's ranges are in the way): jemalloc may have room.
  }
  return allocate_slow(size, alignment, zero);
}

void* heap::allocate_slow(std::size_t size, std::size_t alignment, bool zero) noexcept {
  const int cache = flags(size, alignment);  // makes t_last this thread's entry for the heap
  const int f = cache | MALLOCX_ARENA(m_arenas[t_last.arena]) | (zero ? MALLOCX_ZERO : 0);
  if (m_writers != nullptr && m_writers->remote_pending()) collect_remote();
  if (void* p = mallocx(size, f)) return p;
  // Full, or jemalloc would not split the free ranges it has for this size (it splits a freed
  // range only up to 64 times the request): give every cached block back, turn free ranges
  // into retained ones (which it splits at any size), and try once more.
  purge();
  return mallocx(size, f);
}

// Takes blocks of a medium bin from the shared cache: one for the caller, and a few more for
// the thread's front cache, so the lock is taken once per few blocks.
void* heap::allocate_medium(unsigned bin) noexcept {
  if (m_shared.bytes() == 0) return nullptr;
  const bool ours = t_front.generation == m_generation || t_front.bytes == 0;
  unsigned got = 0;
  void* first = m_shared.take(bin, ours ? refill_count(bin) : 1, got);
  if (got > 1) {
    // The bin is empty here: the caller found no block in it.
    t_front.generation = m_generation;
    t_front.head[bin] = next(first);
    t_front.count[bin] = got - 1;
    t_front.bytes += (got - 1) * class_size(bin);
  }
  return first;
}

void heap::deallocate(void* p, std::size_t size, std::size_t alignment) noexcept {
  if (p == nullptr || forked()) return;
  if (!mine(p)) {
    // Another writer's block (this heap's own never leave its spans).
    if (m_writers != nullptr) m_writers->free_remote(static_cast<std::size_t>(
                                  static_cast<std::byte*>(p) - m_base));
    return;
  }
  if (size != 0 && cacheable(size, alignment)) {
    const unsigned bin = bin_of(size);
    if (t_front.generation != m_generation) {
      if (t_front.bytes != 0) {  // the front cache serves another heap
        release_blocks(bin, p, p, 1);
        return;
      }
      t_front.generation = m_generation;
    }
    next(p) = t_front.head[bin];
    t_front.head[bin] = p;
    ++t_front.count[bin];
    t_front.bytes += class_size(bin);
    if (t_front.bytes > front_budget) spill_front(bin);
    return;
  }
  // A huge block may have shrunk (to no less than twice any cached size): look at the bounds.
  if (huge_blocks* span = huge_span(p)) {
    span->deallocate(p);
    return;
  }
  if (size != 0) {
    sdallocx(p, size, flags(size, alignment));
  } else {
    dallocx(p, flags(0, 0));  // jemalloc looks the size up; alignment does not matter
  }
}

// The front cache is over its budget after a free into `bin`. If `bin` holds most of it, the
// older half of `bin` leaves (its recent blocks are the ones about to be reused); otherwise the
// other bins hold blocks of sizes no longer freed here, and they all leave.
void heap::spill_front(unsigned bin) noexcept {
  const std::size_t size = class_size(bin);
  if (t_front.count[bin] * size >= front_budget / 2) {
    const unsigned keep = t_front.count[bin] / 2;
    void* last_kept = t_front.head[bin];
    for (unsigned i = 1; i < keep; ++i) last_kept = next(last_kept);
    void* first = next(last_kept);
    next(last_kept) = nullptr;
    const unsigned n = t_front.count[bin] - keep;
    void* last = first;
    for (unsigned i = 1; i < n; ++i) last = next(last);
    t_front.count[bin] = keep;
    t_front.bytes -= n * size;
    release_blocks(bin, first, last, n);
    return;
  }
  for (unsigned other = 1; other < cache_bins; ++other) {
    if (other == bin || t_front.count[other] == 0) continue;
    const unsigned n = t_front.count[other];
    void* first = detach_bin(other);
    void* last = first;
    for (unsigned i = 1; i < n; ++i) last = next(last);
    release_blocks(other, first, last, n);
  }
}

// Blocks of `bin` leaving a front cache, linked from `first` to `last`: medium ones to the
// shared cache while it has room, the rest to jemalloc.
void heap::release_blocks(unsigned bin, void* first, void* last, std::size_t n) noexcept {
  if (bin >= first_medium_bin && keep_shared(bin, first, last, n)) return;
  const std::size_t size = class_size(bin);
  const int f = flags(size, 16);
  for (void* p = first; n != 0; --n) {
    void* after = next(p);
    sdallocx(p, size, f);
    p = after;
  }
}

// Gives blocks of `bin` to the shared cache; when it is full of blocks of other sizes, those go
// back to jemalloc first: the sizes in use now are the ones worth keeping.
bool heap::keep_shared(unsigned bin, void* first, void* last, std::size_t n) noexcept {
  if (m_shared.give(bin, first, last, n)) return true;
  if (m_shared.bytes() <= m_shared.bytes(bin)) return false;
  m_shared.drain_others(bin,
                        [](void* p, std::size_t size) { sdallocx(p, size, MALLOCX_TCACHE_NONE); });
  return m_shared.give(bin, first, last, n);
}

std::size_t heap::expand(void* p, std::size_t min_size, std::size_t preferred_size) noexcept {
  if (forked()) return usable_size(p);
  if (!mine(p)) return 0;  // another writer's block: only its heap knows it
  if (huge_blocks* span = huge_span(p)) return span->expand(p, min_size, preferred_size);
  return xallocx(p, min_size, preferred_size > min_size ? preferred_size - min_size : 0, 0);
}

std::size_t heap::usable_size(const void* p) const noexcept {
  if (!mine(p)) return 0;
  if (huge_blocks* span = huge_span(p)) return span->usable_size(p);
  return sallocx(const_cast<void*>(p), 0);
}

void heap::flush_thread_cache() noexcept {
  if (forked()) return;
  if (t_front.generation == m_generation) drain_front(flags(16, 16));
  if (t_last.generation != m_generation &&
      std::none_of(t_caches.entries.begin(), t_caches.entries.end(),
                   [&](const thread_entry& e) { return e.generation == m_generation; })) {
    return;  // this thread never cached anything here
  }
  unsigned tc = thread_cache().tcache;
  if (tc != UINT32_MAX) mallctl("tcache.flush", nullptr, nullptr, &tc, sizeof tc);
}

void heap::release_shared() noexcept {
  m_shared.drain([](void* p, std::size_t size) { sdallocx(p, size, MALLOCX_TCACHE_NONE); });
}

void heap::purge_arenas() noexcept {
  for (unsigned i = 0, n = arena_count(); i < n; ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "arena.%u.purge", m_arenas[i]);
    mallctl(name, nullptr, nullptr, nullptr, 0);
  }
}

void heap::purge() noexcept {
  if (forked()) return;
  collect_remote();
  release_shared();
  flush_thread_cache();
  purge_arenas();
  for (unsigned i = 0, n = m_nspans.load(std::memory_order_acquire); i < n; ++i) {
    m_spans[i]->purge();
  }
}

std::size_t heap::allocated() const noexcept {
  std::uint64_t epoch = 1;
  std::size_t size = sizeof epoch;
  mallctl("epoch", &epoch, &size, &epoch, size);
  std::size_t total = 0;
  for (unsigned i = 0, n = arena_count(); i < n; ++i) {
    for (const char* kind : {"small", "large"}) {
      char name[96];
      std::snprintf(name, sizeof name, "stats.arenas.%u.%s.allocated", m_arenas[i], kind);
      std::size_t bytes = 0;
      size = sizeof bytes;
      if (mallctl(name, &bytes, &size, nullptr, 0) == 0) total += bytes;
    }
  }
  // Blocks in the shared cache are free to users; jemalloc counts them as live.
  const std::size_t cached = m_shared.bytes();
  std::size_t huge = 0;
  for (unsigned i = 0, n = m_nspans.load(std::memory_order_acquire); i < n; ++i) {
    huge += m_spans[i]->allocated();
  }
  return (total > cached ? total - cached : 0) + huge;
}

}  // namespace seam::detail
