// Two processes fill one shared table; one is killed with SIGKILL half way; the other finishes
// and prints what it found.
//
//   seam_shared_writers [keys per writer]
//
// The first process creates an arena, makes a table in it (a `seam::hash_map` and the lock that
// guards it, found by name) and starts a second copy of this program (`--writer`) with a
// read-write fd of the arena (`share_writable()`) as fd 3. That process attaches as a writer
// (`seam::arena::attach`): it allocates in the same arena with a heap of its own. Both insert
// their keys, one lock per insert. Half way, the second one takes the lock, says so, and is
// killed with SIGKILL while it holds it. The first one goes on: its next lock reports that the
// previous owner died (so it checks the table), it finishes, and it prints what the table holds
// -- every entry the dead writer inserted is still there -- and what the arena says about the
// dead writer's memory.

#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "seam/seam.hpp"

extern char** environ;

namespace {

constexpr int arena_fd = 3;

struct record {
  std::int32_t writer;  // 0: the first process, 1: the second
  std::int64_t value;
};

/// The shared table: a hash map and its robust, process-shared lock.
// TODO: seam::synchronized<seam::hash_map<…>> and seam::mutex once they land.
struct table {
  table() {
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&lock, &attr);
    pthread_mutexattr_destroy(&attr);
  }
  /// Locks; true if the previous owner died holding the lock.
  bool acquire() {
    if (pthread_mutex_lock(&lock) != EOWNERDEAD) return false;
    pthread_mutex_consistent(&lock);
    return true;
  }
  void release() { pthread_mutex_unlock(&lock); }

  pthread_mutex_t lock;
  seam::hash_map<std::int64_t, record> entries;
};

std::int64_t value_of(std::int64_t key) { return key * 31 + 7; }

// The second process: attaches, inserts odd keys, and at half way holds the lock until killed.
int run_writer(std::int64_t keys) {
  seam::arena a = seam::arena::attach(seam::unique_fd{arena_fd});
  auto* t = a.find<table>("table");
  if (t == nullptr) return 1;
  seam::arena_scope scope{a};
  for (std::int64_t i = 0; i < keys; ++i) {
    const std::int64_t key = 2 * i + 1;
    t->acquire();
    t->entries.insert({key, record{1, value_of(key)}});
    if (i == keys / 2) {
      std::printf("writer 2: %lld keys in, holding the lock\n", static_cast<long long>(i + 1));
      std::fflush(stdout);
      for (;;) ::pause();  // SIGKILL comes here
    }
    t->release();
  }
  return 0;
}

int run_owner(const char* self, std::int64_t keys) {
  seam::arena a({.capacity = std::size_t{4} << 30, .name = "shared-writers"});
  auto* t = a.make_named<table>("table");
  seam::arena_scope scope{a};

  int out[2];
  if (::pipe(out) != 0) return 1;
  seam::unique_fd writable = a.share_writable();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, writable.get(), arena_fd);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  const std::string count = std::to_string(keys);
  char* argv[] = {const_cast<char*>(self), const_cast<char*>("--writer"),
                  const_cast<char*>(count.c_str()), nullptr};
  pid_t pid = 0;
  if (const int r = ::posix_spawn(&pid, self, &actions, nullptr, argv, environ); r != 0) {
    std::fprintf(stderr, "posix_spawn: %s\n", std::strerror(r));
    return 1;
  }
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  writable.reset();

  // Our first half of the even keys, while the other writer inserts its odd ones.
  std::int64_t i = 0;
  for (; i < keys / 2; ++i) {
    t->acquire();
    t->entries.insert({2 * i, record{0, value_of(2 * i)}});
    t->release();
  }
  // Wait for the other writer to be half way (holding the lock), and kill it there.
  char line[128] = {};
  const ssize_t n = ::read(out[0], line, sizeof line - 1);
  std::printf("%s", n > 0 ? line : "writer 2 said nothing\n");
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::printf("writer 2 killed (%s)\n", WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "?");

  bool previous_owner_died = false;
  for (; i < keys; ++i) {
    if (t->acquire()) {
      previous_owner_died = true;
      // The dead writer held the lock: a real program would check or repair what it guards.
      std::printf("writer 1: the lock's previous owner died; the table holds %zu entries\n",
                  t->entries.size());
    }
    t->entries.insert({2 * i, record{0, value_of(2 * i)}});
    t->release();
  }

  std::size_t mine = 0, theirs = 0, wrong = 0;
  for (const auto& [key, r] : t->entries) {
    (r.writer == 0 ? mine : theirs) += 1;
    wrong += r.value != value_of(key) || (key % 2 == 1) != (r.writer == 1);
  }
  const seam::arena_stats s = a.stats();
  std::printf("table: %zu entries, %zu from writer 1 (all of its %lld), %zu from the dead writer 2,"
              " %zu wrong\n",
              t->entries.size(), mine, static_cast<long long>(keys), theirs, wrong);
  std::printf("lock reported previous owner died: %s\n", previous_owner_died ? "yes" : "no");
  std::printf("arena: %zu writer(s) now, %zu MiB claimed by the dead writer (its blocks stay "
              "valid), %zu MiB in live blocks\n",
              s.writers, s.orphaned >> 20, s.allocated >> 20);
  return wrong == 0 && mine == static_cast<std::size_t>(keys) && previous_owner_died ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc >= 3 && std::strcmp(argv[1], "--writer") == 0) {
      return run_writer(std::atoll(argv[2]));
    }
    const std::int64_t keys = argc >= 2 ? std::atoll(argv[1]) : 200000;
    return run_owner(argv[0], keys > 0 ? keys : 200000);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "seam_shared_writers: %s\n", e.what());
    return 1;
  }
}
