#pragma once
// The two halves of the containers' separate-reader tests (hash_map_reader, unordered_reader):
// the test starts a reader program on its arena (`run_root_reader`), and the reader maps that
// arena read-only away from the owner's address and checks its root (`read_root`).

#include <sys/mman.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <system_error>

#include "seam/arena.hpp"
#include "support/process.hpp"

namespace seam::test {

/// What a reader printed (its first line) and how it ended (see `process::wait`).
struct reader_outcome {
  std::string line;
  int status;
};

/// Runs `program <arena-id> <owner-base-hex> <count>` with a read-only fd of `a` as its fd 3
/// and a pipe as its stdout.
inline reader_outcome run_root_reader(const char* program, const seam::arena& a,
                                      std::uint64_t count) {
  seam::unique_fd fd = a.share();
  char base[32];
  std::snprintf(base, sizeof base, "%zx", reinterpret_cast<std::size_t>(a.base()));
  pipe_pair out;
  process reader = spawn(program, {std::to_string(a.id()), base, std::to_string(count)},
                         {{fd.get(), 3}, {out.write_end.get(), 1}});
  out.write_end.reset();
  reader_outcome outcome;
  outcome.line = read_line(out.read_end.get());
  outcome.status = reader.wait();
  return outcome;
}

/// The main of a reader started by `run_root_reader`: maps fd 3 read-only where the owner's
/// mapping is not (a page at the owner's address is taken first, so even with address
/// randomisation off the test reads through offsets, not equal addresses), checks the arena's
/// id, and calls `check(root, count)`, which returns 0 or prints what failed and returns 1.
/// Prints "ok" if all is right; returns the exit status.
template <class Root, class Check>
int read_root(int argc, char** argv, const char* program, Check check) {
  auto fail = [](const std::string& why) {
    std::printf("%s\n", why.c_str());
    return 1;
  };
  if (argc < 4) return fail(std::string("usage: ") + program + " arena-id owner-base-hex count");
  const std::uint64_t id = std::strtoull(argv[1], nullptr, 10);
  const auto owner_base = static_cast<std::uintptr_t>(std::strtoull(argv[2], nullptr, 16));
  const std::uint64_t count = std::strtoull(argv[3], nullptr, 10);

  void* guard = ::mmap(reinterpret_cast<void*>(owner_base), 4096, PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (guard == MAP_FAILED) return fail("mmap of the guard page failed");

  std::error_code ec;
  seam::arena_view view = seam::arena_view::open(3, ec);
  if (ec) return fail("open: " + ec.message());
  if (view.id() != id) return fail("wrong arena id");
  if (reinterpret_cast<std::uintptr_t>(view.base()) == owner_base) {
    return fail("view mapped at the owner's address: the test would prove nothing");
  }
  try {
    if (int r = check(*view.root<Root>(), count)) return r;
  } catch (const std::exception& e) {
    return fail(std::string("exception: ") + e.what());
  }
  std::printf("ok\n");
  return 0;
}

}  // namespace seam::test
