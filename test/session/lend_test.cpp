// Lending and borrowing across processes: lifetimes, counts, and a borrower's death.

#include <gtest/gtest.h>

#include "seam/channel/channel.hpp"
#include "seam/session/session.hpp"
#include "session/peer.hpp"

namespace {

using namespace std::chrono_literals;
using seam::test::eventually;
using seam::test::peer;
using seam::test::unique_app;

TEST(LendTest, TenThousandCyclesLeaveNoLendsAndNoMemory) {
  constexpr std::uint64_t cycles = 10000;
  const auto app = unique_app();
  seam::session_server server{app};
  peer client("borrow-cycles", app, cycles);
  auto s = server.accept(30s);
  const std::size_t baseline = s.arena().stats().allocated;
  auto ch = s.open_channel();
  for (std::uint64_t i = 0; i < cycles; ++i) {
    const auto h = s.lend(s.arena().make<std::uint64_t>(i)).as<std::byte>();
    ch.send({}, {}, {&h, 1});
    ASSERT_EQ(ch.receive(30s).bytes.size(), sizeof i);
  }
  EXPECT_EQ(client.proc.wait(), 0);
  EXPECT_TRUE(eventually([&] { return s.lent_count() == 0; }));
  EXPECT_EQ(s.arena().stats().allocated, baseline);
}

TEST(LendTest, KilledBorrowerReleasesEveryLendWithin100ms) {
  constexpr std::uint64_t lends = 1000;
  const auto app = unique_app();
  seam::session_server server{app};
  peer client("borrow-hold", app);
  auto s = server.accept(30s);
  const std::size_t baseline = s.arena().stats().allocated;
  std::vector<seam::handle<std::byte>> handles;
  for (std::uint64_t i = 0; i < lends; ++i) {
    handles.push_back(s.lend(s.arena().make<std::uint64_t>(i)).as<std::byte>());
    // A lent object reads through its handle. (Read here, before the next lends take the
    // session's lock, which its thread takes before it frees the lends after the kill below:
    // so TSan, which cannot see that the kill orders them, sees this read happen before the free.)
    if (i == 7) {
      EXPECT_EQ(*s.arena().get(handles[7].as<std::uint64_t>()), 7u);
    }
  }
  auto ch = s.open_channel();
  ch.send({}, {}, handles);
  ASSERT_EQ(client.line(), "connected");
  ASSERT_EQ(client.line(), "holding 1000");
  // Borrowed objects stay alive and counted.
  EXPECT_EQ(s.lent_count(), lends);
  EXPECT_GE(s.arena().stats().allocated, baseline + lends * sizeof(std::uint64_t));

  const auto killed_at = std::chrono::steady_clock::now();
  client.proc.kill(SIGKILL);
  ASSERT_TRUE(s.wait_closed(2s));
  const auto noticed = std::chrono::steady_clock::now() - killed_at;
  EXPECT_LT(noticed, 100ms);
  EXPECT_EQ(s.close_reason(), seam::errc::peer_closed);
  EXPECT_EQ(s.lent_count(), 0u);
  EXPECT_EQ(s.arena().stats().allocated, baseline);
  EXPECT_EQ(client.proc.wait(), 1000 + SIGKILL);
}

TEST(LendTest, LendLimitAndForeignPointersAreClearErrors) {
  const auto app = unique_app();
  seam::server_options options;
  options.max_lends = 10;
  seam::session_server server{app, options};
  peer client("wait", app);
  auto s = server.accept(30s);
  for (int i = 0; i < 10; ++i) s.lend(s.arena().make<int>(i));
  try {
    s.lend(s.arena().make<int>(11));
    ADD_FAILURE() << "lend past the limit";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), seam::errc::lend_limit);
  }
  int on_stack = 0;
  try {
    s.lend(&on_stack);
    ADD_FAILURE() << "lent an object outside every arena";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), seam::errc::not_in_arena);
  }
  // The non-throwing forms say the same.
  std::error_code ec;
  auto* past = s.arena().make<int>(12);
  EXPECT_FALSE(s.lend(past, ec));
  EXPECT_EQ(ec, seam::errc::lend_limit);
  s.arena().destroy(past);
  EXPECT_FALSE(s.lend(&on_stack, ec));
  EXPECT_EQ(ec, seam::errc::not_in_arena);
  EXPECT_FALSE(s.borrow(seam::handle<int>{12345, 4096}, ec));
  EXPECT_EQ(ec, seam::errc::unknown_arena);
  // Closing releases (destroys) what is still lent.
  s.close();
  EXPECT_EQ(s.lent_count(), 0u);
  s.share(s.arena(), ec);
  EXPECT_EQ(ec, seam::errc::peer_closed);
}

TEST(LendTest, CustomReleaseRunsOnceWhenTheLastLendIsReleased) {
  const auto app = unique_app();
  seam::session_server server{app};
  peer client("borrow-cycles", app, 2);
  auto s = server.accept(30s);
  auto* value = s.arena().make<std::uint64_t>(0);
  std::atomic<int> released{0};
  auto ch = s.open_channel();
  // The same object lent twice: the release runs when both lends are released.
  const auto h = s.lend(value, [&] { ++released; }).as<std::byte>();
  s.lend(value, [&] { released += 100; });
  ch.send({}, {}, {&h, 1});
  ASSERT_EQ(ch.receive(30s).bytes.size(), 8u);
  *value = 1;
  ch.send({}, {}, {&h, 1});
  ASSERT_EQ(ch.receive(30s).bytes.size(), 8u);
  EXPECT_EQ(client.proc.wait(), 0);
  EXPECT_TRUE(eventually([&] { return s.lent_count() == 0; }));
  EXPECT_EQ(released.load(), 1);
  s.arena().destroy(value);
}

}  // namespace
