// Named objects: the directory's lookup (shared by the owner and every reader) and its writer
// side (the owner). The layout is in arena/detail/directory.hpp; the promises in
// seam/arena/named.hpp.

#include <pthread.h>
#include <time.h>

#include <cerrno>
#include <cstring>

#include "arena/detail/directory.hpp"
#include "arena/detail/layout.hpp"
#include "seam/arena/arena.hpp"

namespace seam {
namespace detail {
namespace {

// The directory's lock: the process's own mutex (its threads), then the arena's robust,
// process-shared one (the other writer processes). The shared one is bytes of the arena: a
// writer that died holding it hands it on (EOWNERDEAD; the entry it was writing stays reserved
// or half-written, which readers already survive), and one left locked by garbage is waited
// for a bounded time, then ignored, rather than hanging this process.
class directory_guard {
 public:
  directory_guard(std::mutex& local, void* shared) noexcept
      : m_local(local), m_shared(static_cast<pthread_mutex_t*>(shared)) {
    m_local.lock();
    timespec deadline{};
    ::clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 10;
    const int r = ::pthread_mutex_timedlock(m_shared, &deadline);
    if (r == EOWNERDEAD) ::pthread_mutex_consistent(m_shared);
    m_held = r == 0 || r == EOWNERDEAD;
  }
  directory_guard(const directory_guard&) = delete;
  directory_guard& operator=(const directory_guard&) = delete;
  ~directory_guard() {
    if (m_held) ::pthread_mutex_unlock(m_shared);
    m_local.unlock();
  }

 private:
  std::mutex& m_local;
  pthread_mutex_t* m_shared;
  bool m_held = false;
};

bool valid_name(std::string_view name) noexcept {
  return !name.empty() && name.size() <= max_name_length;
}

void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/// The name's bytes as the entry stores them: zero-padded words.
struct name_buffer {
  std::uint64_t words[name_words] = {};
  explicit name_buffer(std::string_view name) noexcept {
    if (!name.empty()) std::memcpy(words, name.data(), name.size());  // data() may be null
  }
  name_buffer() noexcept = default;
};

/// Block `index` of the chain, found at `offset`: checked to lie inside the mapping, aligned,
/// with the magic, position and capacity a block at that position has. Sets `ec` to
/// `errc::corrupt_arena` and returns nullptr if not.
const directory_block* block_at(const std::byte* base, std::size_t mapped, std::uint64_t id,
                                std::uint64_t offset, std::uint64_t index,
                                std::error_code& ec) noexcept {
  // The chain's length bounds the walk: a `next` pointing back cannot loop forever.
  if (index >= max_directory_blocks) {
    ec = errc::corrupt_arena;
    return nullptr;
  }
  const void* p =
      resolve_in(base, mapped, id, id, offset, block_bytes(index), directory_block_alignment, ec);
  if (p == nullptr) {
    ec = errc::corrupt_arena;
    return nullptr;
  }
  const auto* block = static_cast<const directory_block*>(p);
  if (load_relaxed(block->magic) != directory_magic || load_relaxed(block->index) != index ||
      load_relaxed(block->capacity) != block_capacity(index)) {
    ec = errc::corrupt_arena;
    return nullptr;
  }
  return block;
}

/// What a reader copies out of an entry that holds the name it looks for.
struct entry_copy {
  std::uint64_t offset, size, alignment, fingerprint;
  std::uint64_t name[name_words];  // only the name's words are written: no 256-byte clear
};

/// Copies `e` if it is live and holds a name of `length` bytes hashing to `hash`, consistently
/// (the sequence was even and unchanged around the copy). False otherwise, including when the
/// entry kept changing for `max_entry_reads` attempts: it is then being made or destroyed.
bool read_entry(const directory_entry& e, std::uint64_t hash, std::uint64_t length,
                entry_copy& out) noexcept {
  for (int attempt = 0; attempt < max_entry_reads; ++attempt) {
    const std::uint64_t before = load_acquire(e.sequence);
    if ((before & 1) != 0) {
      cpu_relax();
      continue;
    }
    // A torn read here can only skip an entry that is changing: that is a race with a make
    // or destroy of that entry's name, where missing it is allowed.
    if (load_acquire(e.state) != entry_live || load_acquire(e.name_hash) != hash ||
        load_acquire(e.name_length) != length) {
      return false;
    }
    // Acquire loads (not a fence, which ThreadSanitizer does not support) keep the second read
    // of the sequence after every field: a field from a newer write then shows as a newer
    // sequence. Plain loads on x86.
    out.offset = load_acquire(e.offset);
    out.size = load_acquire(e.size);
    out.alignment = load_acquire(e.alignment);
    out.fingerprint = load_acquire(e.fingerprint);
    // `length` is the looked-up name's, already checked to be at most max_name_length.
    for (std::size_t w = 0; w < (length + 7) / 8; ++w) out.name[w] = load_acquire(e.name[w]);
    if (load_relaxed(e.sequence) == before) return true;
  }
  return false;
}

/// Rewrites `e` under its sequence counter. Callers hold the owner's names mutex.
void write_entry(directory_entry& e, entry_state state, std::string_view name,
                 const named_type& type, std::uint64_t offset) noexcept {
  const std::uint64_t sequence = load_relaxed(e.sequence);
  store_relaxed(e.sequence, sequence + 1);
  // Release stores keep the odd sequence before every field (see read_entry).
  const name_buffer words(name);
  store_release(e.state, state);
  store_release(e.name_hash, name.empty() ? 0 : name_hash(name));
  store_release(e.name_length, name.size());
  store_release(e.offset, offset);
  store_release(e.size, type.size);
  store_release(e.alignment, type.alignment);
  store_release(e.fingerprint, type.fingerprint);
  for (std::size_t w = 0; w < name_words; ++w) store_release(e.name[w], words.words[w]);
  store_release(e.sequence, sequence + 2);
}

/// Changes only the state and offset of `e`, under its sequence counter.
void write_state(directory_entry& e, entry_state state, std::uint64_t offset) noexcept {
  const std::uint64_t sequence = load_relaxed(e.sequence);
  store_relaxed(e.sequence, sequence + 1);
  store_release(e.state, state);
  store_release(e.offset, offset);
  store_release(e.sequence, sequence + 2);
}

/// The owner's view of an entry (the owner holds the mutex: nothing changes under it).
bool holds_name(const directory_entry& e, std::string_view name, std::uint64_t hash) noexcept {
  if (load_relaxed(e.state) == entry_free || load_relaxed(e.name_hash) != hash ||
      load_relaxed(e.name_length) != name.size()) {
    return false;
  }
  const name_buffer wanted(name);
  for (std::size_t w = 0; w < (name.size() + 7) / 8; ++w) {
    if (load_relaxed(e.name[w]) != wanted.words[w]) return false;
  }
  return true;
}

arena_header& header_of(std::byte* base) noexcept { return *reinterpret_cast<arena_header*>(base); }

}  // namespace

const void* find_named(const std::byte* base, std::size_t mapped, std::uint64_t id,
                       std::string_view name, const named_type& type,
                       std::error_code& ec) noexcept {
  ec.clear();
  if (!valid_name(name)) {
    ec = errc::bad_name;
    return nullptr;
  }
  if (base == nullptr || mapped < header_bytes) return nullptr;
  const auto& header = *reinterpret_cast<const arena_header*>(base);
  const std::uint64_t hash = name_hash(name);
  std::uint64_t offset = load_acquire(header.directory_offset);
  for (std::uint64_t index = 0; offset != 0; ++index) {
    const directory_block* block = block_at(base, mapped, id, offset, index, ec);
    if (block == nullptr) return nullptr;
    const std::uint64_t capacity = block_capacity(index);
    const std::uint64_t* hashes = hashes_of(block);
    const directory_entry* entries = entries_of(block, capacity);
    // At most `capacity` probes, even if a corrupt block has no 0 slot left.
    std::uint64_t i = probe_start(hash, capacity);
    for (std::uint64_t probes = 0; probes < capacity; ++probes, i = i + 1 == capacity ? 0 : i + 1) {
      const std::uint64_t slot = load_acquire(hashes[i]);
      if (slot == 0) break;
      if (slot != hash) continue;  // a filter: the entry decides
      entry_copy copy;
      if (!read_entry(entries[i], hash, name.size(), copy)) continue;
      if (std::memcmp(copy.name, name.data(), name.size()) != 0) continue;
      if (copy.size != type.size || copy.alignment != type.alignment ||
          copy.fingerprint != type.fingerprint) {
        ec = errc::type_mismatch;
        return nullptr;
      }
      const void* p = resolve_in(base, mapped, id, id, copy.offset, type.size, type.alignment, ec);
      if (p == nullptr) ec = errc::corrupt_arena;
      return p;
    }
    offset = load_acquire(block->next);
  }
  return nullptr;
}

std::vector<named_object_info> list_named(const std::byte* base, std::size_t mapped,
                                          std::uint64_t id, std::error_code& ec) noexcept {
  ec.clear();
  std::vector<named_object_info> out;
  if (base == nullptr || mapped < header_bytes) return out;
  try {
    const auto& header = *reinterpret_cast<const arena_header*>(base);
    std::uint64_t offset = load_acquire(header.directory_offset);
    for (std::uint64_t index = 0; offset != 0; ++index) {
      const directory_block* block = block_at(base, mapped, id, offset, index, ec);
      if (block == nullptr) return out;
      const std::uint64_t capacity = block_capacity(index);
      const std::uint64_t* hashes = hashes_of(block);
      const directory_entry* entries = entries_of(block, capacity);
      for (std::uint64_t i = 0; i < capacity; ++i) {
        const std::uint64_t hash = load_acquire(hashes[i]);
        if (hash == 0 || hash == tombstone) continue;
        const std::uint64_t length = load_acquire(entries[i].name_length);
        if (length == 0 || length > max_name_length) continue;  // changing, or checked below
        entry_copy copy;
        if (!read_entry(entries[i], hash, length, copy)) continue;  // not live, or changing
        named_object_info info;
        info.name.assign(reinterpret_cast<const char*>(copy.name), length);
        info.offset = copy.offset;
        info.size = copy.size;
        info.alignment = copy.alignment;
        info.fingerprint = copy.fingerprint;
        const bool aligned = copy.alignment != 0 && (copy.alignment & (copy.alignment - 1)) == 0;
        if (name_hash(info.name) != hash || !aligned ||
            resolve_in(base, mapped, id, id, copy.offset, copy.size, copy.alignment, ec) ==
                nullptr) {
          ec = errc::corrupt_arena;
          return out;
        }
        out.push_back(std::move(info));
      }
      offset = load_acquire(block->next);
    }
  } catch (const std::bad_alloc&) {
    ec = std::make_error_code(std::errc::not_enough_memory);
  }
  return out;
}

}  // namespace detail

namespace {

/// Probes the owner's directory for `hash` (validated as a reader would: with shared writers,
/// other processes will write it too): calls `visit(block, hash slot, entry)` on every slot of
/// the name's probe path in each block, the 0 slot that ends it included, until `visit`
/// returns true; returns that slot, or {nullptr, nullptr} with `last` = the last block (nullptr
/// if none) and `count` = the number of blocks. Throws `errc::corrupt_arena`.
template <class Visit>
detail::name_slot probe(const arena& a, std::uint64_t hash, Visit visit,
                        detail::directory_block*& last, std::uint64_t& count) {
  using namespace detail;
  last = nullptr;
  count = 0;
  std::uint64_t offset = load_acquire(header_of(a.base()).directory_offset);
  while (offset != 0) {
    std::error_code ec;
    const directory_block* found = block_at(a.base(), a.capacity(), a.id(), offset, count, ec);
    throw_if(ec, "seam::arena: directory of named objects");
    auto* block = const_cast<directory_block*>(found);  // the owner maps its arena writable
    const std::uint64_t capacity = block_capacity(count);
    std::uint64_t* hashes = hashes_of(block);
    directory_entry* entries = entries_of(block, capacity);
    std::uint64_t i = probe_start(hash, capacity);
    for (std::uint64_t n = 0; n < capacity; ++n, i = i + 1 == capacity ? 0 : i + 1) {
      if (visit(*block, hashes[i], entries[i])) return {&hashes[i], &entries[i]};
      if (load_relaxed(hashes[i]) == 0) break;
    }
    last = block;
    ++count;
    offset = load_acquire(block->next);
  }
  return {nullptr, nullptr};
}

}  // namespace

namespace detail {

void init_directory_lock(void* lock) noexcept {
  static_assert(sizeof(pthread_mutex_t) <= sizeof(arena_header::directory_lock));
  pthread_mutexattr_t attr;
  ::pthread_mutexattr_init(&attr);
  ::pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  ::pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  ::pthread_mutex_init(static_cast<pthread_mutex_t*>(lock), &attr);
  ::pthread_mutexattr_destroy(&attr);
}

}  // namespace detail

detail::name_slot arena::reserve_name(std::string_view name, const detail::named_type& type) {
  using namespace detail;
  if (!valid_name(name)) throw std::system_error(errc::bad_name, "seam::arena::make_named");
  // Before the mutex: a forked child's copy of it may be held by a thread that no longer exists.
  if (forked()) throw std::system_error(errc::forked_child, "seam::arena::make_named");
  detail::directory_guard lock(m_names_mutex, detail::header_of(base()).directory_lock);
  const std::uint64_t hash = name_hash(name);
  // The first usable slot on the name's path: a tombstone, or a never-used slot of a block
  // that is less than half full. The whole path is walked: the name may be further on.
  name_slot chosen{nullptr, nullptr};
  directory_block* chosen_block = nullptr;
  directory_block* last = nullptr;
  std::uint64_t blocks = 0;
  probe(
      *this, hash,
      [&](directory_block& block, std::uint64_t& slot, directory_entry& e) {
        const std::uint64_t h = load_relaxed(slot);
        if (h == hash && holds_name(e, name, hash)) {
          throw std::system_error(errc::name_exists, "seam::arena::make_named");
        }
        const bool usable = h == tombstone || (h == 0 && 2 * (block.used + 1) <= block.capacity);
        if (usable && chosen.entry == nullptr) {
          chosen = {&slot, &e};
          chosen_block = &block;
        }
        return false;
      },
      last, blocks);
  if (chosen.entry == nullptr) {
    if (blocks == max_directory_blocks) {
      throw std::system_error(errc::arena_full, "seam::arena::make_named: the directory is full");
    }
    // Zeroed: every entry starts free with an even sequence, every slot never used.
    auto* block = static_cast<directory_block*>(
        allocate_zeroed(block_bytes(blocks), directory_block_alignment));
    block->magic = directory_magic;
    block->index = blocks;
    block->capacity = block_capacity(blocks);
    const std::uint64_t i = probe_start(hash, block->capacity);
    chosen = {&hashes_of(block)[i], &entries_of(block, block->capacity)[i]};
    chosen_block = block;
    const std::uint64_t offset = handle_of(block).offset;
    store_release(last == nullptr ? header_of(base()).directory_offset : last->next, offset);
  }
  if (load_relaxed(*chosen.hash) == 0) ++chosen_block->used;
  write_entry(*chosen.entry, entry_reserved, name, type, 0);
  store_release(*chosen.hash, hash);
  return chosen;
}

void arena::publish_name(detail::name_slot slot, const void* object) noexcept {
  detail::directory_guard lock(m_names_mutex, detail::header_of(base()).directory_lock);
  detail::write_state(*slot.entry, detail::entry_live,
                      static_cast<std::uint64_t>(static_cast<const std::byte*>(object) - base()));
}

void arena::cancel_name(detail::name_slot slot) noexcept {
  detail::directory_guard lock(m_names_mutex, detail::header_of(base()).directory_lock);
  detail::store_release(*slot.hash, detail::tombstone);
  detail::write_entry(*slot.entry, detail::entry_free, {}, {0, 0, 0}, 0);
}

void* arena::unname(std::string_view name, const detail::named_type& type,
                    std::error_code& ec) noexcept {
  using namespace detail;
  ec.clear();
  if (!valid_name(name)) {
    ec = errc::bad_name;
    return nullptr;
  }
  if (forked()) {
    ec = errc::forked_child;
    return nullptr;
  }
  detail::directory_guard lock(m_names_mutex, detail::header_of(base()).directory_lock);
  const std::uint64_t hash = name_hash(name);
  directory_block* last = nullptr;
  std::uint64_t blocks = 0;
  name_slot slot{nullptr, nullptr};
  try {
    slot = probe(
        *this, hash,
        [&](directory_block&, std::uint64_t& slot_hash, directory_entry& e) {
          return load_relaxed(slot_hash) == hash && load_relaxed(e.state) == entry_live &&
                 holds_name(e, name, hash);
        },
        last, blocks);
  } catch (const std::system_error& error) {
    ec = error.code();
    return nullptr;
  }
  directory_entry* e = slot.entry;
  if (e == nullptr) return nullptr;
  if (load_relaxed(e->size) != type.size || load_relaxed(e->alignment) != type.alignment ||
      load_relaxed(e->fingerprint) != type.fingerprint) {
    ec = errc::type_mismatch;
    return nullptr;
  }
  const std::uint64_t offset = load_relaxed(e->offset);
  // The entry goes first: a reader that looks up after this sees nullptr, never the object
  // being destroyed.
  store_release(*slot.hash, tombstone);
  write_entry(*e, entry_free, {}, {0, 0, 0}, 0);
  void* p = const_cast<void*>(
      resolve_in(base(), capacity(), id(), id(), offset, type.size, type.alignment, ec));
  if (p == nullptr) ec = errc::corrupt_arena;
  return p;
}

}  // namespace seam
