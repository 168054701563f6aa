// Sessions at scale, with real processes: 1,500 concurrent sessions (past the 1,024 at which
// sessions used to fail) from two client processes (scale_client.cpp), served by the one
// reactor thread; every session lends, borrows and opens a channel; every peer's death is
// seen. (The 10,000-session run is `seam_bench_sessions`.)

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "seam/channel/channel.hpp"
#include "seam/session/session.hpp"
#include "session/peer.hpp"

namespace {

using namespace std::chrono_literals;
using seam::test::unique_app;

long long threads_now() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("Threads:", 0) == 0) return std::stoll(line.substr(8));
  }
  return -1;
}

TEST(ScaleTest, FifteenHundredSessionsFromTwoProcessesShareOneThread) {
  constexpr std::size_t sessions = 1500, per_client = sessions / 2;
  // One descriptor per session here (its socket), one more while its channel is open.
  rlimit r{};
  ::getrlimit(RLIMIT_NOFILE, &r);
  if (r.rlim_cur < sessions + 512) {
    r.rlim_cur = std::min<rlim_t>(r.rlim_max, sessions + 512);
    ::setrlimit(RLIMIT_NOFILE, &r);
  }
  ASSERT_GE(r.rlim_cur, sessions + 256) << "RLIMIT_NOFILE's hard limit is too low for the test";

  const auto app = unique_app();
  seam::session_server server{app};
  seam::arena dataset({.capacity = std::size_t{64} << 20, .name = "scale-dataset"});
  auto* answer = dataset.make<std::uint64_t>(4242);
  std::vector<seam::test::pipe_pair> outs(2), ins(2);
  std::vector<seam::test::process> clients;
  for (int c = 0; c < 2; ++c) {
    clients.push_back(
        seam::test::spawn(SEAM_SCALE_CLIENT, {app, std::to_string(per_client)},
                          {{outs[c].write_end.get(), 1}, {ins[c].read_end.get(), 0}}));
    outs[c].write_end.reset();
    ins[c].read_end.reset();
  }
  std::vector<seam::session> accepted;
  accepted.reserve(sessions);
  long long threads_with_one = 0;
  while (accepted.size() < sessions) {
    accepted.push_back(server.accept(60s));
    // Shared as each session starts: the share has long arrived when a handle into it does.
    accepted.back().share(dataset);
    if (accepted.size() == 1) threads_with_one = threads_now();
  }
  for (auto& o : outs) EXPECT_EQ(seam::test::read_line(o.read_end.get(), 60s), "connected");
  // The reactor serves them all: one thread, not one per session.
  EXPECT_EQ(threads_now(), threads_with_one);

  std::size_t borrowed = 0;
  for (auto& s : accepted) {
    ASSERT_TRUE(s.is_open()) << s.close_reason().message();
    seam::channel ch = s.accept_channel(30s);
    auto m = ch.receive(30s);
    ASSERT_EQ(m.handles.size(), 1u);
    if (*s.borrow(m.handles[0].as<std::uint64_t>()) < per_client) ++borrowed;
    const auto h = s.lend(answer, [] {}).as<std::byte>();
    ch.send(std::as_bytes(std::span("s", 1)), {}, {&h, 1});
  }
  EXPECT_EQ(borrowed, sessions);
  // Every answer right, and the dataset shared with 750 sessions mapped once in each client.
  for (auto& o : outs) {
    EXPECT_EQ(seam::test::read_line(o.read_end.get(), 60s), std::to_string(per_client) + " 1");
  }
  EXPECT_EQ(threads_now(), threads_with_one);

  // Every peer dies: every session sees it.
  for (auto& i : ins) seam::test::write_all(i.write_end.get(), "bye\n");
  for (auto& c : clients) EXPECT_EQ(c.wait(), 0);
  for (auto& s : accepted) {
    ASSERT_TRUE(s.wait_closed(30s));
    EXPECT_EQ(s.close_reason(), seam::errc::peer_closed);
    EXPECT_EQ(s.lent_count(), 0u);  // released by the peer, or with its death
  }
  accepted.clear();
  EXPECT_EQ(threads_now(), threads_with_one - 1);  // the last session gone, the reactor joined
}

}  // namespace
