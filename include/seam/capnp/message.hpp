#pragma once
/// \file
/// Cap'n Proto messages in an arena: `seam::capnp::message_builder` and
/// `seam::capnp::message_reader`.

#include <capnp/message.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "seam/arena/arena.hpp"
#include "seam/base/export.hpp"
#include "seam/base/unique_fd.hpp"
#include "seam/session/session.hpp"

namespace seam::capnp {

namespace detail {
struct segments;
}

/// How a builder grows.
struct builder_options {
  /// Words of the first segment (Cap'n Proto's own first request is 1 word, far too small).
  std::size_t first_segment_words = 1024;
  /// Largest segment; later segments double in size up to this.
  std::size_t max_segment_words = std::size_t{1} << 27;  // 1 GiB
};

/// Limits a reader applies to a message from another process.
struct reader_options {
  /// Cap'n Proto's traversal limit; 0 means 8 times the message's size (enough to read every
  /// byte several times, while bounding the work a hostile message with aliased pointers can
  /// cause). Cap'n Proto's own default (64 MiB) would refuse a 1 GiB message.
  std::uint64_t traversal_limit_words = 0;
  /// Deepest nesting of structs and lists a reader accepts (Cap'n Proto's limit).
  int nesting_limit = 64;
  /// Most segments a message may have.
  std::size_t max_segments = 1 << 14;
  /// Largest message the copying path accepts (it allocates that much).
  std::size_t max_copy_words = std::size_t{1} << 29;  // 4 GiB
};

/// A `capnp::MessageBuilder` whose segments are zeroed blocks of an arena, so that the message
/// can be sent by handle, with no copy.
///
/// The segments outlive the builder while the message is lent: each send lends the message,
/// and the segments are freed only after the builder is gone AND every receiver dropped its
/// reader (or died). Only the arena's owner process builds; not thread-safe (like any
/// `MessageBuilder`). The builder object itself lives in private memory.
class SEAM_API message_builder final : public ::capnp::MessageBuilder {
 public:
  /// A builder whose segments come from `arena`.
  explicit message_builder(seam::arena& arena, builder_options options = {});
  /// Builds in the session's arena.
  explicit message_builder(seam::session& session, builder_options options = {})
      : message_builder(session.arena(), options) {}
  message_builder(const message_builder&) = delete;
  message_builder& operator=(const message_builder&) = delete;
  ~message_builder() override;

  /// Cap'n Proto's hook: a zeroed segment of at least `minimum_size` words from the arena.
  kj::ArrayPtr<::capnp::word> allocateSegment(unsigned minimum_size) override;

  /// The arena the segments come from.
  seam::arena& arena() const noexcept;
  /// Words in use by the message so far.
  std::size_t size_words();

 private:
  friend class channel;
  std::shared_ptr<detail::segments> m_segments;
  builder_options m_options;
  std::size_t m_next_words;
};

/// A received Cap'n Proto message. With zero copy it reads the sender's arena in place and
/// releases the sender's lend when destroyed; with the copying path it owns a private copy.
/// Movable; one thread at a time (like any `MessageReader`).
class SEAM_API message_reader {
 public:
  message_reader() noexcept;
  /// Move constructor.
  message_reader(message_reader&&) noexcept;
  /// Move assignment.
  message_reader& operator=(message_reader&&) noexcept;
  ~message_reader();

  /// The root struct, as `Schema::Reader`.
  template <class Schema>
  typename Schema::Reader root() {
    return reader().getRoot<Schema>();
  }
  /// The underlying `capnp::MessageReader`.
  ::capnp::MessageReader& reader();
  /// Words of the message.
  std::size_t size_words() const noexcept;
  /// True if the message is read in the sender's arena (no copy).
  bool zero_copy() const noexcept;
  /// Descriptors that came with the message.
  std::vector<unique_fd>& fds() noexcept;
  /// True unless empty.
  explicit operator bool() const noexcept { return static_cast<bool>(m_state); }

  /// Implementation detail (defined in capnp/detail/segments.hpp).
  struct state;
  /// For the channel: adopts a validated message.
  explicit message_reader(std::unique_ptr<state> s) noexcept;

 private:
  std::unique_ptr<state> m_state;
};

}  // namespace seam::capnp
