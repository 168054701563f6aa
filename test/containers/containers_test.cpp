// Every Seam container, built by this process in an arena and checked element by element by
// another program (containers_reader) that maps the arena read-only at another address.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <string>

#include "containers/containers_cases.hpp"
#include "support/process.hpp"

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
// its fd 4, and waits at most `timeout` for its line and its end.
reader_result run_reader(const seam::arena& a, const char* case_name,
                         std::chrono::seconds timeout = std::chrono::seconds{60}) {
  reader_result result;
  seam::unique_fd shared = a.share();
  seam::test::pipe_pair pipe;
  char base[32];
  std::snprintf(base, sizeof base, "%lx", reinterpret_cast<unsigned long>(a.base()));
  seam::test::process reader = seam::test::spawn(SEAM_CONTAINERS_READER, {case_name, base},
                                                 {{shared.get(), 3}, {pipe.write_end.get(), 4}});
  pipe.write_end.reset();  // only the child holds the write end now: EOF means it is gone
  try {
    result.message = seam::test::read_line(pipe.read_end.get(), timeout);
  } catch (const std::exception& e) {
    result.message = std::string("[") + e.what() + "]";
  }
  const int status = reader.wait(timeout);
  if (status >= 1000) {
    result.signal = status - 1000;
  } else {
    result.exit_code = status;
  }
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
