// Fuzzes `arena_view::open`: the checks a reader makes on an fd and the arena header at its
// start, both written by another process. The input chooses a file (its size, and whether it
// carries the seals a Seam arena has) and the header bytes; `open` must either refuse or give
// a view that keeps every promise `arena_view` makes. A view that opened is then used: its
// root object (found through offsets in the same untrusted header) is resolved and read, and
// its stats page read.
//
// Input: one byte choosing the file, then the bytes written at its start (zero-padded to the
// header page, or to the file's end if it is shorter).

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <system_error>

#include "arena/detail/layout.hpp"
#include "arena/detail/os.hpp"
#include "fuzz_input.hpp"
#include "seam/arena/arena_view.hpp"
#include "seam/session/error.hpp"

namespace {

using seam::detail::header_bytes;

// File sizes around the edges `open` must handle: empty, shorter than the header, exactly the
// header, not a whole number of pages, and one past the 2 MiB mapping alignment.
constexpr std::size_t sizes[] = {0,
                                 48,
                                 header_bytes - 1,
                                 header_bytes,
                                 header_bytes + 1,
                                 8192,
                                 65536,
                                 (std::size_t{2} << 20) + header_bytes};
constexpr std::size_t size_count = sizeof sizes / sizeof sizes[0];

// One memfd per (size, sealed): files are made once and rewritten for every input. A sealed
// one is shared exactly as `arena::share` shares (sealed, then reopened read-only); the
// writable fd stays here so the header can be rewritten.
struct test_file {
  seam::unique_fd writable;
  seam::unique_fd given;  // what the reader gets
  std::size_t size = 0;
  bool sealed = false;
};

test_file& file_for(unsigned choice) {
  static test_file files[size_count * 2];
  test_file& f = files[choice % (size_count * 2)];
  if (!f.writable) {
    std::error_code ec;
    f.size = sizes[choice % size_count];
    f.sealed = choice % (size_count * 2) >= size_count;
    f.writable = seam::detail::create_memfd("seam-fuzz-header", f.size, ec);
    SEAM_FUZZ_CHECK(!ec);
    if (f.sealed) {
      f.given = seam::detail::share_read_only(f.writable.get(), ec);
      SEAM_FUZZ_CHECK(!ec);
    } else {
      f.given.reset(::dup(f.writable.get()));
      SEAM_FUZZ_CHECK(static_cast<bool>(f.given));
    }
  }
  return f;
}

struct alignas(64) line {
  unsigned char bytes[64];
};

// A view's root is found through `root_offset` and `root_size` in the header: also input.
template <class T>
void read_root(const seam::arena_view& view) {
  try {
    const T* root = view.root<T>();
    SEAM_FUZZ_CHECK(view.contains(root, sizeof(T)));
    SEAM_FUZZ_CHECK(reinterpret_cast<std::uintptr_t>(root) % alignof(T) == 0);
    SEAM_FUZZ_CHECK(reinterpret_cast<const std::byte*>(root) - view.base() >=
                    static_cast<std::ptrdiff_t>(header_bytes));
    static_cast<void>(seam::fuzz::touch(root, sizeof(T)));
  } catch (const std::system_error& e) {
    SEAM_FUZZ_CHECK(e.code() == seam::errc::no_root ||
                    e.code() == seam::errc::handle_out_of_range ||
                    e.code() == seam::errc::handle_misaligned);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  seam::fuzz::input in(data, size);
  const test_file& file = file_for(in.take<std::uint8_t>());

  // Rewrite the whole header page (or file) so nothing of the previous input survives.
  unsigned char page[header_bytes] = {};
  const auto bytes = in.rest();
  const std::size_t written = file.size < header_bytes ? file.size : header_bytes;
  if (!bytes.empty()) {
    std::memcpy(page, bytes.data(), bytes.size() < written ? bytes.size() : written);
  }
  SEAM_FUZZ_CHECK(::pwrite(file.writable.get(), page, written, 0) == static_cast<ssize_t>(written));

  std::error_code ec;
  const seam::arena_view view = seam::arena_view::open(file.given.get(), ec);
  if (ec) {
    SEAM_FUZZ_CHECK(!view && view.base() == nullptr && view.size() == 0);
    return 0;
  }

  // What a view promises: a sealed Seam arena of the file's size, header checked.
  SEAM_FUZZ_CHECK(static_cast<bool>(view));
  SEAM_FUZZ_CHECK(file.sealed);
  SEAM_FUZZ_CHECK(view.size() == file.size && view.size() >= header_bytes);
  seam::detail::arena_header header;
  std::memcpy(&header, page, sizeof header);
  SEAM_FUZZ_CHECK(header.magic == seam::detail::arena_magic);
  SEAM_FUZZ_CHECK(header.version == seam::detail::arena_version);
  SEAM_FUZZ_CHECK(header.header_size == header_bytes);
  SEAM_FUZZ_CHECK(header.capacity == view.size());
  SEAM_FUZZ_CHECK(view.id() == header.id);
  // The mapping is the file: its first and last bytes are readable and are the file's.
  SEAM_FUZZ_CHECK(std::memcmp(view.base(), page, sizeof header) == 0);
  static_cast<void>(seam::fuzz::touch(view.base() + view.size() - 1, 1));

  read_root<std::uint8_t>(view);
  read_root<std::uint64_t>(view);
  read_root<line>(view);

  // The stats page (bytes [2048, 4096) of the same page) is input too: a copy that comes back
  // has held up to every check.
  const std::optional<seam::published_arena_stats> stats = view.stats(ec);
  if (ec) {
    SEAM_FUZZ_CHECK(!stats);
    SEAM_FUZZ_CHECK(ec == seam::errc::corrupt_arena || ec == std::errc::device_or_resource_busy);
  } else if (stats) {
    SEAM_FUZZ_CHECK(stats->capacity == view.size());
    SEAM_FUZZ_CHECK(stats->allocated <= view.size() && stats->reserved <= view.size() &&
                    stats->resident <= view.size());
    SEAM_FUZZ_CHECK(stats->owner_pid != 0 && stats->publications != 0);
  }
  return 0;
}
