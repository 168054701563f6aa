#pragma once
// A "file" of parts for the Cap'n Proto tests: deterministic bytes and a hash per part, so the
// receiver can check every byte without being told them.

#include <cstddef>
#include <cstdint>
#include <string>

#include "test_schema.capnp.h"

namespace seam::test {

inline std::uint64_t hash_bytes(const std::byte* p, std::size_t n) {
  std::uint64_t h = 0xcbf29ce484222325ull ^ n;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t w;
    __builtin_memcpy(&w, p + i, 8);
    h = (h ^ w) * 0x100000001b3ull;
    h ^= h >> 29;
  }
  for (; i < n; ++i) h = (h ^ static_cast<std::uint8_t>(p[i])) * 0x100000001b3ull;
  return h;
}

/// Fills `file` with `parts` parts of `part_bytes` bytes each.
inline void build_file(File::Builder file, std::size_t parts, std::size_t part_bytes,
                       std::uint64_t seed) {
  file.setName("file-" + std::to_string(seed));
  auto list = file.initParts(static_cast<unsigned>(parts));
  for (std::size_t i = 0; i < parts; ++i) {
    auto data = list[static_cast<unsigned>(i)].initData(static_cast<unsigned>(part_bytes));
    std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + i;
    for (std::size_t j = 0; j + 8 <= part_bytes; j += 8) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      __builtin_memcpy(data.begin() + j, &x, 8);
    }
    list[static_cast<unsigned>(i)].setHash(
        hash_bytes(reinterpret_cast<const std::byte*>(data.begin()), data.size()));
  }
}

/// Checks every part's hash; returns the number of bytes checked, or -1 on a mismatch.
inline long long check_file(File::Reader file) {
  long long total = 0;
  for (auto part : file.getParts()) {
    auto data = part.getData();
    if (hash_bytes(reinterpret_cast<const std::byte*>(data.begin()), data.size()) !=
        part.getHash()) {
      return -1;
    }
    total += static_cast<long long>(data.size());
  }
  return total;
}

}  // namespace seam::test
