#include "seam/channel/channel.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <cstring>

#include "seam/session/session.hpp"
#include "seam/session/wire.hpp"
#include "session/peer.hpp"

namespace {

using namespace std::chrono_literals;
using seam::test::peer;
using seam::test::unique_app;

std::span<const std::byte> bytes_of(const std::uint64_t& v) {
  return std::as_bytes(std::span(&v, 1));
}

std::pair<seam::channel, seam::channel> local_pair() {
  seam::unique_fd a, b;
  if (seam::detail::make_socket_pair(a, b)) throw std::runtime_error("socketpair");
  return {seam::channel(std::move(a)), seam::channel(std::move(b))};
}

TEST(ChannelTest, HundredThousandMessagesArriveInOrderBothWays) {
  constexpr std::uint64_t count = 100000;
  const auto app = unique_app();
  seam::session_server server{app};
  peer client("ordered", app, count);
  auto s = server.accept(30s);
  auto from_client = s.accept_channel(30s);  // opened by the client
  auto to_client = s.open_channel();         // opened by us
  std::thread sender([&] {
    for (std::uint64_t i = 0; i < count; ++i) to_client.send(bytes_of(i));
  });
  for (std::uint64_t i = 0; i < count; ++i) {
    auto m = from_client.receive(30s);
    std::uint64_t v = ~std::uint64_t{0};
    ASSERT_EQ(m.bytes.size(), sizeof v);
    std::memcpy(&v, m.bytes.data(), sizeof v);
    ASSERT_EQ(v, i);
  }
  sender.join();
  EXPECT_EQ(from_client.receive(30s).text(), "received all");
  EXPECT_EQ(client.proc.wait(), 0);
}

TEST(ChannelTest, PipePassedToThePeerIsWrittenThrough) {
  const auto app = unique_app();
  seam::session_server server{app};
  peer client("pipe", app);
  auto s = server.accept(30s);
  auto ch = s.open_channel();
  seam::test::pipe_pair pipe;
  const int fd = pipe.write_end.get();
  ch.send({}, {&fd, 1});
  pipe.write_end.reset();  // only the peer's copy remains
  EXPECT_EQ(seam::test::read_line(pipe.read_end.get()),
            "written by pid " + std::to_string(client.proc.pid()));
  EXPECT_EQ(client.proc.wait(), 0);
}

TEST(ChannelTest, ConnectedTcpSocketPassedToThePeerIsAnswered) {
  // A loopback TCP connection: we keep the client end, the peer gets the accepted end.
  seam::unique_fd listener{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener.get(), 1), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);
  seam::unique_fd tcp_client{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  ASSERT_EQ(::connect(tcp_client.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  seam::unique_fd accepted{::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC)};
  ASSERT_TRUE(accepted);

  const auto app = unique_app();
  seam::session_server server{app};
  peer worker("tcp", app);
  auto s = server.accept(30s);
  auto ch = s.open_channel();
  const int fd = accepted.get();
  ch.send({}, {&fd, 1});
  accepted.reset();
  const std::string request = "ping";
  ASSERT_EQ(::send(tcp_client.get(), request.data(), request.size(), MSG_NOSIGNAL), 4);
  std::string answer;
  char buf[256];
  for (ssize_t n; (n = ::recv(tcp_client.get(), buf, sizeof buf, 0)) > 0;) answer.append(buf, n);
  EXPECT_EQ(answer, "worker " + std::to_string(worker.proc.pid()) + " got: ping");
  EXPECT_EQ(worker.proc.wait(), 0);
}

TEST(ChannelTest, LimitsAreClearErrors) {
  auto [a, b] = local_pair();
  std::error_code ec;
  std::vector<std::byte> big(seam::channel::max_message_bytes + 1);
  a.send(big, {}, {}, 1s, ec);
  EXPECT_EQ(ec, seam::errc::message_too_large);
  std::vector<int> fds(seam::channel::max_fds + 1, 0);
  a.send({}, fds, {}, 1s, ec);
  EXPECT_EQ(ec, seam::errc::too_many_fds);
  // The largest message and the most fds do go through.
  big.pop_back();
  fds.pop_back();
  a.send(big, fds, {}, 1s, ec);
  ASSERT_FALSE(ec) << ec.message();
  auto m = b.receive(1s);
  EXPECT_EQ(m.bytes.size(), seam::channel::max_message_bytes);
  EXPECT_EQ(m.fds.size(), seam::channel::max_fds);
  // A channel without a session accepts no handles: it cannot check them.
  const seam::handle<std::byte> h{1, 4096};
  a.send({}, {}, {&h, 1});
  seam::message out;
  EXPECT_FALSE(b.receive(out, 1s, ec));
  EXPECT_EQ(ec, seam::errc::unknown_arena);
  EXPECT_FALSE(b.is_open());
}

TEST(ChannelTest, TimeoutsAndNonBlockingReceive) {
  auto [a, b] = local_pair();
  std::error_code ec;
  seam::message m;
  EXPECT_FALSE(b.receive(m, 50ms, ec));
  EXPECT_EQ(ec, seam::errc::timed_out);
  EXPECT_FALSE(b.try_receive().has_value());
  pollfd p{b.native_handle(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 0);
  a.send("hi");
  EXPECT_EQ(::poll(&p, 1, 1000), 1);  // readiness shows on the native handle
  auto got = b.try_receive();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->text(), "hi");
  a.close();
  EXPECT_FALSE(b.receive(m, 1s, ec));
  EXPECT_EQ(ec, seam::errc::peer_closed);
}

TEST(ChannelTest, SenderToAPeerThatNeverReadsTimesOut) {
  auto [a, b] = local_pair();
  std::vector<std::byte> chunk(64 * 1024);
  std::error_code ec;
  int sent = 0;
  for (; sent < 10000 && !ec; ++sent) a.send(chunk, {}, {}, 100ms, ec);
  EXPECT_EQ(ec, seam::errc::timed_out);
  EXPECT_GT(sent, 1);
  // The queue drains and the channel works again.
  for (int i = 0; i < sent - 1; ++i) ASSERT_EQ(b.receive(1s).bytes.size(), chunk.size());
  a.send("after");
  EXPECT_EQ(b.receive(1s).text(), "after");
}

TEST(ChannelTest, ReceiverOutOfDescriptorsDropsTheMessageAndStaysUsable) {
  auto pair = local_pair();  // not a structured binding: clang 14 cannot capture one
  seam::channel& a = pair.first;
  seam::channel& b = pair.second;
  seam::test::pipe_pair p1, p2, p3;
  const int fds[] = {p1.read_end.get(), p2.read_end.get(), p3.read_end.get()};
  a.send(std::as_bytes(std::span("with fds", 8)), fds);
  a.send("after");
  // The receiver runs in a child whose descriptor table is full.
  auto child = seam::test::fork_run([&] {
    std::vector<seam::unique_fd> fillers;
    rlimit limit{64, 64};
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) return 10;
    for (;;) {
      seam::unique_fd f{::open("/dev/null", O_RDONLY | O_CLOEXEC)};
      if (!f) break;
      fillers.push_back(std::move(f));
    }
    // Two free slots, fewer than the message carries (and enough for a sanitizer's own reads
    // of /proc once the partial delivery is closed again).
    fillers.pop_back();
    fillers.pop_back();
    seam::message m;
    std::error_code ec;
    // Compared by value and category address: with no descriptor left, a sanitizer's checks
    // of a virtual call (they read /proc) would fail for reasons of their own.
    if (b.receive(m, 1s, ec) || ec.value() != EMFILE ||
        &ec.category() != &std::generic_category()) {
      return 1;
    }
    // The descriptor that did arrive was closed again: the slot is free.
    seam::unique_fd probe{::open("/dev/null", O_RDONLY | O_CLOEXEC)};
    if (!probe) return 2;
    probe.reset();
    if (!b.receive(m, 1s, ec) || m.text() != "after") return 3;
    return 0;
  });
  EXPECT_EQ(child.wait(), 0);
}

}  // namespace
