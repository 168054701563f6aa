// Fuzzes `arena_view::find` and `arena_view::names`: the lookup and the listing of a named object
// in the arena's directory, whose bytes (the header's directory offset, the blocks and their
// entries) another process wrote. The file is a valid, sealed arena header followed by whatever the
// input says; `find` must either return nullptr with no error, fail with a directory error, or
// return an object that lies in the mapping, aligned, past the header, of a type the directory
// recorded as the one asked for.
//
// Input: u64 directory offset, u8 type choice, u8 name length, the name's bytes, then the bytes
// written from the end of the header page to the file's end (zero-padded).

#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <system_error>
#include <vector>

#include "arena/detail/layout.hpp"
#include "arena/detail/os.hpp"
#include "fuzz_input.hpp"
#include "seam/arena/arena_view.hpp"
#include "seam/arena/error.hpp"

namespace {

using seam::detail::header_bytes;

/// The file's size: room for a few blocks of the directory and their objects.
constexpr std::size_t file_size = 64 * 1024;

struct test_file {
  seam::unique_fd writable;
  seam::unique_fd given;
  std::uint64_t id = 0x5eed5eed5eed5eedull;
};

test_file& file() {
  static test_file f = [] {
    test_file t;
    std::error_code ec;
    t.writable = seam::detail::create_memfd("seam-fuzz-directory", file_size, ec);
    SEAM_FUZZ_CHECK(!ec);
    t.given = seam::detail::share_read_only(t.writable.get(), ec);
    SEAM_FUZZ_CHECK(!ec);
    return t;
  }();
  return f;
}

template <class T>
void look_up(const seam::arena_view& view, std::string_view name) {
  std::error_code ec;
  const T* p = view.find<T>(name, ec);
  if (ec) {
    SEAM_FUZZ_CHECK(p == nullptr);
    SEAM_FUZZ_CHECK(ec == seam::errc::bad_name || ec == seam::errc::type_mismatch ||
                    ec == seam::errc::corrupt_arena);
    SEAM_FUZZ_CHECK((ec == seam::errc::bad_name) ==
                    (name.empty() || name.size() > seam::max_name_length));
    return;
  }
  if (p == nullptr) return;
  SEAM_FUZZ_CHECK(view.contains(p, sizeof(T)));
  SEAM_FUZZ_CHECK(reinterpret_cast<std::uintptr_t>(p) % alignof(T) == 0);
  SEAM_FUZZ_CHECK(reinterpret_cast<const std::byte*>(p) - view.base() >=
                  static_cast<std::ptrdiff_t>(header_bytes));
  static_cast<void>(seam::fuzz::touch(p, sizeof(T)));
  // The throwing form agrees.
  SEAM_FUZZ_CHECK(view.find<T>(name) == p);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  seam::fuzz::input in(data, size);
  test_file& f = file();
  static std::vector<unsigned char> image(file_size);
  std::memset(image.data(), 0, image.size());

  seam::detail::arena_header header{};
  header.magic = seam::detail::arena_magic;
  header.version = seam::detail::arena_version;
  header.header_size = header_bytes;
  header.id = f.id;
  header.capacity = file_size;
  header.directory_offset = in.take<std::uint64_t>();
  std::memcpy(image.data(), &header, sizeof header);

  const auto type = in.take<std::uint8_t>();
  const auto name_length = in.take<std::uint8_t>();
  char name_bytes[256] = {};
  for (std::size_t i = 0; i < name_length; ++i)
    name_bytes[i] = static_cast<char>(in.take<std::uint8_t>());
  const std::string_view name(name_bytes, name_length);
  const auto rest = in.rest();
  const std::size_t n =
      rest.size() < file_size - header_bytes ? rest.size() : file_size - header_bytes;
  if (n != 0) std::memcpy(image.data() + header_bytes, rest.data(), n);
  SEAM_FUZZ_CHECK(::pwrite(f.writable.get(), image.data(), image.size(), 0) ==
                  static_cast<ssize_t>(image.size()));

  const seam::arena_view view = seam::arena_view::open(f.given.get());
  switch (type % 3) {
    case 0:
      look_up<std::uint64_t>(view, name);
      break;
    case 1:
      look_up<std::uint32_t>(view, name);
      break;
    default:
      look_up<std::array<std::uint64_t, 8>>(view, name);
      break;
  }
  // The listing (`seam arenas` shows it) walks every entry: each one it returns holds up.
  std::error_code ec;
  for (const seam::named_object_info& n : view.names(ec)) {
    SEAM_FUZZ_CHECK(!n.name.empty() && n.name.size() <= seam::max_name_length);
    SEAM_FUZZ_CHECK(n.alignment != 0 && (n.alignment & (n.alignment - 1)) == 0);
    SEAM_FUZZ_CHECK(n.offset >= header_bytes && n.offset <= view.size() &&
                    n.size <= view.size() - n.offset);
    SEAM_FUZZ_CHECK((reinterpret_cast<std::uintptr_t>(view.base()) + n.offset) % n.alignment == 0);
  }
  SEAM_FUZZ_CHECK(!ec || ec == seam::errc::corrupt_arena);
  return 0;
}
