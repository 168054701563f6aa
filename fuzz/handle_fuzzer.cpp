// Fuzzes the handle checks (`detail::resolve_in`, behind `arena_view::get` and `arena::get`)
// against a real arena: a small `seam::arena` with a few objects in it, and a read-only
// `seam::arena_view` over the fd it shares, as a peer process would map it.
//
// Every answer is compared with an oracle written independently of the library (overflow-safe
// arithmetic on the handle): a handle accepted that should not be fails a check before its
// bytes are read, and one refused that should not be fails too. An accepted pointer is then
// read at its first and last byte, in the view and in the owner's mapping of the same memfd.
//
// Input: a sequence of records; each draws an arena id, an offset and a size (raw, or near the
// objects and the ends of the mapping, where the off-by-ones live) and an alignment.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <system_error>
#include <vector>

#include "arena/detail/layout.hpp"
#include "fuzz_input.hpp"
#include "seam/arena/arena.hpp"
#include "seam/arena/arena_view.hpp"

namespace {

using seam::fuzz::input;

// One arena for the whole run: making one per input would cost a jemalloc arena each time.
struct fixture {
  struct object {
    std::uint64_t offset;
    std::size_t size;
  };

  seam::arena owner{seam::arena_options{std::size_t{4} << 20, "seam-fuzz-handles"}};
  seam::arena_view view;
  std::vector<object> objects;

  fixture() {
    // Assorted sizes and alignments, filled with a pattern, so that handles near them are
    // near real data and near jemalloc's own size-class boundaries.
    const std::size_t shapes[][2] = {{1, 1},       {8, 8},       {24, 8},           {64, 64},
                                     {4096, 4096}, {100000, 16}, {1 << 20, 1 << 16}};
    for (const auto& [size, alignment] : shapes) {
      auto* p = static_cast<unsigned char*>(owner.allocate(size, alignment));
      for (std::size_t i = 0; i < size; ++i) p[i] = static_cast<unsigned char>(i * 7 + size);
      objects.push_back({owner.handle_of(reinterpret_cast<const std::byte*>(p)).offset, size});
    }
    const seam::unique_fd fd = owner.share();
    view = seam::arena_view::open(fd.get());
  }
};

fixture& the_fixture() {
  static fixture* f = new fixture;  // never destroyed: libFuzzer may exit from any thread
  return *f;
}

struct request {
  std::uint64_t id;
  std::uint64_t offset;
  std::uint64_t size;
  std::size_t alignment;
  unsigned type;  // which T the typed paths use
};

// Draws one handle check from the input, biased toward the places where bounds checks break.
request draw(input& in, const fixture& fx) {
  const auto mode = in.take<std::uint8_t>();
  const auto align_log = in.take<std::uint8_t>();
  const std::uint64_t mapped = fx.view.size();
  request r{};
  switch (mode & 3) {
    case 0:
      r.id = fx.view.id();
      break;
    case 1:
      r.id = fx.view.id() ^ (std::uint64_t{1} << (in.take<std::uint8_t>() % 64));
      break;
    case 2:
      r.id = in.take<std::uint64_t>();
      break;
    default:
      r.id = 0;
      break;
  }
  switch ((mode >> 2) & 3) {
    case 0:
      r.offset = in.take<std::uint64_t>();
      break;
    case 1: {
      const auto& o = fx.objects[in.take<std::uint8_t>() % fx.objects.size()];
      r.offset = o.offset + static_cast<std::uint64_t>(in.take<std::int16_t>());
      break;
    }
    case 2:
      r.offset = mapped - static_cast<std::uint64_t>(in.take<std::int16_t>());
      break;
    default:
      r.offset = seam::detail::header_bytes + static_cast<std::uint64_t>(in.take<std::int16_t>());
      break;
  }
  switch ((mode >> 4) & 3) {
    case 0:
      r.size = in.take<std::uint8_t>();
      break;
    case 1:
      r.size = in.take<std::uint64_t>();
      break;
    // Right up to the end of the mapping, give or take: where `offset + size` may wrap.
    case 2:
      r.size = mapped - r.offset + static_cast<std::uint64_t>(in.take<std::int8_t>());
      break;
    default:
      r.size = fx.objects[in.take<std::uint8_t>() % fx.objects.size()].size;
      break;
  }
  // resolve_in is only ever asked for alignof(T): a power of two, at most the 2 MiB to which
  // every mapping is aligned.
  r.alignment = std::size_t{1} << ((align_log & 31) % 22);
  r.type = (align_log >> 5) % 5;
  return r;
}

// The oracle: does [offset, offset + size) name an aligned object of the arena past its header?
bool valid(const fixture& fx, std::uint64_t id, std::uint64_t offset, std::uint64_t size,
           std::size_t alignment) {
  std::uint64_t end = 0;
  if (id != fx.view.id() || offset < seam::detail::header_bytes) return false;
  if (__builtin_add_overflow(offset, size, &end) || end > fx.view.size()) return false;
  // Both mappings are 2 MiB-aligned, so alignment is the offset's.
  return offset % alignment == 0;
}

// What a reader does with an accepted pointer: reads the object. It must be inside the mapping
// and equal to the owner's bytes at the same offset (one memfd, two mappings).
void read_object(const fixture& fx, const void* p, std::uint64_t offset, std::uint64_t size) {
  const auto* bytes = static_cast<const unsigned char*>(p);
  SEAM_FUZZ_CHECK(bytes == reinterpret_cast<const unsigned char*>(fx.view.base()) + offset);
  SEAM_FUZZ_CHECK(fx.view.contains(p, size));
  if (size == 0) return;
  const auto* own = reinterpret_cast<const unsigned char*>(fx.owner.base()) + offset;
  SEAM_FUZZ_CHECK(seam::fuzz::touch(bytes, 1) == seam::fuzz::touch(own, 1));
  SEAM_FUZZ_CHECK(seam::fuzz::touch(bytes + size - 1, 1) == seam::fuzz::touch(own + size - 1, 1));
  const std::size_t head = size < 64 ? size : 64;
  SEAM_FUZZ_CHECK(std::memcmp(bytes, own, head) == 0);
}

void check_resolve(const fixture& fx, const request& r) {
  std::error_code ec;
  const void* p = seam::detail::resolve_in(fx.view.base(), fx.view.size(), fx.view.id(), r.id,
                                           r.offset, r.size, r.alignment, ec);
  const bool expected = valid(fx, r.id, r.offset, r.size, r.alignment);
  if (p == nullptr) {
    SEAM_FUZZ_CHECK(ec == seam::errc::null_handle || ec == seam::errc::foreign_handle ||
                    ec == seam::errc::handle_out_of_range || ec == seam::errc::handle_misaligned);
    SEAM_FUZZ_CHECK(!expected);
    return;
  }
  SEAM_FUZZ_CHECK(!ec);
  SEAM_FUZZ_CHECK(reinterpret_cast<std::uintptr_t>(p) % r.alignment == 0);
  SEAM_FUZZ_CHECK(expected);
  read_object(fx, p, r.offset, r.size);
}

// The public paths a reader takes: `get(handle<T>, count)` (which also guards `count *
// sizeof(T)` against overflow) and `get(handle<T>, ec)`, and the owner's `arena::get`.
template <class T>
void check_get(const fixture& fx, const request& r) {
  const seam::handle<T> h{r.id, r.offset};
  const std::uint64_t count = r.size;
  std::uint64_t bytes = 0;
  const bool fits = !__builtin_mul_overflow(count, sizeof(T), &bytes);
  const bool expected = fits && valid(fx, r.id, r.offset, bytes, alignof(T));
  try {
    const std::span<const T> s = fx.view.get(h, count);
    SEAM_FUZZ_CHECK(expected && s.size() == count);
    read_object(fx, s.data(), r.offset, bytes);
  } catch (const std::system_error&) {
    SEAM_FUZZ_CHECK(!expected);
  }

  std::error_code ec;
  const T* one = fx.view.get(h, ec);
  SEAM_FUZZ_CHECK((one != nullptr) == valid(fx, r.id, r.offset, sizeof(T), alignof(T)));
  if (one != nullptr) read_object(fx, one, r.offset, sizeof(T));

  try {
    const T* mine = fx.owner.get(h);
    SEAM_FUZZ_CHECK(valid(fx, r.id, r.offset, sizeof(T), alignof(T)) && one != nullptr);
    SEAM_FUZZ_CHECK(fx.owner.contains(mine, sizeof(T)));
    SEAM_FUZZ_CHECK(seam::fuzz::touch(mine, sizeof(T)) == seam::fuzz::touch(one, sizeof(T)));
  } catch (const std::system_error&) {
    SEAM_FUZZ_CHECK(!valid(fx, r.id, r.offset, sizeof(T), alignof(T)));
  }
}

struct alignas(64) cache_line {
  unsigned char bytes[64];
};
struct alignas(4096) page {
  unsigned char bytes[4096];
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const fixture& fx = the_fixture();
  input in(data, size);
  // Bounded, so one input cannot take long; each record reads at least its two mode bytes.
  for (int records = 0; records < 32 && !in.empty(); ++records) {
    const request r = draw(in, fx);
    check_resolve(fx, r);
    switch (r.type) {
      case 0:
        check_get<std::byte>(fx, r);
        break;
      case 1:
        check_get<std::uint32_t>(fx, r);
        break;
      case 2:
        check_get<std::uint64_t>(fx, r);
        break;
      case 3:
        check_get<cache_line>(fx, r);
        break;
      default:
        check_get<page>(fx, r);
        break;
    }
  }
  return 0;
}
