#pragma once
// The directory of named objects as laid out in the arena (see seam/arena/named.hpp for what it
// promises). Written by the owner, read by views in other processes as untrusted input.
//
// Layout: `arena_header::directory_offset` -> block 0 -> block 1 -> ... (each block's `next`).
// A block is a 64-byte header and `capacity` entries of 320 bytes. Block k holds
// `block_capacity(k)` entries (12, 24, 48, ... up to 12288), so the chain is short and a
// reader can check each block's capacity and position exactly. Blocks are zeroed when
// allocated, published with a release store, and never moved or freed while the arena lives,
// so a reader never follows an offset into a freed block.
//
// Shared writers (planned): the first block is then installed with a compare-and-swap on
// `directory_offset` (the loser frees its block), and entries are changed under the robust
// process-shared lock that will live in `directory_block::lock` (reserved, zero today). Until
// then the owner's threads serialise on a mutex in its private memory.

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace seam::detail {

inline constexpr std::uint64_t directory_magic = 0x3152494453454553;  // "SEESDIR1" little-endian
inline constexpr std::size_t name_words = 32;                       // 256 bytes >= 255 + 1
inline constexpr std::size_t first_block_capacity = 12;              // first block fits 4 KiB
inline constexpr std::size_t max_block_shift = 10;                   // 12 << 10 = 12288 entries
inline constexpr std::size_t max_directory_blocks = 32;              // 282,612 names at most
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
  std::uint64_t lock[4];   // reserved for the shared writers' lock; zero today
};
static_assert(sizeof(directory_block) == 64);
inline constexpr std::size_t directory_block_alignment = 64;

constexpr std::uint64_t block_capacity(std::uint64_t index) noexcept {
  return first_block_capacity << (index < max_block_shift ? index : max_block_shift);
}
constexpr std::uint64_t block_bytes(std::uint64_t index) noexcept {
  return sizeof(directory_block) + block_capacity(index) * sizeof(directory_entry);
}
static_assert(block_bytes(0) <= 4096);

inline directory_entry* entries_of(directory_block* b) noexcept {
  return reinterpret_cast<directory_entry*>(b + 1);
}
inline const directory_entry* entries_of(const directory_block* b) noexcept {
  return reinterpret_cast<const directory_entry*>(b + 1);
}

inline std::uint64_t load_relaxed(const std::uint64_t& v) noexcept {
  return __atomic_load_n(&v, __ATOMIC_RELAXED);
}
inline void store_relaxed(std::uint64_t& v, std::uint64_t value) noexcept {
  __atomic_store_n(&v, value, __ATOMIC_RELAXED);
}

}  // namespace seam::detail
