// The processes the `seam` tool's tests inspect.
//   tool_peer owner <app>   makes an arena of 1 GiB with 4 MiB in use and two named objects
//                           ("answer", a std::uint64_t; "counter", a std::uint32_t), shares
//                           it (which publishes its stats), listens as <app>, prints
//                           "owner <arena id hex> <fd of the shared descriptor>", accepts
//                           sessions until killed.
//   tool_peer reader <path> maps the arena at <path> (/proc/<owner>/fd/<n>) read-only, closes
//                           the descriptor, prints "reader", waits until killed or stdin ends.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "seam/seam.hpp"

namespace {

int owner(const char* app) {
  seam::arena arena({.capacity = std::size_t{1} << 30, .name = "tool-test"});
  void* block = arena.allocate(std::size_t{4} << 20);
  std::memset(block, 1, std::size_t{4} << 20);  // resident
  arena.make_named<std::uint64_t>("answer", 42);
  arena.make_named<std::uint32_t>("counter", 7);
  seam::unique_fd shared = arena.share();  // publishes the stats
  seam::session_server server(app);
  std::printf("owner %016" PRIx64 " %d\n", arena.id(), shared.get());
  std::fflush(stdout);
  std::vector<seam::session> sessions;
  for (;;) {
    std::error_code ec;
    seam::session s = server.accept(std::chrono::milliseconds(-1), ec);
    if (!ec) sessions.push_back(std::move(s));
  }
}

int reader(const char* path) {
  seam::arena_view view;
  {
    seam::unique_fd fd{::open(path, O_RDONLY | O_CLOEXEC)};
    if (!fd) return 3;
    view = seam::arena_view::open(fd.get());
  }
  std::printf("reader %016" PRIx64 "\n", view.id());
  std::fflush(stdout);
  char c;
  while (::read(0, &c, 1) > 0) {
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "owner") == 0) return owner(argv[2]);
  if (argc == 3 && std::strcmp(argv[1], "reader") == 0) return reader(argv[2]);
  return 2;
}
