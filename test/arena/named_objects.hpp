#pragma once
// The named objects that named_test makes and named_reader looks up in another process: their
// types, their contents, and the checks both sides share.

#include <cstdint>
#include <string>
#include <string_view>

#include "seam/arena/arena.hpp"
#include "seam/containers/hash_map.hpp"
#include "seam/containers/map.hpp"
#include "seam/containers/string.hpp"

namespace seam::test::named {

/// Passes a type to a generic lambda.
template <class T>
struct tag {};

struct point {
  int x;
  int y;
};

using index_map = seam::map<int, seam::string>;
using index_table = seam::hash_map<std::uint64_t, std::uint64_t>;

inline constexpr std::uint64_t answer_value = 4242;
inline constexpr int elements = 1000;

/// A name with a NUL byte inside: names are bytes, not C strings.
inline std::string_view nul_name() { return {"po\0int", 6}; }

inline std::string value_of(int i) {
  return "value " + std::to_string(i) + " is long enough to be on the heap";
}

/// Makes every object the reader expects in `a`.
inline void make_all(seam::arena& a) {
  a.make_named<std::uint64_t>("answer", answer_value);
  auto* index = a.make_named<index_map>("index");
  auto* table = a.make_named<index_table>("table");
  {
    seam::arena_scope scope(a);
    for (int i = 0; i < elements; ++i) {
      index->emplace(i, seam::string(value_of(i).c_str()));
      table->emplace(static_cast<std::uint64_t>(i), static_cast<std::uint64_t>(i) * 3);
    }
  }
  a.make_named<point>(nul_name(), point{3, 4});
}

/// Empty if `index` holds what `make_all` put there, else what differs.
inline std::string check_index(const index_map& index) {
  if (index.size() != static_cast<std::size_t>(elements)) return "size";
  int expected = 0;
  for (const auto& [key, value] : index) {
    if (key != expected) return "key " + std::to_string(key);
    if (std::string_view(value.data(), value.size()) != value_of(expected)) return "value";
    ++expected;
  }
  return {};
}

inline std::string check_table(const index_table& table) {
  if (table.size() != static_cast<std::size_t>(elements)) return "size";
  for (int i = 0; i < elements; ++i) {
    auto it = table.find(static_cast<std::uint64_t>(i));
    if (it == table.end() || it->second != static_cast<std::uint64_t>(i) * 3) {
      return "element " + std::to_string(i);
    }
  }
  return {};
}

}  // namespace seam::test::named
