// Fuzzes the zero-copy Cap'n Proto receive path: `check_table` (the segment table a peer
// names in its arena) and, when it accepts, `message_reader::state::open` and a full traversal
// of the message over the peer's bytes.
//
// The peer's arena is played by a private buffer that ends right at an inaccessible guard page,
// and whose bytes before it are poisoned for ASan. Cap'n Proto reads segments in libcapnp,
// which ASan does not instrument: only a fault catches its reads past the arena, hence the
// guard page. A table `check_table` accepts must also satisfy an independent oracle.
//
// Input: reader limits, the arena's size, a table header, a number of refs and the refs, then
// the words that fill the arena from just past its header page (the rest is zero).

#include <capnp/any.h>
#include <capnp/message.h>
#include <capnp/schema.capnp.h>
#include <kj/debug.h>
#include <kj/exception.h>
#include <kj/string.h>
#include <sanitizer/asan_interface.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <system_error>
#include <vector>

#include "arena/detail/layout.hpp"
#include "capnp/detail/segments.hpp"
#include "fuzz_input.hpp"
#include "seam/session/error.hpp"

namespace {

using seam::capnp::detail::segment_ref;
using seam::capnp::detail::table_header;
using seam::fuzz::input;

constexpr std::size_t page = 4096;
constexpr std::size_t max_arena = seam::detail::header_bytes + std::size_t{8} * 8192;

// The stand-in arena: `max_arena` usable bytes, then a guard page. Each input's arena is the
// last `arena_bytes` of it, so one byte past the arena is always the guard page.
class guarded_buffer {
 public:
  guarded_buffer() {
    // A fault-on-read page is what catches reads by uninstrumented code; heap memory cannot
    // give one, so this is the one place outside arena/detail that maps memory itself.
    void* p = ::mmap(nullptr, max_arena + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);
    if (p == MAP_FAILED || ::mprotect(static_cast<std::byte*>(p) + max_arena, page, PROT_NONE)) {
      std::abort();
    }
    m_start = static_cast<std::byte*>(p);
  }

  /// Zeroes and returns an arena of `bytes` (a multiple of 8 up to `max_arena`) ending at the
  /// guard page; what lies before it is poisoned.
  std::byte* arena(std::size_t bytes) noexcept {
    std::byte* base = m_start + max_arena - bytes;
    ASAN_POISON_MEMORY_REGION(m_start, max_arena - bytes);
    ASAN_UNPOISON_MEMORY_REGION(base, bytes);
    std::memset(base, 0, bytes);
    return base;
  }

 private:
  std::byte* m_start = nullptr;
};

// The oracle for check_table: what "inside the arena, past its header, aligned" means.
bool table_ok(const table_header& header, const std::vector<segment_ref>& refs,
              std::size_t arena_bytes, const seam::capnp::reader_options& options) {
  if (header.count == 0 || header.count > options.max_segments || refs.size() != header.count) {
    return false;
  }
  for (const segment_ref& ref : refs) {
    std::uint64_t bytes = 0, end = 0;
    if (ref.words == 0 || ref.offset % 8 != 0 || ref.offset < seam::detail::header_bytes ||
        __builtin_mul_overflow(ref.words, 8, &bytes) ||
        __builtin_add_overflow(ref.offset, bytes, &end) || end > arena_bytes) {
      return false;
    }
  }
  return true;
}

// Follows every pointer of a message with no schema, reading each byte it reaches here, in
// instrumented code: data sections, primitive lists, and the words of struct lists.
class walker {
 public:
  void pointer(capnp::AnyPointer::Reader p) {
    if (m_budget == 0) return;
    --m_budget;
    switch (p.getPointerType()) {
      case capnp::PointerType::NULL_:
      case capnp::PointerType::CAPABILITY:  // no capability table: nothing to follow
        return;
      case capnp::PointerType::STRUCT:
        structure(p.getAs<capnp::AnyStruct>());
        return;
      case capnp::PointerType::LIST:
        list(p.getAs<capnp::AnyList>());
        return;
    }
  }

  std::uint64_t sum() const noexcept { return m_sum; }

 private:
  void structure(capnp::AnyStruct::Reader s) {
    if (m_budget == 0) return;
    --m_budget;
    const auto data = s.getDataSection();
    m_sum += seam::fuzz::touch(data.begin(), data.size());
    for (capnp::AnyPointer::Reader p : s.getPointerSection()) pointer(p);
  }

  void list(capnp::AnyList::Reader l) {
    switch (l.getElementSize()) {
      case capnp::ElementSize::POINTER:
        for (capnp::AnyPointer::Reader p : l.as<capnp::List<capnp::AnyPointer>>()) pointer(p);
        return;
      case capnp::ElementSize::INLINE_COMPOSITE:
        for (capnp::AnyStruct::Reader s : l.as<capnp::List<capnp::AnyStruct>>()) structure(s);
        return;
      default: {
        const auto raw = l.getRawBytes();
        m_sum += seam::fuzz::touch(raw.begin(), raw.size());
        return;
      }
    }
  }

  std::uint64_t m_sum = 0;
  std::size_t m_budget = 1 << 16;  // visits: a cyclic message ends at the traversal limit anyway
};

// Every way the receiver may read the message; each gets a fresh reader (and traversal limit),
// and each may throw kj::Exception on a bad pointer, which is the reader's job.
void traverse(std::unique_ptr<seam::capnp::message_reader::state> state,
              const seam::capnp::reader_options& options) {
  auto attempt = [&](auto&& read) {
    try {
      state->open(options);
      read(*state->reader);
    } catch (const kj::Exception&) {
    }
  };
  attempt([](capnp::MessageReader& r) {
    walker w;
    w.pointer(r.getRoot<capnp::AnyPointer>());
    static_cast<void>(w.sum());
  });
  attempt([](capnp::MessageReader& r) {
    const capnp::MessageSize size = r.getRoot<capnp::AnyPointer>().targetSize();
    static_cast<void>(size);
  });
  attempt([](capnp::MessageReader& r) { static_cast<void>(r.isCanonical()); });
  attempt([](capnp::MessageReader& r) {
    // A deep copy checks every pointer and copies every byte it reaches.
    capnp::MallocMessageBuilder copy;
    copy.getRoot<capnp::AnyPointer>().set(r.getRoot<capnp::AnyPointer>());
  });
  // Through the public reader, as a user would: typed (a schema the library ships), with text
  // fields that must be NUL-terminated inside their segment.
  try {
    state->open(options);
    seam::capnp::message_reader reader(std::move(state));
    const kj::String text = kj::str(reader.root<capnp::schema::Node>());
    static_cast<void>(seam::fuzz::touch(text.cStr(), text.size()));
  } catch (const kj::Exception&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Cap'n Proto logs some recoverable errors before throwing; thousands a second help no one.
  kj::_::Debug::setLogLevel(kj::LogSeverity::FATAL);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static guarded_buffer* const buffer = new guarded_buffer;  // never unmapped
  input in(data, size);

  seam::capnp::reader_options options;
  options.max_segments = 1 + in.take<std::uint8_t>() % 32;
  options.nesting_limit = 1 + in.take<std::uint8_t>() % 64;
  // Bounded, so that a message of aliased pointers costs at most this many words per read.
  options.traversal_limit_words = 1 + in.take<std::uint16_t>();
  const std::size_t arena_bytes =
      seam::detail::header_bytes + 8 * (in.take<std::uint16_t>() % 8192);

  const auto header = in.take<table_header>();
  std::vector<segment_ref> refs(in.take<std::uint8_t>() % 33);
  for (segment_ref& ref : refs) ref = in.take<segment_ref>();

  std::byte* arena = buffer->arena(arena_bytes);
  const auto words = in.rest();
  if (!words.empty()) {
    std::memcpy(arena + seam::detail::header_bytes, words.data(),
                std::min(words.size(), arena_bytes - seam::detail::header_bytes));
  }

  const std::error_code ec = seam::capnp::detail::check_table(header, refs, arena_bytes,
                                                              seam::detail::header_bytes, options);
  SEAM_FUZZ_CHECK(!ec == table_ok(header, refs, arena_bytes, options));
  if (ec) {
    SEAM_FUZZ_CHECK(ec == seam::errc::protocol_error || ec == seam::errc::handle_misaligned ||
                    ec == seam::errc::handle_out_of_range);
    return 0;
  }

  // As open_table does, once the table is accepted.
  auto state = std::make_unique<seam::capnp::message_reader::state>();
  for (const segment_ref& ref : refs) {
    state->segment_list.push_back(
        {reinterpret_cast<const capnp::word*>(arena + ref.offset), ref.words});
    state->words += ref.words;
  }
  traverse(std::move(state), options);
  return 0;
}
