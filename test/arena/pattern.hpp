#pragma once
// Deterministic byte patterns: what the owner writes, a reader can check without being told
// the bytes.

#include <cstddef>
#include <cstdint>

namespace seam::test {

inline std::uint8_t pattern_byte(std::uint64_t seed, std::size_t i) {
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + i;
  x ^= x >> 29;
  x *= 0xBF58476D1CE4E5B9ull;
  return static_cast<std::uint8_t>(x >> 56);
}

inline void fill_pattern(void* p, std::size_t n, std::uint64_t seed) {
  auto* b = static_cast<std::uint8_t*>(p);
  for (std::size_t i = 0; i < n; ++i) b[i] = pattern_byte(seed, i);
}

/// Index of the first byte that differs from the pattern, or `n` if all match.
inline std::size_t check_pattern(const void* p, std::size_t n, std::uint64_t seed) {
  const auto* b = static_cast<const std::uint8_t*>(p);
  for (std::size_t i = 0; i < n; ++i) {
    if (b[i] != pattern_byte(seed, i)) return i;
  }
  return n;
}

/// For large blocks: the pattern on one byte per 4 KiB page and on the last 4 KiB, which
/// still catches overlapping or misplaced blocks without writing every byte.
inline void fill_sparse(void* p, std::size_t n, std::uint64_t seed) {
  auto* b = static_cast<std::uint8_t*>(p);
  for (std::size_t i = 0; i < n; i += 4096) b[i] = pattern_byte(seed, i);
  for (std::size_t i = n > 4096 ? n - 4096 : 0; i < n; ++i) b[i] = pattern_byte(seed, i);
}

/// True if `fill_sparse(p, n, seed)`'s bytes are all there.
inline bool check_sparse(const void* p, std::size_t n, std::uint64_t seed) {
  const auto* b = static_cast<const std::uint8_t*>(p);
  for (std::size_t i = 0; i < n; i += 4096) {
    if (b[i] != pattern_byte(seed, i)) return false;
  }
  for (std::size_t i = n > 4096 ? n - 4096 : 0; i < n; ++i) {
    if (b[i] != pattern_byte(seed, i)) return false;
  }
  return true;
}

}  // namespace seam::test
