#pragma once
// The shared-memory ring: what each side of a ring channel keeps in its OWN arena, and the
// records in it. Each side writes only its block; the peer maps it read-only. So a side's block
// holds its sending half (tail, the bytes) and its receiving half (head): per direction the
// slots and the tail are in the sender's arena and the head in the receiver's.
//
// Everything read from the peer's block is untrusted: `check_indices` and `decode_record`
// validate it before anything is copied. They are pure, for the fuzzer.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <system_error>

#include "seam/base/handle.hpp"
#include "seam/channel/message.hpp"
#include "seam/session/error.hpp"

namespace seam::detail {

/// One side's block, followed by `capacity` bytes of ring.
struct ring_block {
  static constexpr std::uint64_t magic_value = 0x32474e524d414553;  // "SEAMRNG2"

  // Immutable once the block is lent.
  std::uint64_t magic;
  std::uint64_t capacity;
  // Sending half, read by the peer's receiver.
  alignas(64) std::atomic<std::uint64_t> tail;
  /// The CPU this side last sent from (-1: unknown), in the line the receiver reads anyway. A
  /// hint only: a receiver on that same CPU does not spin, since the sender needs the CPU to
  /// answer.
  std::atomic<std::int32_t> sender_cpu;
  /// The peer's receiver sleeps on this futex word: bumped after `tail` moved while it said it
  /// sleeps, and when this side closes. (A sleep on `tail` itself would miss a close that
  /// came between the receiver's last look and its sleep.)
  std::atomic<std::uint32_t> data_bell;
  /// Non-zero while this side waits for room (sleeping on the peer's `room_bell`).
  alignas(64) std::atomic<std::uint32_t> writer_waiting;
  // Receiving half, read by the peer's sender.
  alignas(64) std::atomic<std::uint64_t> head;
  /// The peer's sender sleeps on this word: bumped after `head` moved while it waited for
  /// room, and when this side closes.
  std::atomic<std::uint32_t> room_bell;
  /// 1 while this side sleeps for data; 2 while it also wants its eventfd signalled (a
  /// `native_handle()` user). Read by the peer's sender after each send.
  alignas(64) std::atomic<std::uint32_t> reader_waiting;
  /// Non-zero once this side closed the channel.
  std::atomic<std::uint32_t> closed;
  // `capacity` bytes of ring follow, at `ring_bytes_of`.
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

/// The ring's bytes, right after the block (which is a multiple of 64 bytes).
inline std::byte* ring_bytes_of(ring_block* b) noexcept {
  return reinterpret_cast<std::byte*>(b) + sizeof(ring_block);
}
inline const std::byte* ring_bytes_of(const ring_block* b) noexcept {
  return reinterpret_cast<const std::byte*>(b) + sizeof(ring_block);
}

/// A 32-bit atomic as a futex word.
inline const std::uint32_t* futex_word(const std::atomic<std::uint32_t>& word) noexcept {
  return reinterpret_cast<const std::uint32_t*>(&word);
}

/// Smallest and largest ring; a power of two, so that positions are masks.
inline constexpr std::uint64_t min_ring_bytes = std::uint64_t{4} << 10;
inline constexpr std::uint64_t max_ring_bytes = std::uint64_t{1} << 30;

/// Before each message in the ring.
struct record_header {
  static constexpr std::uint32_t magic_value = 0x4d474e52;  // "RNGM"
  /// A record of releases (see `release_carrier`): `handles` only, applied by the receiver,
  /// never delivered as a message.
  static constexpr std::uint32_t release_magic = 0x52474e52;  // "RNGR"
  std::uint32_t magic;
  std::uint32_t bytes;    // message bytes after the handles
  std::uint32_t handles;  // 16-byte handles right after the header
  std::uint32_t fds;      // descriptors waiting on the channel's socket, in order
};
static_assert(sizeof(record_header) == 16);

/// Bytes a record takes in the ring: header, handles, bytes, rounded up to 8.
inline std::uint64_t record_size(std::uint64_t bytes, std::uint64_t handles) noexcept {
  return (sizeof(record_header) + handles * sizeof(handle<std::byte>) + bytes + 7) &
         ~std::uint64_t{7};
}

/// Copies `n` bytes out of a ring of `capacity` (a power of two) from position `at`.
inline void ring_read(const std::byte* ring, std::uint64_t capacity, std::uint64_t at, void* out,
                      std::uint64_t n) noexcept {
  const std::uint64_t start = at & (capacity - 1);
  const std::uint64_t first = n < capacity - start ? n : capacity - start;
  if (first != 0) std::memcpy(out, ring + start, first);
  if (n > first) std::memcpy(static_cast<std::byte*>(out) + first, ring, n - first);
}

/// Copies `n` bytes into a ring at position `at`.
inline void ring_write(std::byte* ring, std::uint64_t capacity, std::uint64_t at, const void* in,
                       std::uint64_t n) noexcept {
  const std::uint64_t start = at & (capacity - 1);
  const std::uint64_t first = n < capacity - start ? n : capacity - start;
  if (first != 0) std::memcpy(ring + start, in, first);
  if (n > first) std::memcpy(ring, static_cast<const std::byte*>(in) + first, n - first);
}

/// Checks indices read from the peer: a reader's view of the peer's `tail` against its own
/// `head` (or a writer's own tail against the peer's `head`): `later` is at most `capacity`
/// ahead of `earlier`, never behind it.
inline bool check_indices(std::uint64_t earlier, std::uint64_t later,
                          std::uint64_t capacity) noexcept {
  return later - earlier <= capacity;  // unsigned: `later` behind `earlier` wraps past it
}

/// Checks the record at `head` of a ring with `available` published bytes (already checked
/// against the capacity) and returns its header. Every field is bounded: the record fits in
/// what was published, its handles and bytes in it, its fds under `max_fds`.
inline std::error_code decode_record(const std::byte* ring, std::uint64_t capacity,
                                     std::uint64_t head, std::uint64_t available,
                                     std::size_t max_fds, record_header& out) noexcept {
  if (available < sizeof(record_header)) return errc::protocol_error;
  ring_read(ring, capacity, head, &out, sizeof out);
  if (out.magic == record_header::release_magic) {
    if (out.handles == 0 || out.bytes != 0 || out.fds != 0) return errc::protocol_error;
  } else if (out.magic != record_header::magic_value || out.fds > max_fds) {
    return errc::protocol_error;
  }
  if (record_size(out.bytes, out.handles) > available) return errc::protocol_error;
  return {};
}

/// The reader's whole check of what the peer published: `tail` (read from the peer) against
/// our `head`, the record at `head`, and then its handles and bytes copied out into `out`
/// (fds are left to the caller: `header.fds` says how many). Returns the record's size in the
/// ring through `used`. Pure over the ring's bytes: the fuzzer calls it directly.
std::error_code read_record(const std::byte* ring, std::uint64_t capacity, std::uint64_t head,
                            std::uint64_t tail, std::size_t max_fds, record_header& header,
                            message& out, std::uint64_t& used) noexcept;

}  // namespace seam::detail
