#include "seam/capnp/message.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

#include "capnp/detail/segments.hpp"
#include "seam/session/error.hpp"

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
  o.traversalLimitInWords = options.traversal_limit_words != 0
                                ? options.traversal_limit_words
                                : std::max<std::uint64_t>(automatic, o.traversalLimitInWords);
  o.nestingLimit = options.nesting_limit;
  reader.emplace(
      kj::ArrayPtr<const kj::ArrayPtr<const word>>(segment_list.data(), segment_list.size()), o);
}

namespace detail {

std::error_code check_table(const table_header& header, std::span<const segment_ref> refs,
                            std::size_t arena_bytes, std::size_t first_offset,
                            const reader_options& options) noexcept {
  if (header.count == 0 || header.count > options.max_segments || refs.size() != header.count) {
    return errc::protocol_error;
  }
  for (const auto& ref : refs) {
    if (ref.words == 0) return errc::protocol_error;
    if (ref.offset % sizeof(word) != 0) return errc::handle_misaligned;
    if (ref.offset < first_offset || ref.offset > arena_bytes ||
        ref.words > (arena_bytes - ref.offset) / sizeof(word)) {
      return errc::handle_out_of_range;
    }
  }
  return {};
}

std::error_code decode_copy(std::span<const std::byte> bytes, const reader_options& options,
                            message_reader::state& state) noexcept {
  std::uint32_t count_minus_one = 0;
  if (bytes.size() < sizeof count_minus_one) return errc::protocol_error;
  std::memcpy(&count_minus_one, bytes.data(), sizeof count_minus_one);
  if (count_minus_one >= options.max_segments) return errc::protocol_error;
  const std::size_t count = std::size_t{count_minus_one} + 1;
  // The count and the sizes, padded to a whole word.
  const std::size_t table_bytes = (1 + count + (count % 2 == 0 ? 1 : 0)) * sizeof(std::uint32_t);
  if (bytes.size() < table_bytes) return errc::protocol_error;
  std::size_t total = 0;
  for (std::size_t i = 0; i < count; ++i) {
    std::uint32_t size;
    std::memcpy(&size, bytes.data() + (1 + i) * sizeof size, sizeof size);
    total += size;  // at most 2^14 sizes of 2^32: no overflow
  }
  if (total == 0 || total > options.max_copy_words) return errc::message_too_large;
  if ((bytes.size() - table_bytes) != total * sizeof(word)) return errc::protocol_error;
  try {
    state.segment_list.clear();
    state.segment_list.reserve(count);
    const auto* at = reinterpret_cast<const word*>(bytes.data() + table_bytes);
    for (std::size_t i = 0; i < count; ++i) {
      std::uint32_t size;
      std::memcpy(&size, bytes.data() + (1 + i) * sizeof size, sizeof size);
      state.segment_list.push_back({at, size});
      at += size;
    }
  } catch (const std::bad_alloc&) {
    return std::make_error_code(std::errc::not_enough_memory);
  }
  state.words = total;
  return {};
}

std::unique_ptr<message_reader::state> open_table(seam::session& session, handle<std::byte> table,
                                                  const reader_options& options) {
  auto s = std::make_unique<message_reader::state>();
  s->table = session.borrow(table.as<table_header>());
  // Copy out of shared memory first: what is checked is what is used.
  const table_header header = *s->table;
  if (header.count == 0 || header.count > options.max_segments) {
    throw std::system_error(errc::protocol_error, "seam::capnp: segment count out of bounds");
  }
  const auto refs_in_arena = session.get(
      handle<segment_ref>{table.arena_id, table.offset + sizeof(table_header)}, header.count);
  const std::vector<segment_ref> refs(refs_in_arena.begin(), refs_in_arena.end());
  throw_if(check_table(header, refs, SIZE_MAX, sizeof(word), options),
           "seam::capnp: bad segment table");
  s->segment_list.reserve(refs.size());
  for (const auto& ref : refs) {
    // Each segment through the session's one check (arena, bounds past its header, alignment).
    std::error_code ec;
    const void* start =
        session.resolve({table.arena_id, ref.offset}, ref.words * sizeof(word), sizeof(word), ec);
    throw_if(ec, "seam::capnp: bad segment table");
    s->segment_list.push_back({static_cast<const word*>(start), ref.words});
    s->words += ref.words;
  }
  s->open(options);
  return s;
}

}  // namespace detail
}  // namespace seam::capnp
