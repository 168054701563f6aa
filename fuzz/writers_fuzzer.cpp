// Fuzzes the shared writers' table (arena/detail/writers.hpp): the bump pointer, the chunk
// table, the writer slots and the remote-free lists, every word of which another writer process
// may have overwritten with garbage. A `shared_writers` joins a formatted region that the input
// then patches, and runs the input's operations (claims, remote frees, collection, counters,
// more patches between them). Every offset it hands out or follows must stay inside the arena;
// a bad word may only make it refuse (`errc::corrupt_arena`, `errc::arena_full`) or drop a free.
//
// Input: a count of patches, the patches ({u16 word index into the region, u64 value}), then
// operations: one byte each, followed by its operands.

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <set>
#include <system_error>

#include "arena/detail/writers.hpp"
#include "fuzz_input.hpp"
#include "seam/arena/error.hpp"

namespace {

using seam::detail::chunk_bytes;
using seam::detail::shared_writers;

constexpr std::size_t capacity = std::size_t{64} << 20;
constexpr std::size_t region = 4096;

std::byte* arena_memory() {
  static void* p = ::mmap(nullptr, capacity, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  SEAM_FUZZ_CHECK(p != MAP_FAILED);
  return static_cast<std::byte*>(p);
}

void patch(std::byte* base, seam::fuzz::input& in) {
  const std::size_t words = seam::detail::writers_region_bytes(capacity) / 8;
  const std::size_t word = in.take<std::uint16_t>() % words;
  const auto value = in.take<std::uint64_t>();
  std::memcpy(base + region + word * 8, &value, sizeof value);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  seam::fuzz::input in(data, size);
  std::byte* base = arena_memory();
  const std::size_t region_end = region + seam::detail::writers_region_bytes(capacity);
  std::memset(base + region, 0, region_end - region);
  shared_writers::format(base, capacity, region);
  for (unsigned n = in.take<std::uint8_t>() % 16; n != 0; --n) patch(base, in);

  std::error_code ec;
  shared_writers w(base, capacity, region, false, false, ec);
  if (ec) {
    SEAM_FUZZ_CHECK(ec == seam::errc::corrupt_arena || ec == seam::errc::arena_full);
    return 0;
  }
  // What this writer claimed, by chunk: the blocks it may be given back.
  bool mine[capacity / chunk_bytes] = {};
  while (!in.empty()) {
    switch (in.take<std::uint8_t>() % 5) {
      case 0: {
        const std::size_t least = (in.take<std::uint16_t>() % 64 + 1) * 4096;
        const std::size_t want = least + (in.take<std::uint16_t>() % 64) * chunk_bytes;
        std::size_t got = 0;
        const std::size_t at = w.claim(least, want, got);
        if (at == 0) break;
        SEAM_FUZZ_CHECK(at >= region_end && got >= least && at + got <= capacity);
        for (std::size_t c = at / chunk_bytes; c < (at + got) / chunk_bytes; ++c) mine[c] = true;
        break;
      }
      case 1: {
        // The heap frees here only blocks inside the arena that are not in its own chunks.
        const std::size_t at = (in.take<std::uint32_t>() % (capacity / 16)) * 16;
        if (at >= region_end && !mine[at / chunk_bytes]) w.free_remote(at);
        break;
      }
      case 2: {
        // Every block given back is inside this writer's chunks, and given back once.
        std::set<std::size_t> given;
        w.collect([&](std::size_t at) { return mine[at / chunk_bytes]; },
                  [&](std::size_t at) {
                    SEAM_FUZZ_CHECK(at >= region_end && at < capacity && at % 16 == 0);
                    SEAM_FUZZ_CHECK(mine[at / chunk_bytes]);
                    SEAM_FUZZ_CHECK(given.insert(at).second);
                    static_cast<void>(seam::fuzz::touch(base + at, 16));
                  });
        break;
      }
      case 3: {
        const seam::detail::writers_counters c = w.counters();
        SEAM_FUZZ_CHECK(c.orphaned_bytes <= capacity + chunk_bytes);
        SEAM_FUZZ_CHECK(c.live_writers <= seam::detail::max_writers);
        break;
      }
      default:
        patch(base, in);
        break;
    }
  }
  return 0;
}
