#include "seam/session/session.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>
#include <future>

#include "seam/channel/channel.hpp"
#include "seam/containers/vector.hpp"
#include "seam/session/wire.hpp"
#include "session/peer.hpp"

namespace {

using namespace std::chrono_literals;
using seam::test::peer;
using seam::test::unique_app;

std::uint64_t number_of(const seam::message& m) {
  std::uint64_t v = 0;
  if (m.bytes.size() == sizeof v) std::memcpy(&v, m.bytes.data(), sizeof v);
  return v;
}

TEST(SessionTest, PeersExchangeArenasAndReadEachOthersObjects) {
  const auto app = unique_app();
  seam::session_server server{app};
  peer client("lend-and-send", app);
  auto s = server.accept(30s);
  EXPECT_EQ(s.peer_pid(), client.proc.pid());
  EXPECT_EQ(s.peer_uid(), ::geteuid());
  auto ch = s.accept_channel(30s);
  auto m = ch.receive(30s);
  ASSERT_EQ(m.handles.size(), 1u);
  {
    auto v = s.borrow(m.handles[0].as<seam::vector<int>>());
    ASSERT_EQ(v->size(), 1000u);
    for (int i = 0; i < 1000; ++i) ASSERT_EQ((*v)[static_cast<std::size_t>(i)], i * 3);
    // The peer's arena is mapped read-only here, at our own address.
    EXPECT_FALSE(s.arena().contains(v.get()));
  }
  ch.send("done");
  EXPECT_EQ(client.proc.wait(), 0);
  EXPECT_TRUE(s.wait_closed(10s));
  EXPECT_EQ(s.close_reason(), seam::errc::peer_closed);
}

TEST(SessionTest, SecondServerWithTheSameNameFails) {
  const auto app = unique_app();
  seam::session_server first{app};
  try {
    seam::session_server second{app};
    ADD_FAILURE() << "two servers listen under one name";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), seam::errc::server_exists);
  }
}

TEST(SessionTest, ConnectWithNoServerSaysSo) {
  std::error_code ec;
  auto s = seam::session::connect(unique_app(), 1s, {}, ec);
  EXPECT_EQ(ec, seam::errc::no_such_server);
  EXPECT_FALSE(s.is_open());
  EXPECT_THROW(seam::session::connect(unique_app()), std::system_error);
  EXPECT_THROW(seam::session::connect(""), std::system_error);
}

TEST(SessionTest, ConnectTimesOutAgainstAServerThatNeverAnswers) {
  // A listener that never accepts: the kernel completes the connection, nobody answers.
  const auto app = unique_app();
  seam::unique_fd mute{::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)};
  sockaddr_un addr;
  const socklen_t length = seam::test::server_address(app, addr);
  ASSERT_EQ(::bind(mute.get(), reinterpret_cast<sockaddr*>(&addr), length), 0);
  ASSERT_EQ(::listen(mute.get(), 4), 0);
  std::error_code ec;
  const auto start = std::chrono::steady_clock::now();
  seam::session::connect(app, 200ms, {}, ec);
  EXPECT_EQ(ec, seam::errc::timed_out);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST(SessionTest, ClientOfAnotherUserIsRefusedAndOthersAreStillServed) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run a client as another uid";
  const auto app = unique_app();
  seam::session_server server{app};
  peer stranger("other-user", app);
  // The server turns the stranger away inside accept, then serves the next client.
  // The test kills the friendly peer as soon as it says "connected", which may be before this
  // thread looks: check who was accepted, not whether the session is still open.
  pid_t accepted = 0;
  std::thread accepting([&] {
    std::error_code ec;
    auto s = server.accept(30s, ec);
    EXPECT_FALSE(ec) << ec.message();
    if (ec) return;
    accepted = s.peer_pid();
    s.wait_closed(30s);
  });
  EXPECT_EQ(stranger.line(), "refused");
  EXPECT_EQ(stranger.proc.wait(), 0);
  peer friendly("wait", app);
  EXPECT_EQ(friendly.line(), "connected");
  const pid_t friendly_pid = friendly.proc.pid();
  friendly.proc.kill();
  accepting.join();
  EXPECT_EQ(accepted, friendly_pid);
  EXPECT_EQ(server.rejected(), 1u);
}

TEST(SessionTest, AnotherProtocolVersionIsToldSo) {
  const auto app = unique_app();
  seam::session_server server{app};
  // A raw client speaking version 99 of the handshake.
  auto client = seam::test::fork_run([&] {
    seam::unique_fd fd = seam::test::raw_connect(app);
    if (!fd) return 1;
    struct {
      std::uint64_t magic = 0x4e4f495353455353;
      std::uint32_t version = 99;
      std::uint32_t pid = 0;
      std::uint64_t arena_id = 0;
    } hello;
    const int fds[] = {0};
    if (seam::detail::send_frame(fd.get(), seam::detail::frame_kind::hello, {},
                                 std::as_bytes(std::span(&hello, 1)), fds, 5s)) {
      return 2;
    }
    std::vector<std::byte> buffer(seam::detail::max_packet);
    seam::detail::frame f;
    if (seam::detail::receive_frame(fd.get(), f, buffer, 5s)) return 3;
    std::uint32_t why = 0;
    // The reason first, then the errno behind it (0 here).
    if (f.kind != seam::detail::frame_kind::refuse || f.bytes.size() != 2 * sizeof why) return 4;
    std::memcpy(&why, f.bytes.data(), sizeof why);
    return why == static_cast<std::uint32_t>(seam::errc::version_mismatch) ? 0 : 5;
  });
  std::error_code ec;
  server.accept(2s, ec);  // refuses the raw client, then times out: nobody else comes
  EXPECT_EQ(ec, seam::errc::timed_out);
  EXPECT_EQ(client.wait(), 0);
  EXPECT_EQ(server.rejected(), 1u);
}

TEST(SessionTest, KilledServerGivesItsClientAnErrorNotAHang) {
  const auto app = unique_app();
  peer server("serve", app);
  ASSERT_EQ(server.line(), "listening");
  auto s = seam::session::connect(app, 10s);
  ASSERT_EQ(server.line(), "accepted");
  server.proc.kill(SIGKILL);
  EXPECT_TRUE(s.wait_closed(5s));
  EXPECT_EQ(s.close_reason(), seam::errc::peer_closed);
  try {
    s.accept_channel(5s);
    ADD_FAILURE() << "accept_channel on a dead session returned";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), seam::errc::peer_closed);
  }
  EXPECT_THROW(s.open_channel(), std::system_error);
  EXPECT_THROW(s.lend(s.arena().make<int>(1)), std::system_error);
}

TEST(SessionTest, SharedArenaIsReadableByThePeer) {
  const auto app = unique_app();
  seam::session_server server{app};
  seam::arena dataset({.capacity = std::size_t{1} << 30, .name = "dataset"});
  auto* answer = dataset.make<std::uint64_t>(4242);
  peer client("read-shared", app);
  auto s = server.accept(30s);
  s.share(dataset);
  auto ch = s.open_channel();
  const auto h = dataset.handle_of(answer).as<std::byte>();
  ch.send({}, {}, {&h, 1});
  EXPECT_EQ(number_of(ch.receive(30s)), 4242u);
  ch.send("bye");
  EXPECT_EQ(client.proc.wait(), 0);
}

TEST(SessionTest, SessionMayBeDestroyedFromItsOwnCloseCallback) {
  const auto app = unique_app();
  seam::session_server server{app};
  peer client("wait", app);
  auto held = std::make_unique<seam::session>(server.accept(30s));
  std::promise<void> destroyed;
  held->on_close([&](std::error_code) {
    held.reset();  // on the session's own thread
    destroyed.set_value();
  });
  client.proc.kill(SIGKILL);
  EXPECT_EQ(destroyed.get_future().wait_for(10s), std::future_status::ready);
  EXPECT_EQ(held, nullptr);
}

}  // namespace
