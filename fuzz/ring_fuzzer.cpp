// Fuzzes the ring transport's reader (`read_record`): the peer's tail against our head, the
// record at the head, and the handles and bytes copied out of the ring. Everything the reader
// reads in the ring comes from the peer's memory.
//
// The ring is a heap buffer of exactly its capacity, so a read past it is an ASan report. What
// `read_record` accepts is checked against an independent oracle that walks the ring byte by
// byte with its own wrap-around.
//
// Input: the ring's size (log2, 4 KiB to 64 KiB), our head, the peer's tail as an offset from
// it (or raw), then the ring's bytes (the rest is zero).

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <system_error>

#include "channel/detail/ring.hpp"
#include "fuzz_input.hpp"
#include "seam/channel/channel.hpp"

namespace {

using seam::detail::record_header;
using seam::fuzz::input;

// The byte at position `at` of the ring, walked the slow way.
std::byte at_position(const std::byte* ring, std::uint64_t capacity, std::uint64_t at) {
  return ring[at % capacity];
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  input in(data, size);
  const std::uint64_t capacity = std::uint64_t{1} << (12 + in.take<std::uint8_t>() % 5);
  const auto head = in.take<std::uint64_t>();
  const auto mode = in.take<std::uint8_t>();
  const auto tail_raw = in.take<std::uint64_t>();
  // Mostly a tail within reach of the head, sometimes anything at all.
  const std::uint64_t tail = mode % 4 == 0 ? tail_raw : head + tail_raw % (capacity + 64);

  const auto bytes = in.rest();
  auto ring = std::make_unique<std::byte[]>(capacity);
  std::memset(ring.get(), 0, capacity);
  if (!bytes.empty()) {
    // Fill from the head's position, wrapping: what the peer wrote.
    for (std::size_t i = 0; i < bytes.size() && i < capacity; ++i) {
      ring[(head + i) % capacity] = static_cast<std::byte>(bytes[i]);
    }
  }

  record_header header{};
  seam::message out;
  std::uint64_t used = 0;
  const std::error_code ec = seam::detail::read_record(ring.get(), capacity, head, tail,
                                                       seam::channel::max_fds, header, out, used);
  if (ec) {
    SEAM_FUZZ_CHECK(ec == seam::errc::protocol_error);
    return 0;
  }
  // The oracle: the published span is within the ring, the record within it, and what came
  // out is what the ring holds, position by position.
  const std::uint64_t available = tail - head;
  SEAM_FUZZ_CHECK(available <= capacity && available != 0);
  SEAM_FUZZ_CHECK(used >= sizeof(record_header) && used <= available && used % 8 == 0);
  record_header expected{};
  for (std::size_t i = 0; i < sizeof expected; ++i) {
    reinterpret_cast<std::byte*>(&expected)[i] = at_position(ring.get(), capacity, head + i);
  }
  SEAM_FUZZ_CHECK(std::memcmp(&expected, &header, sizeof header) == 0);
  // A message, or releases: handles only, at least one (see release_carrier).
  SEAM_FUZZ_CHECK(header.magic == record_header::magic_value ||
                  (header.magic == record_header::release_magic && header.handles != 0 &&
                   header.bytes == 0 && header.fds == 0));
  SEAM_FUZZ_CHECK(header.fds <= seam::channel::max_fds);
  SEAM_FUZZ_CHECK(out.handles.size() == header.handles && out.bytes.size() == header.bytes);
  SEAM_FUZZ_CHECK(sizeof header + out.handles.size() * 16 + out.bytes.size() <= used);
  std::uint64_t at = head + sizeof header;
  for (const auto& h : out.handles) {
    for (std::size_t i = 0; i < sizeof h; ++i) {
      SEAM_FUZZ_CHECK(reinterpret_cast<const std::byte*>(&h)[i] ==
                      at_position(ring.get(), capacity, at + i));
    }
    at += sizeof h;
  }
  for (std::size_t i = 0; i < out.bytes.size(); ++i) {
    SEAM_FUZZ_CHECK(out.bytes[i] == at_position(ring.get(), capacity, at + i));
  }
  return 0;
}
