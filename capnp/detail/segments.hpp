#pragma once
// What a zero-copy Cap'n Proto message is made of: the builder's segments (owned jointly by the
// builder and every outstanding lend), and the segment table that crosses to the reader.

#include <capnp/message.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <system_error>
#include <vector>

#include "seam/arena/arena.hpp"
#include "seam/capnp/message.hpp"
#include "seam/channel/message.hpp"
#include "seam/session/session.hpp"

namespace seam::capnp::detail {

/// Blocks of one builder; freed when the builder and every lend of the message are gone.
struct segments {
  seam::arena* arena = nullptr;
  std::vector<kj::ArrayPtr<::capnp::word>> blocks;
  segments() = default;
  segments(const segments&) = delete;
  segments& operator=(const segments&) = delete;
  ~segments() {
    for (auto& b : blocks) arena->deallocate(b.begin(), b.size() * sizeof(::capnp::word), 8);
  }
};

/// In the sender's arena: the header, then `count` refs. Offsets are in the same arena.
struct table_header {
  std::uint32_t count;
  std::uint32_t reserved;
};
struct segment_ref {
  std::uint64_t offset;
  std::uint64_t words;
};

}  // namespace seam::capnp::detail

namespace seam::capnp {

struct message_reader::state {
  seam::borrowed<const detail::table_header> table;  // zero copy: keeps the lend until we go
  seam::message_bytes copy;                          // copying: the message's bytes, words inside
  std::vector<kj::ArrayPtr<const ::capnp::word>> segment_list;
  std::size_t words = 0;
  std::vector<unique_fd> fds;
  std::optional<::capnp::SegmentArrayMessageReader> reader;

  /// Makes the Cap'n Proto reader over `segment_list` with `options`.
  void open(const reader_options& options);
};

}  // namespace seam::capnp

namespace seam::capnp::detail {

/// Checks a segment table copied out of the peer's arena of `arena_bytes` bytes: a bounded,
/// non-zero count, and each segment non-empty, 8-byte aligned and inside
/// [first_offset, arena_bytes), with no overflow. Pure: the fuzzers call it directly. (The
/// receiver then resolves each segment through the session, which knows the arena's header.)
std::error_code check_table(const table_header& header, std::span<const segment_ref> refs,
                            std::size_t arena_bytes, std::size_t first_offset,
                            const reader_options& options) noexcept;

/// Checks a copied message: `bytes` in Cap'n Proto's stream framing (segment count - 1, each
/// size, padding to a word, the words), consistent with its length and within `options`;
/// fills `state`'s segment list over `bytes` (which must be 8-byte aligned and outlive it).
std::error_code decode_copy(std::span<const std::byte> bytes, const reader_options& options,
                            message_reader::state& state) noexcept;

/// Reads and checks the segment table that `table` names in the peer's arena: the table is
/// copied out of shared memory before it is checked (the sender could change it meanwhile),
/// its count is bounded, and every segment must lie inside the peer's arena, 8-byte aligned.
std::unique_ptr<message_reader::state> open_table(seam::session& session, handle<std::byte> table,
                                                  const reader_options& options);

}  // namespace seam::capnp::detail
