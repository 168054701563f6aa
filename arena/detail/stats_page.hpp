#pragma once
// The stats page: bytes [2048, 4096) of the arena's header page, where the owner publishes what
// `arena::stats()` reports so that another process (the `seam stats` tool, any view) can read
// it without asking the owner. Written by the owner only, read as untrusted input.
//
// A seqlock: the owner makes `sequence` odd (a compare-and-swap, so that two of its threads
// never write at once: the loser skips, the winner's figures are as fresh), writes the fields,
// then makes `sequence` even again; a reader copies the fields between two reads of the same
// even `sequence`. Every word is read and written atomically (release stores, acquire loads),
// so a reader racing the owner races on atomics only. A reader retries a bounded number of
// times: an owner killed in the middle of a write leaves `sequence` odd for ever, and the
// reader then reports the page busy instead of waiting.

#include <cstddef>
#include <cstdint>

#include "arena/detail/layout.hpp"

namespace seam::detail {

inline constexpr std::uint64_t stats_magic = 0x5441545341455345;  // "SEEASTAT" little-endian
inline constexpr std::size_t stats_page_offset = 2048;
/// A reader gives up after this many copies that changed under it.
inline constexpr int max_stats_reads = 64;

struct stats_page {
  std::uint64_t magic;  // stats_magic once something was published; 0 before
  std::uint64_t sequence;
  std::uint64_t owner_pid;
  std::uint64_t published_ns;  // CLOCK_REALTIME
  std::uint64_t publications;
  std::uint64_t capacity;
  std::uint64_t reserved;
  std::uint64_t allocated;
  std::uint64_t resident;
  std::uint64_t extents;
};
// The arena header (and the shared writers' tables) stay below the stats page.
static_assert(sizeof(arena_header) <= stats_page_offset);
static_assert(stats_page_offset + sizeof(stats_page) <= header_bytes);

inline stats_page& stats_page_of(std::byte* base) noexcept {
  return *reinterpret_cast<stats_page*>(base + stats_page_offset);
}
inline const stats_page& stats_page_of(const std::byte* base) noexcept {
  return *reinterpret_cast<const stats_page*>(base + stats_page_offset);
}

}  // namespace seam::detail
