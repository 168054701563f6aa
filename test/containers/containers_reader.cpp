// containers_reader <case> <owner base address, hex>
//
// Started by containers_test with the arena's read-only fd as fd 3 and the write end of a pipe
// as fd 4. Maps the arena read-only (at another address than the owner's), checks every element
// of the case's structure, writes one line saying what it found to fd 4, and exits 0 if all is
// right, 1 if something differs, 2 if it could not check. It has no arena of its own, so any
// allocation in an arena would throw, and its mapping is read-only, so any write would SIGSEGV.

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <string>
#include <string_view>

#include "containers/containers_cases.hpp"

namespace {

constexpr int arena_fd = 3;
constexpr int message_fd = 4;

int report(int status, const std::string& message) {
  const std::string line = message + "\n";
  if (::write(message_fd, line.data(), line.size()) < 0) std::perror("containers_reader: write");
  return status;
}

// The permissions /proc/self/maps shows for the mapping that starts at `base` ("r--s" expected).
std::string permissions_at(const void* base) {
  char start[32];
  std::snprintf(start, sizeof start, "%lx-", static_cast<unsigned long>(
                                                 reinterpret_cast<std::uintptr_t>(base)));
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    if (line.starts_with(start)) return line.substr(line.find(' ') + 1, 4);
  }
  return "none";
}

int run(int argc, char** argv) {
  if (argc != 3) return report(2, "usage: containers_reader <case> <owner base>");
  const containers_cases::case_def* c = containers_cases::find_case(argv[1]);
  if (c == nullptr) return report(2, std::string("unknown case ") + argv[1]);
  const auto owner_base = static_cast<std::uintptr_t>(std::strtoull(argv[2], nullptr, 16));

  seam::arena_view view = seam::arena_view::open(arena_fd);
  seam::arena_view elsewhere;
  if (reinterpret_cast<std::uintptr_t>(view.base()) == owner_base) {
    // Same address by chance (or ASLR off): map it again while the first mapping holds that
    // address, so the check really crosses addresses.
    elsewhere = seam::arena_view::open(arena_fd);
    std::swap(view, elsewhere);
  }
  if (reinterpret_cast<std::uintptr_t>(view.base()) == owner_base) {
    return report(2, "the view landed at the owner's address");
  }
  if (const std::string perms = permissions_at(view.base()); perms != "r--s") {
    return report(2, "the view is mapped " + perms + ", not read-only shared");
  }
  if (seam::arena_scope::current() != nullptr) return report(2, "the reader has an arena");

  const std::string problem = c->check(view);
  if (!problem.empty()) return report(1, std::string("FAIL ") + c->name + ": " + problem);
  return report(0, std::string("ok ") + c->name);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    return report(2, std::string("error: ") + e.what());
  }
}
