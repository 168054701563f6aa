#include "arena/detail/heap.hpp"

#include <pthread.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdint>

#include "arena/detail/os.hpp"

namespace seam::detail {
namespace {

// jemalloc 5.3's `arena_config_t`, taken by `experimental.arenas_create_ext`. It is not in the
// public header; its layout is {hooks, metadata_use_hooks} in 5.3.
struct arena_config {
  extent_hooks_t* extent_hooks;
  bool metadata_use_hooks;
};

// Incremented in every forked child: a heap created under another epoch belongs to the parent.
std::atomic<unsigned> g_fork_epoch{0};

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

struct cache_entry {
  std::uint64_t generation;
  unsigned tcache;
};

// The cache used last by this thread: the fast path, trivially destructible.
constinit thread_local cache_entry t_last{0, 0};

// Every cache this thread made; destroyed with the thread.
// A thread's front cache of small blocks for one heap (the first it frees into, until it is
// flushed). jemalloc's calls with an explicit arena and thread cache take its generic path
// (measured ~31 ns per allocate+free, against ~13 ns for plain malloc); a last-in-first-out
// stack of recently freed blocks per 16-byte size bin serves most pairs without jemalloc.
// Blocks up to `max_size` are always asked of jemalloc rounded up to their bin, so any cached
// block fits any request of its bin, and is freed to jemalloc with its bin's size.
struct front_cache {
  static constexpr std::size_t max_size = 1024;
  static constexpr unsigned bins = max_size / 16 + 1;
  static constexpr unsigned depth = 32;
  std::uint64_t generation = 0;  // the heap cached for; 0: none
  std::uint32_t total = 0;       // blocks held
  std::uint32_t count[bins] = {};
  void* slots[bins][depth] = {};
};
constinit thread_local front_cache t_front{};

bool small(std::size_t size, std::size_t alignment) noexcept {
  return size <= front_cache::max_size && alignment <= 16;
}
unsigned bin_of(std::size_t size) noexcept { return static_cast<unsigned>((size + 15) >> 4); }

// Gives every block of the front cache back to jemalloc (the heap must be alive).
void drain_front(int flags) noexcept {
  for (unsigned bin = 1; bin < front_cache::bins; ++bin) {
    for (unsigned i = 0; i < t_front.count[bin]; ++i) sdallocx(t_front.slots[bin][i], bin << 4, flags);
    t_front.count[bin] = 0;
  }
  t_front.total = 0;
  t_front.generation = 0;
}

// Forgets the front cache without touching its blocks (their heap is gone, or is the parent's).
void forget_front() noexcept { t_front = front_cache{}; }

struct thread_caches {
  std::vector<cache_entry> entries;
  ~thread_caches() {
    heap::release_front_cache();
    for (const auto& e : entries) heap::release_thread_cache(e.generation, e.tcache);
    t_last = {0, 0};
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

  // Carves a fresh range off the bump pointer. Fresh memfd pages are zero and always
  // "committed" (the mapping is there). `new_addr` asks to extend a range in place: possible
  // only if it is the current top.
  static void* alloc(extent_hooks_t* h, void* new_addr, std::size_t size, std::size_t alignment,
                     bool* zero, bool* commit, unsigned) {
    heap& self = of(h);
    if (self.forked()) return nullptr;
    const auto base = reinterpret_cast<std::uintptr_t>(self.m_base);
    std::size_t top = self.m_top.load(std::memory_order_relaxed);
    std::size_t start;
    do {
      if (new_addr != nullptr) {
        start = reinterpret_cast<std::uintptr_t>(new_addr) - base;
        if (start != top) return nullptr;
      } else {
        start = ((base + top + alignment - 1) & ~(alignment - 1)) - base;
      }
      if (start > self.m_capacity || size > self.m_capacity - start) return nullptr;
    } while (!self.m_top.compare_exchange_weak(top, start + size, std::memory_order_relaxed));
    self.m_extents.fetch_add(1, std::memory_order_relaxed);
    *zero = true;
    *commit = true;
    return self.m_base + start;
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
    if (self.forked() || self.m_dying.load(std::memory_order_relaxed)) return true;
    const auto at = static_cast<std::size_t>(static_cast<std::byte*>(addr) - self.m_base) + offset;
    return !punch_hole(self.m_fd, at, length);
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

heap::heap(int fd, std::byte* base, std::size_t begin, std::size_t capacity, std::error_code& ec)
    : m_table{{&hooks::alloc, &hooks::dalloc, &hooks::destroy, nullptr, nullptr, nullptr,
               &hooks::purge, &hooks::split, &hooks::merge},
              this},
      m_fd(fd),
      m_base(base),
      m_capacity(capacity),
      m_generation(g_next_generation.fetch_add(1, std::memory_order_relaxed)),
      m_fork_epoch(g_fork_epoch.load(std::memory_order_relaxed)),
      m_top(begin) {
  install_fork_handlers();
  arena_config config{&m_table.hooks, false};
  std::size_t size = sizeof m_index;
  if (int r = mallctl("experimental.arenas_create_ext", &m_index, &size, &config, sizeof config);
      r != 0) {
    ec = {r, std::system_category()};
    return;
  }
  m_created = true;
  // jemalloc purges a freed extent of 8 MiB or more at once; in a memfd that is a hole punched
  // and every page faulted in again on reuse (a growing vector paid it at each step). Let such
  // extents decay like the rest; `purge()` remains the way to return memory now.
  char name[64];
  std::snprintf(name, sizeof name, "arena.%u.oversize_threshold", m_index);
  std::size_t never = capacity;
  mallctl(name, nullptr, nullptr, &never, sizeof never);
  std::lock_guard lock(g_registry_mutex);
  registry().push_back(this);
  ec.clear();
}

heap::~heap() {
  {
    std::lock_guard lock(g_registry_mutex);
    std::erase(registry(), this);
  }
  if (!m_created || forked()) return;
  m_dying.store(true, std::memory_order_relaxed);
  if (t_front.generation == m_generation) forget_front();  // its blocks go with the arena
  {
    std::lock_guard lock(m_mutex);
    for (unsigned tc : m_tcaches) destroy_tcache(tc);
    m_tcaches.clear();
  }
  char name[64];
  std::snprintf(name, sizeof name, "arena.%u.destroy", m_index);
  mallctl(name, nullptr, nullptr, nullptr, 0);
}

bool heap::forked() const noexcept {
  return m_fork_epoch != g_fork_epoch.load(std::memory_order_relaxed);
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

unsigned heap::thread_cache() noexcept {
  if (t_last.generation == m_generation) return t_last.tcache;
  return thread_cache_slow();
}

unsigned heap::thread_cache_slow() noexcept {
  auto& entries = t_caches.entries;
  auto it = std::find_if(entries.begin(), entries.end(),
                         [&](const cache_entry& e) { return e.generation == m_generation; });
  if (it == entries.end()) {
    unsigned tc = 0;
    std::size_t size = sizeof tc;
    if (mallctl("tcache.create", &tc, &size, nullptr, 0) != 0) return UINT32_MAX;
    {
      std::lock_guard lock(m_mutex);
      m_tcaches.push_back(tc);
    }
    // Forget caches of heaps that are gone (their generation never comes back).
    {
      std::lock_guard lock(g_registry_mutex);
      auto gone = [](std::uint64_t generation) {
        return std::none_of(registry().begin(), registry().end(),
                            [&](heap* h) { return h->m_generation == generation; });
      };
      std::erase_if(entries, [&](const cache_entry& e) { return gone(e.generation); });
      if (t_front.generation != 0 && gone(t_front.generation)) forget_front();
    }
    entries.push_back({m_generation, tc});
    it = entries.end() - 1;
  }
  t_last = *it;
  return it->tcache;
}

int heap::flags(std::size_t size, std::size_t alignment) noexcept {
  const unsigned tc = thread_cache();
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
  if (small(size, alignment)) {
    const unsigned bin = bin_of(size);
    if (!zero && t_front.generation == m_generation && t_front.count[bin] != 0) {
      --t_front.total;
      return t_front.slots[bin][--t_front.count[bin]];
    }
    size = std::size_t{bin} << 4;
    alignment = 16;
  }
  return mallocx(size, flags(size, alignment) | MALLOCX_ARENA(m_index) | (zero ? MALLOCX_ZERO : 0));
}

void heap::deallocate(void* p, std::size_t size, std::size_t alignment) noexcept {
  if (p == nullptr || forked()) return;
  if (size != 0 && small(size, alignment)) {
    const unsigned bin = bin_of(size);
    if (t_front.generation != m_generation) {
      if (t_front.total != 0) {  // the cache serves another heap: free directly
        sdallocx(p, std::size_t{bin} << 4, flags(std::size_t{bin} << 4, 16));
        return;
      }
      t_front.generation = m_generation;
    }
    if (t_front.count[bin] == front_cache::depth) {
      // Full: the older half goes back to jemalloc.
      const int f = flags(std::size_t{bin} << 4, 16);
      for (unsigned i = 0; i < front_cache::depth / 2; ++i) sdallocx(t_front.slots[bin][i], bin << 4, f);
      std::copy(t_front.slots[bin] + front_cache::depth / 2, t_front.slots[bin] + front_cache::depth,
                t_front.slots[bin]);
      t_front.count[bin] = front_cache::depth / 2;
      t_front.total -= front_cache::depth / 2;
    }
    t_front.slots[bin][t_front.count[bin]++] = p;
    ++t_front.total;
    return;
  }
  if (size != 0) {
    sdallocx(p, size, flags(size, alignment));
  } else {
    dallocx(p, flags(0, 0));  // jemalloc looks the size up; alignment does not matter
  }
}

std::size_t heap::expand(void* p, std::size_t min_size, std::size_t preferred_size) noexcept {
  if (forked()) return usable_size(p);
  return xallocx(p, min_size, preferred_size > min_size ? preferred_size - min_size : 0, 0);
}

std::size_t heap::usable_size(const void* p) noexcept {
  return sallocx(const_cast<void*>(p), 0);
}

void heap::flush_thread_cache() noexcept {
  if (forked()) return;
  if (t_front.generation == m_generation) drain_front(flags(16, 16));
  if (t_last.generation != m_generation &&
      std::none_of(t_caches.entries.begin(), t_caches.entries.end(),
                   [&](const cache_entry& e) { return e.generation == m_generation; })) {
    return;  // this thread never cached anything here
  }
  unsigned tc = thread_cache();
  mallctl("tcache.flush", nullptr, nullptr, &tc, sizeof tc);
}

void heap::purge() noexcept {
  if (forked()) return;
  flush_thread_cache();
  char name[64];
  std::snprintf(name, sizeof name, "arena.%u.purge", m_index);
  mallctl(name, nullptr, nullptr, nullptr, 0);
}

std::size_t heap::allocated() const noexcept {
  std::uint64_t epoch = 1;
  std::size_t size = sizeof epoch;
  mallctl("epoch", &epoch, &size, &epoch, size);
  std::size_t total = 0;
  for (const char* kind : {"small", "large"}) {
    char name[96];
    std::snprintf(name, sizeof name, "stats.arenas.%u.%s.allocated", m_index, kind);
    std::size_t bytes = 0;
    size = sizeof bytes;
    if (mallctl(name, &bytes, &size, nullptr, 0) == 0) total += bytes;
  }
  return total;
}

}  // namespace seam::detail
