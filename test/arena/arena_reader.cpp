// A separate program that reads an arena another process owns, for arena_view_test.
//   arena_reader read <id> <offset> <bytes> <seed> <owner-base>
//       fd 3 is the arena; checks the pattern at <offset>, that the mapping lies elsewhere than
//       the owner's, and that the fd cannot be resized or mapped writable. Prints "ok".
//   arena_reader hold <id> <offset> <bytes> <seed>
//       fd 3 is the arena; maps it, prints "ready", waits for a line on stdin (meanwhile the
//       owner is killed), then checks the pattern and prints "ok".
// Exit status 0 on success; a message on stdout says what failed otherwise.

#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "seam/arena.hpp"
#include "arena/pattern.hpp"

namespace {

int fail(const std::string& why) {
  std::printf("%s\n", why.c_str());
  return 1;
}

int check(const seam::arena_view& view, std::uint64_t id, std::uint64_t offset,
          std::size_t bytes, std::uint64_t seed) {
  std::error_code ec;
  const auto* p = view.get(seam::handle<std::byte>{id, offset}, ec);
  if (ec) return fail("handle refused: " + ec.message());
  const auto span = view.get(seam::handle<std::byte>{id, offset}, bytes);
  const std::size_t bad = seam::test::check_pattern(span.data(), bytes, seed);
  if (bad != bytes) return fail("pattern differs at byte " + std::to_string(bad));
  (void)p;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) return fail("usage: arena_reader read|hold id offset bytes seed [owner-base]");
  const std::string mode = argv[1];
  const std::uint64_t id = std::strtoull(argv[2], nullptr, 10);
  const std::uint64_t offset = std::strtoull(argv[3], nullptr, 10);
  const std::size_t bytes = std::strtoull(argv[4], nullptr, 10);
  const std::uint64_t seed = std::strtoull(argv[5], nullptr, 10);

  std::error_code ec;
  seam::arena_view view = seam::arena_view::open(3, ec);
  if (ec) return fail("open: " + ec.message());
  if (view.id() != id) return fail("wrong arena id");

  if (mode == "read") {
    if (argc < 7) return fail("read needs the owner's base");
    const auto owner_base = static_cast<std::uintptr_t>(std::strtoull(argv[6], nullptr, 16));
    if (reinterpret_cast<std::uintptr_t>(view.base()) == owner_base) {
      return fail("view mapped at the owner's address: the test would prove nothing");
    }
    if (int r = check(view, id, offset, bytes, seed)) return r;
    if (::ftruncate(3, 0) == 0) return fail("ftruncate to 0 succeeded");
    if (::ftruncate(3, static_cast<off_t>(view.size()) * 2) == 0) return fail("grow succeeded");
    void* w = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, 3, 0);
    if (w != MAP_FAILED) return fail("writable mapping succeeded");
    char byte = 0;
    if (::pwrite(3, &byte, 1, 0) == 1) return fail("pwrite succeeded");
    std::printf("ok\n");
    return 0;
  }
  if (mode == "hold") {
    ::close(3);  // the mapping alone must keep the memory
    std::printf("ready\n");
    std::fflush(stdout);
    char line[16];
    if (std::fgets(line, sizeof line, stdin) == nullptr) return fail("no go");
    if (int r = check(view, id, offset, bytes, seed)) return r;
    std::printf("ok\n");
    return 0;
  }
  return fail("unknown mode " + mode);
}
