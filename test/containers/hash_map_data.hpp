#pragma once
// The tables hash_map_test builds in an arena and seam_test_hash_map_reader checks from
// another process: the root object's type and the entries both sides derive from an index.

#include <cstdint>
#include <string>

#include "seam/containers/hash_map.hpp"
#include "seam/containers/string.hpp"

namespace seam::test {

struct hash_map_root {
  seam::hash_map<seam::string, int> names;
  seam::hash_map<std::uint64_t, std::uint64_t> numbers;
};

// Every third name is longer than the small-string buffer, so its characters live in the
// arena behind a seam::ptr too.
inline std::string name_key(std::uint64_t i) {
  return "name-" + std::to_string(i) + (i % 3 == 0 ? "-with-characters-outside-the-string" : "");
}
inline int name_value(std::uint64_t i) { return static_cast<int>(i * 7 + 1); }
// Multiples of 3: what is not a multiple of 3 is a miss.
inline std::uint64_t number_key(std::uint64_t i) { return i * 3; }
inline std::uint64_t number_value(std::uint64_t i) { return i ^ 0x5eed5eed5eed5eedull; }

}  // namespace seam::test
