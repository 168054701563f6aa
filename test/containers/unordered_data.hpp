#pragma once
// The tables unordered_test builds in an arena and seam_test_unordered_reader checks from
// another process: the root object's type and the entries both sides derive from an index.

#include <cstdint>
#include <string>

#include "seam/containers/string.hpp"
#include "seam/containers/unordered.hpp"

namespace seam::test {

struct unordered_root {
  seam::unordered_map<seam::string, std::uint64_t> names;
  seam::unordered_multimap<std::uint64_t, std::uint64_t> groups;
  seam::unordered_set<seam::string> words;
  seam::unordered_multiset<std::uint64_t> counts;
};

// Every key is longer than the small-string buffer: building a `seam::string` of one would
// allocate, which a reader with no arena cannot do, so a lookup that built one would throw.
inline std::string unordered_name(std::uint64_t i) {
  return "unordered-name-" + std::to_string(i) + "-with-characters-outside-the-string";
}
inline std::uint64_t unordered_value(std::uint64_t i) { return i * 0x9e3779b97f4a7c15ull; }
// groups: key i % group_keys holds the values i, in insertion order.
inline constexpr std::uint64_t unordered_group_keys = 97;
// counts: value k is inserted (k % 5) + 1 times, for k < count.
inline std::uint64_t unordered_copies(std::uint64_t k) { return k % 5 + 1; }

}  // namespace seam::test
