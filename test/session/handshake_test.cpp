// Handshakes: in parallel, each with its deadline, bounded in number per user and in all; and
// the limits either side hits while connecting, named on both sides (lowered in a forked child
// to provoke them).

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "seam/session/session.hpp"
#include "seam/session/wire.hpp"
#include "session/detail/protocol.hpp"
#include "session/peer.hpp"
#include "support/limits.hpp"

namespace {

using namespace std::chrono_literals;
using seam::test::unique_app;
constexpr std::size_t MiB = std::size_t{1} << 20;
constexpr std::size_t GiB = std::size_t{1} << 30;

// The exit code of a child that connects to `app` and expects `expected`.
int connect_expecting(const std::string& app, std::error_code expected,
                      const seam::session_options& options = {}) {
  std::error_code ec;
  seam::session::connect(app, 5s, options, ec);
  return ec == expected ? 0 : 100 + (ec.value() & 0x3f);
}

TEST(HandshakeTest, SilentClientsDelayNoGoodOne) {
  const auto app = unique_app();
  seam::server_options options;
  options.handshake_timeout = 60s;  // a server handling one handshake at a time waits this long
  seam::session_server server{app, options};
  std::vector<seam::unique_fd> silent;
  for (int i = 0; i < 64; ++i) silent.push_back(seam::test::raw_connect(app));
  // The good client gives up after 5 s; one handshake at a time, it would wait 60 s.
  auto good = seam::test::fork_run([&] { return connect_expecting(app, {}); });
  std::error_code ec;
  auto s = server.accept(10s, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(s.peer_pid(), good.pid());
  EXPECT_EQ(server.pending(), 64u);  // the silent ones are still in their handshakes
  EXPECT_EQ(good.wait(), 0);
}

TEST(HandshakeTest, ASilentClientIsToldItsDeadlinePassed) {
  const auto app = unique_app();
  seam::server_options options;
  options.handshake_timeout = 100ms;
  seam::session_server server{app, options};
  auto silent = seam::test::raw_connect(app);
  std::error_code ec;
  server.accept(500ms, ec);  // nobody completes a handshake
  EXPECT_EQ(ec, seam::errc::timed_out);
  EXPECT_EQ(server.rejected(), 1u);
  EXPECT_EQ(server.last_rejection(), seam::errc::timed_out);
  EXPECT_EQ(server.pending(), 0u);
  std::vector<std::byte> buffer(seam::detail::max_packet);
  seam::detail::frame f;
  ASSERT_FALSE(seam::detail::receive_frame(silent.get(), f, buffer, 5s));
  EXPECT_EQ(seam::detail::decode_refuse(f), seam::errc::timed_out);
}

// At the bound, a new client is told `busy` at once; once the silent ones go, clients are
// served again.
void expect_bounded(const seam::server_options& options, std::size_t bound) {
  const auto app = unique_app();
  seam::session_server server{app, options};
  std::vector<seam::unique_fd> silent;
  for (std::size_t i = 0; i < bound; ++i) silent.push_back(seam::test::raw_connect(app));
  auto turned_away = seam::test::fork_run([&] { return connect_expecting(app, seam::errc::busy); });
  std::error_code ec;
  server.accept(1s, ec);
  EXPECT_EQ(ec, seam::errc::timed_out);
  EXPECT_EQ(turned_away.wait(), 0);
  EXPECT_EQ(server.last_rejection(), seam::errc::busy);
  EXPECT_EQ(server.pending(), bound);
  silent.clear();  // they hang up: their slots free
  auto served = seam::test::fork_run([&] { return connect_expecting(app, {}); });
  auto s = server.accept(10s, ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(served.wait(), 0);
  EXPECT_EQ(server.pending(), 0u);
}

TEST(HandshakeTest, PendingHandshakesAreBoundedPerUser) {
  seam::server_options options;
  options.max_pending_per_uid = 4;
  expect_bounded(options, 4);
}

TEST(HandshakeTest, PendingHandshakesAreBoundedInAll) {
  seam::server_options options;
  options.max_pending_handshakes = 3;
  expect_bounded(options, 3);
}

TEST(HandshakeTest, APeerArenaOverTheLimitIsRefusedOnBothSides) {
  const auto app = unique_app();
  seam::server_options options;
  options.peer_arena_limit = 256 * MiB;
  seam::session_server server{app, options};
  auto client = seam::test::fork_run(
      [&] { return connect_expecting(app, seam::errc::arena_too_large, {.arena_capacity = GiB}); });
  std::error_code ec;
  server.accept(1s, ec);
  EXPECT_EQ(client.wait(), 0);
  EXPECT_EQ(server.last_rejection(), seam::errc::arena_too_large);
}

// ---- limits: the side that hits one names it, and tells the other --------------------------

// UBSan's vptr check (in CI's ASan+UBSan build) probes memory through a pipe of its own: in a
// process with no descriptor left it takes every virtual call for a bad one.
constexpr const char* needs_descriptors = "the sanitizer needs descriptors of its own";

TEST(HandshakeLimitsTest, ClientOutOfDescriptors) {
  if (seam::test::sanitized) GTEST_SKIP() << needs_descriptors;
  const auto app = unique_app();
  seam::session_server server{app};
  auto client = seam::test::fork_run([&] {
    seam::test::leave_free_fds(2);  // the socket and the arena's memfd; not the fd to share it
    return connect_expecting(app, seam::errc::descriptor_limit);
  });
  EXPECT_EQ(client.wait(), 0);
  std::error_code ec;
  server.accept(500ms, ec);
  EXPECT_EQ(server.last_rejection(), seam::errc::descriptor_limit);
  EXPECT_EQ(server.last_rejection(), std::errc::too_many_files_open);
}

TEST(HandshakeLimitsTest, ServerOutOfDescriptors) {
  if (seam::test::sanitized) GTEST_SKIP() << needs_descriptors;
  const auto app = unique_app();
  seam::test::pipe_pair ready;
  auto server = seam::test::fork_run([&] {
    seam::session_server s{app};
    seam::test::leave_free_fds(0);  // accept4 fails: the server frees its spare to answer
    seam::test::write_all(ready.write_end.get(), "ready\n");
    std::error_code ec;
    s.accept(10s, ec);
    return ec == seam::errc::descriptor_limit ? 0 : 1;
  });
  ASSERT_EQ(seam::test::read_line(ready.read_end.get(), 30s), "ready");
  try {
    seam::session::connect(app, 5s);
    ADD_FAILURE() << "connected";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), seam::errc::descriptor_limit);
    EXPECT_NE(std::string(e.what()).find(std::strerror(EMFILE)), std::string::npos) << e.what();
  }
  EXPECT_EQ(server.wait(), 0);
}

TEST(HandshakeLimitsTest, ClientOutOfAddressSpace) {
  const auto app = unique_app();
  seam::session_server server{app};
  auto client = seam::test::fork_run([&] {
    seam::test::limit_address_space(512 * MiB);
    return connect_expecting(app, seam::errc::address_space_limit, {.arena_capacity = 2 * GiB});
  });
  EXPECT_EQ(client.wait(), 0);
  std::error_code ec;
  server.accept(500ms, ec);
  EXPECT_EQ(server.last_rejection(), seam::errc::address_space_limit);
}

TEST(HandshakeLimitsTest, ServerOutOfAddressSpace) {
  const auto app = unique_app();
  seam::test::pipe_pair ready;
  auto server = seam::test::fork_run([&] {
    seam::server_options options;
    options.arena_capacity = 2 * GiB;
    seam::session_server s{app, options};
    seam::test::limit_address_space(512 * MiB);
    seam::test::write_all(ready.write_end.get(), "ready\n");
    std::error_code ec;
    s.accept(10s, ec);
    return ec == seam::errc::address_space_limit ? 0 : 1;
  });
  ASSERT_EQ(seam::test::read_line(ready.read_end.get(), 30s), "ready");
  std::error_code ec;
  seam::session::connect(app, 5s, {}, ec);
  EXPECT_EQ(ec, seam::errc::address_space_limit);
  EXPECT_EQ(ec, std::errc::not_enough_memory);
  EXPECT_EQ(server.wait(), 0);
}

TEST(HandshakeLimitsTest, DefaultCapacitiesFitUnderAnAddressSpaceLimit) {
  const auto app = unique_app();
  seam::session_server server{app};
  auto client = seam::test::fork_run([&] {
    // The server's 1 GiB arena is mapped here too; our own takes a sixteenth of what is left.
    seam::test::limit_address_space(2 * GiB);
    return connect_expecting(app, {});
  });
  std::error_code ec;
  auto s = server.accept(10s, ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(client.wait(), 0);
}

TEST(HandshakeLimitsTest, ClientAtTheMapCountLimit) {
  if (seam::test::sanitized) GTEST_SKIP() << "the sanitizer needs mappings of its own";
  const auto app = unique_app();
  seam::session_server server{app};
  auto client = seam::test::fork_run([&] {
    seam::test::fill_mappings(1);
    return connect_expecting(app, seam::errc::map_count_limit);
  });
  EXPECT_EQ(client.wait(), 0);
  std::error_code ec;
  server.accept(500ms, ec);
  EXPECT_EQ(server.last_rejection(), seam::errc::map_count_limit);
}

}  // namespace
