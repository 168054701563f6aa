// Two processes fill one shared table; one is killed with SIGKILL half way; the other finishes
// and prints what it found.
//
//   seam_shared_writers [keys per writer]
//
// The first process creates an arena and makes a table in it (a `seam::hash_map` and the lock
// that guards it, found by name), then starts two copies of this program (`--writer 1|2`), each
// with a read-write fd of the arena (`share_writable()`) as fd 3. Each attaches as a writer
// (`seam::arena::attach`): it allocates in the same arena with a heap of its own. Both insert
// their keys, one lock per insert. Half way, writer 2 takes the lock, says so, and is killed
// with SIGKILL while it holds it. Writer 1 goes on: its next lock reports that the previous
// owner died (so it checks the table), it finishes, and it prints what the table holds -- every
// entry the dead writer inserted is still there -- and what the arena says about the dead
// writer's memory.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <system_error>

#include "seam/seam.hpp"

extern char** environ;

namespace {

constexpr int arena_fd = 3;

struct record {
  std::int32_t writer;  // 1 or 2
  std::int64_t value;
};

/// The shared table: a hash map and its robust, process-shared lock (`seam::mutex`).
using table = seam::synchronized<seam::hash_map<std::int64_t, record>>;

std::int64_t value_of(std::int64_t key) { return key * 31 + 7; }

// Writer 2: inserts odd keys, and at half way holds the lock until it is killed.
int run_victim(table& t, std::int64_t keys) {
  for (std::int64_t i = 0; i < keys; ++i) {
    const std::int64_t key = 2 * i + 1;
    auto entries = t.lock();
    entries->insert({key, record{2, value_of(key)}});
    if (i == keys / 2) {
      std::printf("writer 2: %lld keys in, holding the lock\n", static_cast<long long>(i + 1));
      std::fflush(stdout);
      for (;;) ::pause();  // SIGKILL comes here
    }
  }
  return 1;
}

// Writer 1: inserts even keys; once told that writer 2 was killed, takes the lock once more
// (in case it never met the dead owner on the way) and reports.
int run_survivor(seam::arena& a, table& t, std::int64_t keys) {
  bool previous_owner_died = false;
  auto lock = [&] {
    auto entries = t.lock();
    if (entries.previous_owner_died()) {
      previous_owner_died = true;
      // A real program would check or repair what the lock guards here.
      std::printf("writer 1: the lock's previous owner died; the table holds %zu entries\n",
                  entries->size());
    }
    return entries;
  };
  for (std::int64_t i = 0; i < keys; ++i) lock()->insert({2 * i, record{1, value_of(2 * i)}});
  char line[16];
  if (::read(0, line, sizeof line) <= 0) return 1;  // "killed"
  std::size_t mine = 0, theirs = 0, wrong = 0;
  {
    auto entries = lock();
    for (const auto& [key, r] : *entries) {
      (r.writer == 1 ? mine : theirs) += 1;
      wrong += r.value != value_of(key) || (key % 2 == 1) != (r.writer == 2);
    }
  }
  const seam::arena_stats s = a.stats();
  std::printf("writer 1: table of %zu entries: %zu of mine (all %lld), %zu from the dead writer 2, "
              "%zu wrong\n",
              mine + theirs, mine, static_cast<long long>(keys), theirs, wrong);
  std::printf("writer 1: the lock reported its previous owner died: %s\n",
              previous_owner_died ? "yes" : "no");
  std::printf("writer 1: arena has %zu writers now (the creator and me); the dead writer claimed "
              "%zu MiB, its blocks stay valid\n",
              s.writers, s.orphaned >> 20);
  return wrong == 0 && mine == static_cast<std::size_t>(keys) && theirs > 0 && previous_owner_died
             ? 0
             : 1;
}

int run_writer(int id, std::int64_t keys) {
  seam::arena a = seam::arena::attach(seam::unique_fd{arena_fd});
  auto* t = a.find<table>("table");
  if (t == nullptr) return 1;
  seam::arena_scope scope{a};
  return id == 2 ? run_victim(*t, keys) : run_survivor(a, *t, keys);
}

// Starts `self --writer id keys` with the arena as fd 3, and `in`/`out` as its stdin/stdout
// (-1: inherited).
pid_t start_writer(const char* self, int id, std::int64_t keys, int fd, int in, int out) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fd, arena_fd);
  if (in >= 0) posix_spawn_file_actions_adddup2(&actions, in, 0);
  if (out >= 0) posix_spawn_file_actions_adddup2(&actions, out, 1);
  const std::string which = std::to_string(id), count = std::to_string(keys);
  char* argv[] = {const_cast<char*>(self), const_cast<char*>("--writer"),
                  const_cast<char*>(which.c_str()), const_cast<char*>(count.c_str()), nullptr};
  pid_t pid = 0;
  const int r = ::posix_spawn(&pid, self, &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  if (r != 0) throw std::system_error(r, std::generic_category(), "posix_spawn");
  return pid;
}

int run_creator(const char* self, std::int64_t keys) {
  seam::arena a({.capacity = std::size_t{4} << 30, .name = "shared-writers",
                 .isolation = seam::isolation::trust_same_uid});
  a.make_named<table>("table");
  int to_survivor[2], from_victim[2];
  if (::pipe2(to_survivor, O_CLOEXEC) != 0 || ::pipe2(from_victim, O_CLOEXEC) != 0) return 1;
  seam::unique_fd writable = a.share_writable();
  const pid_t survivor = start_writer(self, 1, keys, writable.get(), to_survivor[0], -1);
  const pid_t victim = start_writer(self, 2, keys, writable.get(), -1, from_victim[1]);
  ::close(from_victim[1]);
  writable.reset();

  char line[128] = {};
  const ssize_t n = ::read(from_victim[0], line, sizeof line - 1);
  std::printf("%s", n > 0 ? line : "writer 2 said nothing\n");
  std::fflush(stdout);
  ::kill(victim, SIGKILL);
  int status = 0;
  ::waitpid(victim, &status, 0);
  std::printf("writer 2 killed (%s)\n", WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "?");
  std::fflush(stdout);
  if (::write(to_survivor[1], "killed\n", 7) != 7) return 1;
  ::waitpid(survivor, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc >= 4 && std::strcmp(argv[1], "--writer") == 0) {
      return run_writer(std::atoi(argv[2]), std::atoll(argv[3]));
    }
    const std::int64_t keys = argc >= 2 ? std::atoll(argv[1]) : 200000;
    return run_creator(argv[0], keys > 0 ? keys : 200000);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "seam_shared_writers: %s\n", e.what());
    return 1;
  }
}
