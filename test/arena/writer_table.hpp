#pragma once
// A table that several writer processes fill: a `seam::synchronized<seam::map>` and a
// `seam::hash_map` that the map's lock guards too, named "table" in the arena. Shared by the
// writers tests, the session test and the crash matrix's writer cases.

#include <cstdint>

#include "seam/arena/arena.hpp"
#include "seam/arena/synchronized.hpp"
#include "seam/containers/hash_map.hpp"
#include "seam/containers/map.hpp"

namespace seam::test {

struct writer_table {
  seam::synchronized<seam::map<std::int64_t, std::int64_t>> tree;
  seam::hash_map<std::int64_t, std::int64_t> hash;  // changed only under `tree`'s lock
};

/// The value every writer stores for `key`.
inline std::int64_t value_of(std::int64_t key) { return key * 7 + 3; }

}  // namespace seam::test
