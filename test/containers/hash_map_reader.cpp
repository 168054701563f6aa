// A separate program that reads the hash tables another process built in its arena, for
// hash_map_test.
//   hash_map_reader <arena-id> <owner-base-hex> <count>
//       fd 3 is the arena (read-only); its root is a seam::test::hash_map_root holding
//       <count> entries of each table. Checks every entry, misses, iteration and `at`, and
//       that the mapping lies elsewhere than the owner's. Prints "ok" on stdout.
// Exit status 0 on success; a message on stdout says what failed otherwise.

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

#include "containers/hash_map_data.hpp"
#include "containers/root_reader.hpp"
#include "seam/arena.hpp"

namespace {

int fail(const std::string& why) {
  std::printf("%s\n", why.c_str());
  return 1;
}

int check(const seam::test::hash_map_root& root, std::uint64_t count) {
  using seam::test::name_key;
  using seam::test::number_key;
  if (root.names.size() != count) return fail("names: size " + std::to_string(root.names.size()));
  if (root.numbers.size() != count)
    return fail("numbers: size " + std::to_string(root.numbers.size()));
  for (std::uint64_t i = 0; i < count; ++i) {
    // string_view lookups: no seam::string is built, which this process could not allocate.
    const std::string key = name_key(i);
    const auto it = root.names.find(std::string_view(key));
    if (it == root.names.end()) return fail("names: missing " + key);
    if (it->second != seam::test::name_value(i) ||
        std::string_view(it->first.data(), it->first.size()) != key) {
      return fail("names: wrong entry for " + key);
    }
    const auto n = root.numbers.find(number_key(i));
    if (n == root.numbers.end()) return fail("numbers: missing " + std::to_string(i));
    if (n->second != seam::test::number_value(i)) return fail("numbers: wrong value");
    if (root.numbers.at(number_key(i)) != seam::test::number_value(i)) return fail("numbers: at");
  }
  for (std::uint64_t i = count; i < count + 20000; ++i) {
    if (root.names.contains(std::string_view(name_key(i)))) return fail("names: found a miss");
    if (root.numbers.count(number_key(i)) != 0) return fail("numbers: found a miss");
    if (root.numbers.contains(number_key(i % count) + 1))
      return fail("numbers: found a non-multiple");
  }
  std::uint64_t seen = 0;
  std::uint64_t sum = 0;
  for (const auto& [key, value] : root.numbers) {
    if (key % 3 != 0 || value != seam::test::number_value(key / 3))
      return fail("numbers: iteration");
    ++seen;
    sum += key / 3;
  }
  if (seen != count || sum != count * (count - 1) / 2) return fail("numbers: iteration count");
  seen = 0;
  for (const auto& entry : root.names) seen += entry.second != 0;
  if (seen != count) return fail("names: iteration count");
  try {
    (void)root.names.at(std::string_view("absent"));
    return fail("names: at of a missing key did not throw");
  } catch (const std::out_of_range&) {
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return seam::test::read_root<seam::test::hash_map_root>(argc, argv, "hash_map_reader", check);
}
