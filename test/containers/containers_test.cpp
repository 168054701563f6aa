// Every Seam container, built by this process in an arena and checked element by element by
// another program (containers_reader) that maps the arena read-only at another address.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "containers/containers_cases.hpp"

extern char** environ;

namespace {

using containers_cases::case_def;

// What the reader said and how it ended.
struct reader_result {
  int exit_code = -1;  // -1 if killed by a signal
  int signal = 0;
  std::string message;
};

std::string describe(const reader_result& r) {
  return "exit " + std::to_string(r.exit_code) + ", signal " + std::to_string(r.signal) +
         ", said: " + r.message;
}

// Runs containers_reader on `case_name` with a read-only fd of `a` as its fd 3 and a pipe as
// its fd 4; waits for the pipe to close (the reader exiting), at most `timeout`.
reader_result run_reader(const seam::arena& a, const char* case_name,
                         std::chrono::seconds timeout = std::chrono::seconds{60}) {
  reader_result result;
  // Keep the fds we hand over above the numbers they get in the child, so that one dup2 cannot
  // overwrite the source of the other. The shared fd is O_CLOEXEC; dup2 in the child clears it.
  seam::unique_fd shared = a.share();
  seam::unique_fd arena_fd{::fcntl(shared.get(), F_DUPFD_CLOEXEC, 10)};
  int pipe_fds[2];
  if (!arena_fd || ::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "cannot set up the reader's fds";
    return result;
  }
  seam::unique_fd read_end{pipe_fds[0]};
  seam::unique_fd write_end{::fcntl(pipe_fds[1], F_DUPFD_CLOEXEC, 10)};
  ::close(pipe_fds[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, arena_fd.get(), 3);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), 4);
  char base[32];
  std::snprintf(base, sizeof base, "%lx", reinterpret_cast<unsigned long>(a.base()));
  std::string program = SEAM_CONTAINERS_READER;
  std::string name = case_name;
  char* argv[] = {program.data(), name.data(), base, nullptr};
  pid_t pid = -1;
  const int spawned = ::posix_spawn(&pid, program.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  write_end.reset();  // only the child holds the write end now: EOF means it is gone
  if (spawned != 0) {
    ADD_FAILURE() << "posix_spawn " << program << ": " << spawned;
    return result;
  }

  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buffer[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{read_end.get(), POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) == 0) {
      ::kill(pid, SIGKILL);
      result.message += "[timed out]";
      break;
    }
    const ssize_t n = ::read(read_end.get(), buffer, sizeof buffer);
    if (n <= 0) break;
    result.message.append(buffer, static_cast<std::size_t>(n));
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  while (!result.message.empty() && result.message.back() == '\n') result.message.pop_back();
  return result;
}

class ContainersAcrossProcesses : public ::testing::TestWithParam<case_def> {};

// The owner builds the structure, the reader checks every element through its own read-only
// mapping: offset pointers, hashes and orderings work at another address, and reading needs
// neither writes nor allocations.
TEST_P(ContainersAcrossProcesses, ReaderSeesEveryElement) {
  const case_def& c = GetParam();
  seam::arena a;
  c.build(a);
  const reader_result r = run_reader(a, c.name);
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.message, std::string("ok ") + c.name);
}

INSTANTIATE_TEST_SUITE_P(EveryAlias, ContainersAcrossProcesses,
                         ::testing::ValuesIn(containers_cases::cases),
                         [](const ::testing::TestParamInfo<case_def>& info) {
                           return std::string(info.param.name);
                         });

// The checks above would pass vacuously if the reader did not really compare: change one
// element after building and the reader must name it.
TEST(ContainersReader, ReportsAWrongElement) {
  seam::arena a;
  {
    seam::arena_scope scope{a};
    auto* v = containers_cases::build_vector(a);
    a.set_root(a.handle_of(v));
    (*v)[1234] += 1;
  }
  const reader_result r = run_reader(a, "vector");
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_NE(r.message.find("element 1234"), std::string::npos) << r.message;
}

// A root published as another type is refused by the view, and the reader says so.
TEST(ContainersReader, RefusesARootOfAnotherType) {
  seam::arena a;
  a.set_root(a.handle_of(a.make<std::uint64_t>(7)));
  const reader_result r = run_reader(a, "vector");
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_NE(r.message.find("error"), std::string::npos) << r.message;
}

// The same structures can be read in this process too, through a second, read-only mapping.
TEST(ContainersInProcessView, SecondMappingSeesTheSameTree) {
  seam::arena a;
  containers_cases::find_case("tree")->build(a);
  seam::arena_view view = seam::arena_view::open(a.share().get());
  ASSERT_NE(static_cast<const void*>(view.base()), static_cast<const void*>(a.base()));
  EXPECT_EQ(containers_cases::check_tree_in(view), "");
}

}  // namespace
