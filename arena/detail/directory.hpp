#pragma once
// The directory of named objects as laid out in the arena (see seam/arena/named.hpp for what it
// promises). Written by the owner, read by views in other processes as untrusted input.
//
// Layout: `arena_header::directory_offset` -> block 0 -> block 1 -> ... (each block's `next`).
// A block is a 64-byte header, `capacity` hash slots (8 bytes each, padded to 64), and
// `capacity` entries of 320 bytes; slot i describes entry i. Each block is an open-addressing
// hash table: a name lives at the first usable slot from `probe_start(hash, capacity)` on
// (linear probing). A slot holds 0 if it was never used (a lookup stops there), `tombstone` if
// its name was removed (a lookup goes on past it; a make may reuse it), or the name's hash
// while its entry is reserved or live. Slots never go back to 0, so the probe path to a name
// that is not being changed stays unbroken while others are made and removed. The owner fills
// a block to half its capacity, then starts the next; a lookup probes every block (each a few
// slots, in one or two cache lines), and the entry, read under its sequence counter, decides:
// a slot is only a filter. Block k holds
// `block_capacity(k)` entries (12, 24, 48, ... up to 12288), so the chain is short and a
// reader can check each block's capacity and position exactly. Blocks are zeroed when
// allocated, published with a release store, and never moved or freed while the arena lives,
// so a reader never follows an offset into a freed block.
//
// Shared writers (planned): every writer changes the directory (reserves, publishes and
// removes entries, appends blocks) under the robust process-shared lock that will live in
// `arena_header::directory_lock` (reserved, zero today): the header exists before the first
// block, so installing that block needs nothing more. All of the directory's state is in the
// arena (the `used` counts included), so a writer needs nothing from the process that made
// it. Until then the owner's threads serialise on a mutex in its private memory.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "seam/arena/type_fingerprint.hpp"

namespace seam::detail {

inline constexpr std::uint64_t directory_magic = 0x3152494453454553;  // "SEESDIR1" little-endian
inline constexpr std::size_t name_words = 32;                         // 256 bytes >= 255 + 1
inline constexpr std::size_t first_block_capacity = 12;               // first block fits 4 KiB
inline constexpr std::size_t max_block_shift = 10;                    // 12 << 10 = 12288 entries
inline constexpr std::size_t max_directory_blocks = 32;  // 282,612 slots: 141,306 names
/// The hash slot of a removed name. Names' hashes are odd, so no name hashes to 0 or to this.
inline constexpr std::uint64_t tombstone = 2;
/// A reader retries an entry that changes under it this many times, then treats it as being
/// changed (absent). Bounded so that an owner killed in the middle of a write cannot hang it.
inline constexpr int max_entry_reads = 256;

/// An entry's state. Only `entry_live` entries are visible to `find`.
enum entry_state : std::uint64_t {
  entry_free = 0,
  entry_reserved = 1,  // name taken, object being constructed
  entry_live = 2,
};

/// One name. Every field is a 64-bit word, read and written with atomic operations, so that a
/// reader copying an entry while the owner rewrites it races on atomics only.
struct directory_entry {
  std::uint64_t sequence;  // even: stable; odd: being rewritten
  std::uint64_t state;     // entry_state
  std::uint64_t name_hash;
  std::uint64_t name_length;
  std::uint64_t offset;  // the object, from the arena's start; 0 unless live
  std::uint64_t size;
  std::uint64_t alignment;
  std::uint64_t fingerprint;
  std::uint64_t name[name_words];  // the name's bytes, zero-padded
};
static_assert(sizeof(directory_entry) == 320);

struct directory_block {
  std::uint64_t magic;
  std::uint64_t index;     // position in the chain: 0 for the first block
  std::uint64_t capacity;  // entries after this header: block_capacity(index)
  std::uint64_t next;      // offset of the next block, or 0; published with a release store
  std::uint64_t used;      // slots that are not 0 (writers' bookkeeping; readers ignore it)
  std::uint64_t reserved[3];
};
static_assert(sizeof(directory_block) == 64);
inline constexpr std::size_t directory_block_alignment = 64;

constexpr std::uint64_t block_capacity(std::uint64_t index) noexcept {
  return first_block_capacity << (index < max_block_shift ? index : max_block_shift);
}
/// Bytes of a block's hash array with `capacity` slots: whole cache lines.
constexpr std::uint64_t hashes_bytes(std::uint64_t capacity) noexcept {
  return (capacity * sizeof(std::uint64_t) + 63) / 64 * 64;
}
constexpr std::uint64_t block_bytes(std::uint64_t index) noexcept {
  return sizeof(directory_block) + hashes_bytes(block_capacity(index)) +
         block_capacity(index) * sizeof(directory_entry);
}
static_assert(block_bytes(0) <= 4096);

// The capacity is the caller's (`block_capacity(index)`), never re-read from shared memory:
// a value checked once must not change under the reader.
inline std::uint64_t* hashes_of(directory_block* b) noexcept {
  return reinterpret_cast<std::uint64_t*>(b + 1);
}
inline const std::uint64_t* hashes_of(const directory_block* b) noexcept {
  return reinterpret_cast<const std::uint64_t*>(b + 1);
}
inline directory_entry* entries_of(directory_block* b, std::uint64_t capacity) noexcept {
  return reinterpret_cast<directory_entry*>(reinterpret_cast<std::byte*>(b + 1) +
                                            hashes_bytes(capacity));
}
inline const directory_entry* entries_of(const directory_block* b,
                                         std::uint64_t capacity) noexcept {
  return reinterpret_cast<const directory_entry*>(reinterpret_cast<const std::byte*>(b + 1) +
                                                  hashes_bytes(capacity));
}

/// A name's hash as entries and hash slots record it: odd, so never 0 nor `tombstone`.
inline std::uint64_t name_hash(std::string_view name) noexcept {
  return mix64(fnv1a(name) ^ name.size()) | 1;
}
/// Where a name's probe starts in a block of `capacity` slots.
constexpr std::uint64_t probe_start(std::uint64_t hash, std::uint64_t capacity) noexcept {
  return (hash >> 1) % capacity;
}

inline std::uint64_t load_relaxed(const std::uint64_t& v) noexcept {
  return __atomic_load_n(&v, __ATOMIC_RELAXED);
}
inline void store_relaxed(std::uint64_t& v, std::uint64_t value) noexcept {
  __atomic_store_n(&v, value, __ATOMIC_RELAXED);
}

/// Makes `arena_header::directory_lock` a robust, process-shared mutex: the lock under which
/// every writer process changes the directory (arena/named.cpp). Called by the arena's creator.
void init_directory_lock(void* lock) noexcept;

}  // namespace seam::detail
