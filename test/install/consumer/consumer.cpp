// Prints "consumer ok" if an installed Seam builds, links and runs.
#include <cstdio>
#include <cstring>
#include <seam/seam.hpp>

int main() {
  auto arena = seam::arena::create({.capacity = std::size_t{1} << 30, .name = "consumer"});
  auto* numbers = arena.make<seam::vector<int>>();
  {
    seam::arena_scope scope{arena};
    for (int i = 0; i < 1000; ++i) numbers->push_back(i);
  }
  long sum = 0;
  for (int n : *numbers) sum += n;
  arena.destroy(numbers);
  if (sum != 999 * 1000 / 2) return 1;
  // The headers' version is the library's.
  if (std::strcmp(seam::version(), SEAM_VERSION_STRING) != 0) return 2;
  std::printf("consumer ok (seam %s)\n", seam::version());
  return 0;
}
