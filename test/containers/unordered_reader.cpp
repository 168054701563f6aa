// A separate program that reads the unordered containers another process built in its arena,
// for unordered_test.
//   unordered_reader <arena-id> <owner-base-hex> <count>
//       fd 3 is the arena (read-only); its root is a seam::test::unordered_root filled with
//       <count> entries (see unordered_test's fill). This process never makes an arena: every
//       lookup of a string key goes through `const char*`, `std::string_view` or `std::string`,
//       and would throw `no_current_arena` if it built a `seam::string`. Checks every entry,
//       misses, `at`, `equal_range` (in insertion order), `count`, iteration and the bucket
//       interface, and that the mapping lies elsewhere than the owner's. Prints "ok".
// Exit status 0 on success; a message on stdout says what failed otherwise.

#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "containers/root_reader.hpp"
#include "containers/unordered_data.hpp"
#include "seam/arena.hpp"

namespace {

using namespace seam::test;

int fail(const std::string& why) {
  std::printf("%s\n", why.c_str());
  return 1;
}

int check(const unordered_root& root, std::uint64_t count) {
  if (root.names.size() != count) return fail("names: size " + std::to_string(root.names.size()));
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::string key = unordered_name(i);
    // Three key types, none a seam::string.
    const auto it = root.names.find(std::string_view(key));
    if (it == root.names.end()) return fail("names: missing " + key);
    if (it->second != unordered_value(i) ||
        std::string_view(it->first.data(), it->first.size()) != key)
      return fail("names: wrong entry for " + key);
    if (root.names.at(key.c_str()) != unordered_value(i)) return fail("names: at(const char*)");
    if (root.names.count(key) != 1 || !root.names.contains(key)) return fail("names: count");
    const auto [first, last] = root.names.equal_range(std::string_view(key));
    if (first != it || std::next(first) != last) return fail("names: equal_range");
    const auto b = root.names.bucket(std::string_view(key));
    bool in_bucket = false;
    for (auto l = root.names.begin(b); l != root.names.end(b); ++l) in_bucket |= &*l == &*it;
    if (!in_bucket) return fail("names: not in its bucket");
    if (!root.words.contains(key.c_str())) return fail("words: missing " + key);
  }
  for (std::uint64_t i = count; i < count + 1000; ++i) {
    const std::string key = unordered_name(i);
    if (root.names.contains(std::string_view(key)) || root.names.count(key.c_str()) != 0)
      return fail("names: found a miss");
    if (root.words.find(key) != root.words.end()) return fail("words: found a miss");
  }
  try {
    (void)root.names.at("absent");
    return fail("names: at of a missing key did not throw");
  } catch (const std::out_of_range&) {
  }
  std::uint64_t seen = 0;
  for (const auto& [key, value] : root.names) seen += value != 0 || key.size() != 0;
  if (seen != count) return fail("names: iteration count");

  // The multimap: each key's values in insertion order.
  if (root.groups.size() != count) return fail("groups: size");
  for (std::uint64_t k = 0; k < unordered_group_keys; ++k) {
    std::vector<std::uint64_t> got;
    const auto [first, last] = root.groups.equal_range(k);
    for (auto it = first; it != last; ++it) got.push_back(it->second);
    std::vector<std::uint64_t> expected;
    for (std::uint64_t i = k; i < count; i += unordered_group_keys) expected.push_back(i);
    if (got != expected) return fail("groups: values of key " + std::to_string(k));
    if (root.groups.count(k) != expected.size()) return fail("groups: count");
  }
  if (root.groups.contains(unordered_group_keys)) return fail("groups: found a miss");

  std::uint64_t copies = 0;
  for (std::uint64_t k = 0; k < count; ++k) {
    if (root.counts.count(k) != unordered_copies(k))
      return fail("counts: count of " + std::to_string(k));
    copies += unordered_copies(k);
  }
  if (root.counts.size() != copies) return fail("counts: size");
  seen = 0;
  for (auto it = root.counts.begin(); it != root.counts.end(); ++it) ++seen;
  if (seen != copies) return fail("counts: iteration");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return seam::test::read_root<unordered_root>(argc, argv, "unordered_reader", check);
}
