#include "seam/channel/message.hpp"

#include <algorithm>
#include <limits>

#include "arena/detail/layout.hpp"
#include "channel/detail/segments.hpp"
#include "seam/arena/error.hpp"

namespace seam::capnp {

using ::capnp::word;

message_builder::message_builder(seam::arena& arena, builder_options options)
    : m_segments(std::make_shared<detail::segments>()),
      m_options(options),
      m_next_words(std::max<std::size_t>(options.first_segment_words, 1)) {
  m_segments->arena = &arena;
}

message_builder::~message_builder() = default;

kj::ArrayPtr<word> message_builder::allocateSegment(unsigned minimum_size) {
  const std::size_t words = std::max<std::size_t>(minimum_size, m_next_words);
  // Zeroed, as Cap'n Proto requires; fresh arena memory is zero already and is not written.
  auto* p = static_cast<word*>(m_segments->arena->allocate_zeroed(words * sizeof(word), 8));
  m_segments->blocks.push_back({p, words});
  // Double, like Cap'n Proto's own heuristic, so a big message has few segments.
  m_next_words = std::min(m_options.max_segment_words, m_next_words + words);
  return {p, words};
}

seam::arena& message_builder::arena() const noexcept { return *m_segments->arena; }

std::size_t message_builder::size_words() {
  std::size_t total = 0;
  for (const auto& s : getSegmentsForOutput()) total += s.size();
  return total;
}

message_reader::message_reader() noexcept = default;
message_reader::message_reader(std::unique_ptr<state> s) noexcept : m_state(std::move(s)) {}
message_reader::message_reader(message_reader&&) noexcept = default;
message_reader& message_reader::operator=(message_reader&&) noexcept = default;
message_reader::~message_reader() = default;

::capnp::MessageReader& message_reader::reader() {
  if (!m_state) throw std::system_error(errc::protocol_error, "seam::capnp::message_reader: empty");
  return *m_state->reader;
}
std::size_t message_reader::size_words() const noexcept { return m_state ? m_state->words : 0; }
bool message_reader::zero_copy() const noexcept {
  return m_state && static_cast<bool>(m_state->table);
}
std::vector<unique_fd>& message_reader::fds() noexcept {
  static thread_local std::vector<unique_fd> none;
  return m_state ? m_state->fds : none;
}

void message_reader::state::open(const reader_options& options) {
  ::capnp::ReaderOptions o;
  const std::uint64_t automatic =
      words > std::numeric_limits<std::uint64_t>::max() / 8 ? words : std::uint64_t{8} * words;
  o.traversalLimitInWords =
      options.traversal_limit_words != 0 ? options.traversal_limit_words
                                         : std::max<std::uint64_t>(automatic, o.traversalLimitInWords);
  o.nestingLimit = options.nesting_limit;
  reader.emplace(kj::ArrayPtr<const kj::ArrayPtr<const word>>(segment_list.data(),
                                                               segment_list.size()),
                 o);
}

namespace detail {

std::error_code check_table(const table_header& header, std::span<const segment_ref> refs,
                            std::size_t arena_bytes, const reader_options& options) noexcept {
  if (header.count == 0 || header.count > options.max_segments || refs.size() != header.count) {
    return errc::protocol_error;
  }
  for (const auto& ref : refs) {
    if (ref.words == 0) return errc::protocol_error;
    if (ref.offset % sizeof(word) != 0) return errc::handle_misaligned;
    // The header page holds no segment.
    if (ref.offset < seam::detail::header_bytes || ref.offset > arena_bytes ||
        ref.words > (arena_bytes - ref.offset) / sizeof(word)) {
      return errc::handle_out_of_range;
    }
  }
  return {};
}

std::unique_ptr<message_reader::state> open_table(seam::session& session,
                                                  handle<std::byte> table,
                                                  const reader_options& options) {
  auto s = std::make_unique<message_reader::state>();
  s->table = session.borrow(table.as<table_header>());
  const auto view = session.peer_arena(table.arena_id);
  // Copy out of shared memory first: what is checked is what is used.
  const table_header header = *s->table;
  if (header.count == 0 || header.count > options.max_segments) {
    throw std::system_error(errc::protocol_error, "seam::capnp: segment count out of bounds");
  }
  const auto refs_in_arena = session.get(
      handle<segment_ref>{table.arena_id, table.offset + sizeof(table_header)}, header.count);
  const std::vector<segment_ref> refs(refs_in_arena.begin(), refs_in_arena.end());
  throw_if(check_table(header, refs, view->size(), options), "seam::capnp: bad segment table");
  s->segment_list.reserve(refs.size());
  for (const auto& ref : refs) {
    const auto* start = reinterpret_cast<const word*>(view->base() + ref.offset);
    s->segment_list.push_back({start, ref.words});
    s->words += ref.words;
  }
  s->open(options);
  return s;
}

}  // namespace detail
}  // namespace seam::capnp
