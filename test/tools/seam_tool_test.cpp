// The `seam` tool against real processes: an owner (session server with an arena it shares),
// a reader that maps that arena read-only, and this test connected to the server. Each command
// runs with --json and what it reports is checked against what the test knows.

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "seam/seam.hpp"
#include "support/process.hpp"
#include "tools/json_value.hpp"

namespace {

using seam::test::json_parser;
using seam::test::json_value;

constexpr std::int64_t gib = std::int64_t{1} << 30;

// Reads `fd` to its end, waiting up to a minute for each piece.
std::string read_all(int fd) {
  std::string text;
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 60'000) != 1) throw std::runtime_error("tool output: timed out");
    char buffer[4096];
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return text;
    text.append(buffer, static_cast<std::size_t>(n));
  }
}

struct tool_result {
  int status = -1;
  std::string out;
};

// Runs `seam` with `args`; with `pause`, the tool's test hook stops it after it read each
// process's maps and `pause(pid)` runs before it goes on.
tool_result run_tool(const std::vector<std::string>& args,
                     const std::function<void(pid_t)>& pause) {
  seam::test::pipe_pair out, to_test, from_test;
  std::vector<std::pair<int, int>> fds{{out.write_end.get(), 1}};
  fds.push_back({to_test.write_end.get(), 5});
  fds.push_back({from_test.read_end.get(), 6});
  // The hook is read from the environment; only this test sets it, before the tool starts.
  if (pause) ::setenv("SEAM_TOOL_TEST_PAUSE", "5:6", 1);
  seam::test::process p = seam::test::spawn(SEAM_TOOL, args, fds);
  ::unsetenv("SEAM_TOOL_TEST_PAUSE");
  out.write_end.reset();
  to_test.write_end.reset();
  from_test.read_end.reset();
  tool_result r;
  if (pause) {
    for (;;) {
      std::string line;
      try {
        line = seam::test::read_line(to_test.read_end.get());
      } catch (const std::runtime_error&) {
        break;  // the tool closed fd 5: it is done pausing
      }
      pause(static_cast<pid_t>(std::stol(line)));
      seam::test::write_all(from_test.write_end.get(), "g");
    }
  }
  r.out = read_all(out.read_end.get());
  r.status = p.wait();
  return r;
}

tool_result run_tool(const std::vector<std::string>& args) {
  return run_tool(args, std::function<void(pid_t)>{});
}

// The entry of `arenas` whose id is `id`, or nullptr.
const json_value* find_arena(const json_value& arenas, const std::string& id) {
  for (const json_value& a : arenas.array) {
    if (a.has("id") && a["id"].string == id) return &a;
  }
  return nullptr;
}

const json_value* find_process(const json_value& report, pid_t pid) {
  for (const json_value& p : report["processes"].array) {
    if (p["pid"].integer() == pid) return &p;
  }
  return nullptr;
}

// An owner and a reader of its arena, each a process of its own.
class SeamToolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    m_app = "tool-test-" + std::to_string(::getpid());
    seam::test::pipe_pair owner_out;
    m_owner = seam::test::spawn(SEAM_TOOL_PEER, {"owner", m_app}, {{owner_out.write_end.get(), 1}});
    owner_out.write_end.reset();
    std::istringstream owner_line(seam::test::read_line(owner_out.read_end.get()));
    std::string word;
    int fd = -1;
    owner_line >> word >> m_id >> fd;
    ASSERT_EQ(word, "owner");
    seam::test::pipe_pair reader_out;
    const std::string path = "/proc/" + std::to_string(m_owner.pid()) + "/fd/" + std::to_string(fd);
    m_reader =
        seam::test::spawn(SEAM_TOOL_PEER, {"reader", path},
                          {{reader_out.write_end.get(), 1}, {m_reader_in.read_end.get(), 0}});
    reader_out.write_end.reset();
    std::istringstream reader_line(seam::test::read_line(reader_out.read_end.get()));
    std::string reader_id;
    reader_line >> word >> reader_id;
    ASSERT_EQ(word, "reader");
    ASSERT_EQ(reader_id, m_id);
  }

  std::string m_app;
  std::string m_id;  // the owner's arena, as 16 hex digits
  seam::test::process m_owner;
  seam::test::pipe_pair m_reader_in;
  seam::test::process m_reader;
};

TEST_F(SeamToolTest, ServersListsTheListeningPidAndItsSessions) {
  seam::session s = seam::session::connect(m_app);
  const tool_result r = run_tool({"--json", "servers"});
  ASSERT_EQ(r.status, 0) << r.out;
  const json_value report = json_parser::parse(r.out);
  bool found = false;
  for (const json_value& server : report["servers"].array) {
    if (server["app"].string != m_app) continue;
    found = true;
    EXPECT_EQ(server["address"].string, "@seam/" + std::to_string(::geteuid()) + "/" + m_app);
    ASSERT_EQ(server["pids"].array.size(), 1u);
    EXPECT_EQ(server["pids"].array[0].integer(), m_owner.pid());
    EXPECT_EQ(server["sessions"].integer(), 1);
  }
  EXPECT_TRUE(found) << r.out;
}

TEST_F(SeamToolTest, ArenasShowsOwnerAndReaderOfTheSameArena) {
  const tool_result r =
      run_tool({"--json", "arenas", std::to_string(m_owner.pid()), std::to_string(m_reader.pid())});
  ASSERT_EQ(r.status, 0) << r.out;
  const json_value report = json_parser::parse(r.out);
  const json_value* owner = find_process(report, m_owner.pid());
  const json_value* reader = find_process(report, m_reader.pid());
  ASSERT_TRUE(owner != nullptr && reader != nullptr) << r.out;
  EXPECT_EQ((*owner)["command"].string, "seam_test_tool_peer");
  const json_value* owned = find_arena((*owner)["arenas"], m_id);
  ASSERT_NE(owned, nullptr) << r.out;
  EXPECT_EQ((*owned)["role"].string, "owner");
  EXPECT_EQ((*owned)["name"].string, "tool-test");
  EXPECT_EQ((*owned)["capacity"].integer(), gib);
  EXPECT_GE((*owned)["resident"].integer(), std::int64_t{4} << 20);
  EXPECT_TRUE((*owned)["verified"].boolean);
  std::map<std::string, std::int64_t> sizes;
  for (const json_value& n : (*owned)["named_objects"].array) {
    sizes[n["name"].string] = n["size"].integer();
  }
  EXPECT_EQ(sizes, (std::map<std::string, std::int64_t>{{"answer", 8}, {"counter", 4}}));
  ASSERT_EQ((*owned)["mapped_by"].array.size(), 1u) << r.out;
  EXPECT_EQ((*owned)["mapped_by"].array[0]["pid"].integer(), m_reader.pid());
  EXPECT_EQ((*owned)["mapped_by"].array[0]["role"].string, "reader");
  const json_value* read = find_arena((*reader)["arenas"], m_id);
  ASSERT_NE(read, nullptr) << r.out;
  EXPECT_EQ((*read)["role"].string, "reader");
  EXPECT_EQ((*read)["fd"].integer(), -1);  // it closed its descriptor: mapped only
  EXPECT_EQ((*reader)["arenas"].array.size(), 1u);
}

TEST_F(SeamToolTest, StatsReportsWhatTheOwnerPublished) {
  const tool_result r = run_tool({"--json", "stats", std::to_string(m_owner.pid())});
  ASSERT_EQ(r.status, 0) << r.out;
  const json_value report = json_parser::parse(r.out);
  EXPECT_EQ(report["pid"].integer(), m_owner.pid());
  const json_value* a = find_arena(report["arenas"], m_id);
  ASSERT_NE(a, nullptr) << r.out;
  ASSERT_TRUE((*a)["published"].boolean) << r.out;
  EXPECT_EQ((*a)["capacity"].integer(), gib);
  EXPECT_GE((*a)["allocated"].integer(), std::int64_t{4} << 20);
  EXPECT_LT((*a)["allocated"].integer(), std::int64_t{8} << 20);
  EXPECT_GE((*a)["reserved"].integer(), (*a)["allocated"].integer());
  EXPECT_GE((*a)["resident"].integer(), std::int64_t{4} << 20);
  EXPECT_EQ((*a)["owner_pid"].integer(), m_owner.pid());
  EXPECT_GE((*a)["publications"].integer(), 1);
}

TEST_F(SeamToolTest, APidItMayNotInspectIsAnErrorNotACrash) {
  // A pid that no longer exists: a child, reaped.
  seam::test::process gone = seam::test::fork_run([] { return 0; });
  const pid_t pid = gone.pid();
  ASSERT_EQ(gone.wait(), 0);
  const tool_result r = run_tool({"--json", "stats", std::to_string(pid)});
  EXPECT_EQ(r.status, 1);
  const json_value report = json_parser::parse(r.out);
  EXPECT_EQ(report["error"].string, "no such process (or it exited)");
  EXPECT_EQ(run_tool({"stats", "not-a-pid"}).status, 2);
  EXPECT_EQ(run_tool({"frobnicate"}).status, 2);
}

TEST_F(SeamToolTest, AProcessThatExitsWhileBeingReadIsReportedAsExited) {
  const pid_t reader = m_reader.pid();
  bool killed = false;
  const tool_result r = run_tool(
      {"--json", "arenas", std::to_string(m_owner.pid()), std::to_string(reader)}, [&](pid_t pid) {
        if (pid != reader) return;
        m_reader.kill();  // its maps are read; its descriptors are not yet
        m_reader.wait();
        killed = true;
      });
  ASSERT_TRUE(killed);
  EXPECT_EQ(r.status, 1) << r.out;
  const json_value report = json_parser::parse(r.out);
  const json_value* gone = find_process(report, reader);
  ASSERT_NE(gone, nullptr) << r.out;
  EXPECT_EQ((*gone)["error"].string, "no such process (or it exited)");
  const json_value* owner = find_process(report, m_owner.pid());
  ASSERT_NE(owner, nullptr);
  EXPECT_NE(find_arena((*owner)["arenas"], m_id), nullptr) << r.out;
}

}  // namespace
