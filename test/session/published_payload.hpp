#pragma once
// The versions the publication tests publish: each carries its number and a checksum of
// contents derived from it, so that a reader can tell a whole version from a torn or freed one.

#include <cstdint>
#include <string>

#include "seam/containers/vector.hpp"

namespace seam::test {

struct payload {
  seam::vector<std::uint64_t> values;
  std::uint64_t number = 0;
  std::uint64_t checksum = 0;
};

inline std::uint64_t value_at(std::uint64_t number, std::size_t i) {
  return number * 0x9E3779B97F4A7C15ull + i;
}

/// Fills `p` as version `number` (call with the arena as the current arena).
inline void fill(payload& p, std::uint64_t number) {
  const std::size_t n = 8 + number % 57;
  p.values.clear();
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < n; ++i) {
    p.values.push_back(value_at(number, i));
    sum += p.values.back();
  }
  p.number = number;
  p.checksum = sum ^ number;
}

/// Why `p` is not a whole version `version` (empty if it is).
inline std::string check(const payload& p, std::uint64_t version) {
  if (p.number != version) return "number " + std::to_string(p.number);
  if (p.values.size() != 8 + version % 57) return "size " + std::to_string(p.values.size());
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < p.values.size(); ++i) {
    if (p.values[i] != value_at(version, i)) return "value " + std::to_string(i);
    sum += p.values[i];
  }
  if ((sum ^ version) != p.checksum) return "checksum";
  return {};
}

}  // namespace seam::test
