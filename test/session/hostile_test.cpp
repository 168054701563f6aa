// Bytes from another process are input: garbage handshakes, truncated packets and forged
// handles are refused with an error, and the server goes on serving well-behaved clients.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>
#include <thread>

#include "seam/channel/channel.hpp"
#include "seam/session/session.hpp"
#include "seam/session/wire.hpp"
#include "session/peer.hpp"

namespace {

using namespace std::chrono_literals;
using seam::test::peer;
using seam::test::raw_connect;
using seam::test::unique_app;

// Waits until the server has dealt with this connection (it closes it).
bool closed_by_server(int fd) {
  char buf[64];
  pollfd p{fd, POLLIN, 0};
  for (;;) {
    if (::poll(&p, 1, 10000) != 1) return false;
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) return true;
    if (n < 0 && errno != EAGAIN) return true;
  }
}

struct hello_body {
  std::uint64_t magic = 0x4e4f495353455353;
  std::uint32_t version = 1;
  std::uint32_t pid = 0;
  std::uint64_t arena_id = 0;
};

TEST(HostileTest, BadHandshakesAreRefusedAndAGoodClientIsServedAfter) {
  const auto app = unique_app();
  seam::session_server server{app};
  std::thread accepting;
  seam::session good;
  accepting = std::thread([&] { good = server.accept(60s); });

  // Each bad client, in its own connection, one after the other.
  using sender = std::function<void(int)>;
  const hello_body hello;
  const auto hello_bytes = std::as_bytes(std::span(&hello, 1));
  const std::vector<std::pair<const char*, sender>> bad = {
      {"garbage", [](int fd) { ::send(fd, "hello world, let me in", 22, MSG_NOSIGNAL); }},
      {"empty packet", [](int fd) { ::send(fd, "", 0, MSG_NOSIGNAL); }},
      {"truncated header", [](int fd) { ::send(fd, "\x01\x00\x45\x53\x00\x00", 6, MSG_NOSIGNAL); }},
      {"header lies about length",
       [](int fd) {
         const std::uint32_t header[4] = {0x53450001, 0, 1000, 0};
         ::send(fd, header, sizeof header, MSG_NOSIGNAL);
       }},
      {"hello without fd",
       [&](int fd) {
         seam::detail::send_frame(fd, seam::detail::frame_kind::hello, {}, hello_bytes, {}, 1s);
       }},
      {"hello with a non-arena fd",
       [&](int fd) {
         seam::unique_fd null{::open("/dev/null", O_RDONLY | O_CLOEXEC)};
         const int fds[] = {null.get()};
         seam::detail::send_frame(fd, seam::detail::frame_kind::hello, {}, hello_bytes, fds, 1s);
       }},
      {"wrong kind",
       [&](int fd) {
         seam::detail::send_frame(fd, seam::detail::frame_kind::release, {}, hello_bytes, {}, 1s);
       }},
      {"too many fds",
       [](int fd) {
         std::vector<int> fds(seam::detail::max_fds + 4, 0);
         alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 20)];
         const std::uint32_t header[4] = {0x53450001, 0, 0, 20};
         iovec iov{const_cast<std::uint32_t*>(header), sizeof header};
         msghdr msg{};
         msg.msg_iov = &iov;
         msg.msg_iovlen = 1;
         msg.msg_control = control;
         msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
         cmsghdr* c = CMSG_FIRSTHDR(&msg);
         c->cmsg_level = SOL_SOCKET;
         c->cmsg_type = SCM_RIGHTS;
         c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
         std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
         ::sendmsg(fd, &msg, MSG_NOSIGNAL);
       }},
      {"hang up at once", [](int) {}},
  };
  for (const auto& [what, send_bad] : bad) {
    auto fd = raw_connect(app);
    ASSERT_TRUE(fd) << what;
    send_bad(fd.get());
    if (std::string_view(what) == "hang up at once") {
      fd.reset();
      continue;
    }
    EXPECT_TRUE(closed_by_server(fd.get())) << what << ": the server kept the connection";
  }
  peer client("lend-and-send", app);
  accepting.join();
  ASSERT_TRUE(good.is_open());
  EXPECT_EQ(good.peer_pid(), client.proc.pid());
  EXPECT_EQ(server.rejected(), bad.size());
  auto ch = good.accept_channel(30s);
  auto m = ch.receive(30s);
  ASSERT_EQ(m.handles.size(), 1u);
  ch.send("done");
  EXPECT_EQ(client.proc.wait(), 0);
}

TEST(HostileTest, ForgedHandlesAreRefusedAndTheSessionGoesOn) {
  const auto app = unique_app();
  seam::session_server server{app};
  peer client("forge", app);
  auto s = server.accept(30s);
  const std::error_code expected[] = {seam::errc::unknown_arena, seam::errc::handle_out_of_range,
                                      seam::errc::handle_out_of_range};
  for (const auto& want : expected) {
    auto ch = s.accept_channel(30s);
    seam::message m;
    std::error_code ec;
    EXPECT_FALSE(ch.receive(m, 30s, ec));
    EXPECT_EQ(ec, want);
    EXPECT_FALSE(ch.is_open());  // closed: the peer sees it
  }
  auto ch = s.accept_channel(30s);
  EXPECT_EQ(ch.receive(30s).text(), "still here");
  EXPECT_TRUE(s.is_open());
  // Borrowing a forged handle is refused too.
  try {
    s.borrow(seam::handle<std::uint64_t>{12345, 4096});
    ADD_FAILURE() << "borrowed from an unknown arena";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), seam::errc::unknown_arena);
  }
  ch.send("ok");
  EXPECT_EQ(client.proc.wait(), 0);
}

}  // namespace
