// Hands a 1 GiB array and a string to a second process through a Seam arena.
//
// The first process creates an arena, fills it, and starts a second copy of this program with
// the arena's read-only fd as fd 3. The second maps the arena, finds the data through the
// arena's root (no other channel), checks every element, and prints what it read and how long
// the hand-off took: from the moment the first process decided to share to the moment the
// second held a pointer to the data.

#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "seam/arena.hpp"

extern char** environ;

namespace {

struct payload {
  seam::handle<std::uint64_t> numbers;
  std::uint64_t count;
  seam::handle<char> text;
  std::uint64_t text_size;
  std::int64_t shared_at_ns;  // CLOCK_MONOTONIC, when the owner started the hand-off
};

std::int64_t now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

int read_side() {
  seam::arena_view view = seam::arena_view::open(3);
  const payload& p = *view.root<payload>();
  const auto numbers = view.get(p.numbers, p.count);
  const auto text = view.get(p.text, p.text_size);
  const std::int64_t handed_over = now_ns() - p.shared_at_ns;

  const std::int64_t start = now_ns();
  std::uint64_t wrong = 0;
  for (std::uint64_t i = 0; i < numbers.size(); ++i) wrong += numbers[i] != i * i;
  const double scan_ms = static_cast<double>(now_ns() - start) / 1e6;

  std::printf("reader: mapped %zu MiB of the owner's arena at %p (read-only)\n",
              view.size() >> 20, static_cast<const void*>(view.base()));
  std::printf("reader: text: \"%.*s\"\n", static_cast<int>(text.size()), text.data());
  std::printf("reader: %zu numbers (%zu MiB), %" PRIu64 " wrong; scanned them in %.1f ms\n",
              numbers.size(), numbers.size_bytes() >> 20, wrong, scan_ms);
  std::printf("reader: hand-off took %.2f ms (start a process, map the arena, find the root);"
              " no byte was copied\n",
              static_cast<double>(handed_over) / 1e6);
  return wrong == 0 ? 0 : 1;
}

int owner_side(const char* self, std::uint64_t count) {
  auto arena = seam::arena::create({.capacity = std::size_t{4} << 30, .name = "arena-demo"});
  const std::int64_t start = now_ns();
  auto* numbers = static_cast<std::uint64_t*>(arena.allocate(count * sizeof(std::uint64_t)));
  for (std::uint64_t i = 0; i < count; ++i) numbers[i] = i * i;
  const std::string message = "Hello from process " + std::to_string(::getpid()) +
                              ", written once, read in place by another process.";
  auto* text = static_cast<char*>(arena.allocate(message.size(), 1));
  std::memcpy(text, message.data(), message.size());
  std::printf("owner:  wrote %" PRIu64 " MiB in %.0f ms; arena stats: resident %zu MiB\n",
              count * 8 >> 20, static_cast<double>(now_ns() - start) / 1e6,
              arena.stats().resident >> 20);

  auto* p = arena.make<payload>();
  *p = {arena.handle_of(numbers), count, arena.handle_of(text), message.size(), now_ns()};
  arena.set_root(arena.handle_of(p));

  seam::unique_fd fd = arena.share();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fd.get(), 3);  // dup2 clears close-on-exec
  char* argv[] = {const_cast<char*>(self), const_cast<char*>("--reader"), nullptr};
  pid_t pid = 0;
  if (int e = posix_spawn(&pid, self, &actions, nullptr, argv, environ); e != 0) {
    std::fprintf(stderr, "owner: cannot start the reader: %s\n", std::strerror(e));
    return 1;
  }
  posix_spawn_file_actions_destroy(&actions);
  int status = 0;
  ::waitpid(pid, &status, 0);
  const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  std::printf("owner:  reader %s\n", ok ? "checked every number" : "FAILED");
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc > 1 && std::strcmp(argv[1], "--reader") == 0) return read_side();
    const std::uint64_t mib = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1024;
    return owner_side("/proc/self/exe", mib << 20 >> 3);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "arena_demo: %s\n", e.what());
    return 1;
  }
}
