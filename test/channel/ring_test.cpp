// The shared-memory ring transport: the channel interface over two rings in the sessions'
// arenas, with real processes on both ends.

#include "channel/detail/ring.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "channel/detail/futex.hpp"
#include "seam/channel/channel.hpp"
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

std::uint64_t number_of(const seam::message& m) {
  std::uint64_t v = ~std::uint64_t{0};
  if (m.bytes.size() == sizeof v) std::memcpy(&v, m.bytes.data(), sizeof v);
  return v;
}

// A session with an echoing peer and a ring channel to it.
struct ring_with_echo {
  std::string app = unique_app();
  seam::session_server server{app};
  peer client{"echo", app};
  seam::session s = server.accept(30s);
  seam::channel ch;

  explicit ring_with_echo(seam::channel_options options = {.transport = seam::transport::ring}) {
    ch = s.open_channel(options);
    EXPECT_EQ(client.line(), "connected");
    EXPECT_EQ(client.line(), "accepted");
  }
  int finish() {
    ch.send("done");
    EXPECT_EQ(ch.receive(30s).text(), "echoed");
    s.close();
    return client.proc.wait();
  }
};

TEST(RingTest, HundredThousandMessagesComeBackInOrderThroughASmallRing) {
  // 4 KiB rings: the sender keeps waiting for room, so the full-ring path runs too.
  ring_with_echo r({.transport = seam::transport::ring, .ring_bytes = 4096});
  constexpr std::uint64_t count = 100000;
  std::thread sender([&] {
    for (std::uint64_t i = 0; i < count; ++i) r.ch.send(bytes_of(i));
  });
  for (std::uint64_t i = 0; i < count; ++i) ASSERT_EQ(number_of(r.ch.receive(30s)), i);
  sender.join();
  EXPECT_EQ(r.finish(), 0);
}

TEST(RingTest, ABorrowsReleaseRidesAheadOfThePeersNextMessage) {
  // The peer borrows what we lend, drops it, then answers on the ring: the release comes in
  // the answer's publication and is applied as the answer is received, with no session
  // traffic. Over the socket it would arrive later, through the session's threads.
  const std::string app = unique_app();
  seam::session_server server{app};
  peer client{"borrow-echo", app};
  seam::session s = server.accept(30s);
  auto ch = s.open_channel(seam::transport::ring);
  EXPECT_EQ(client.line(), "connected");
  EXPECT_EQ(client.line(), "accepted");
  for (std::uint64_t i = 0; i < 1000; ++i) {
    const auto h = s.lend(s.arena().make<std::uint64_t>(i)).as<std::byte>();
    ch.send(bytes_of(i), {}, {&h, 1});
    ASSERT_EQ(number_of(ch.receive(30s)), i);
    ASSERT_EQ(s.lent_count(), 0u) << "lend " << i << " was not released with the answer";
  }
  ch.send("done");
  EXPECT_EQ(ch.receive(30s).text(), "echoed");
  s.close();
  EXPECT_EQ(client.proc.wait(), 0);
}

TEST(RingTest, AnOpenerSendsBeforeThePeerAcceptsAndWhatItSentOutlivesItsClose) {
  // As on a socket channel: open_channel does not wait for the accept, and messages sent
  // before it (even on a channel closed since) are all received, then the close.
  const std::string app = unique_app();
  seam::session_server server{app};
  constexpr std::uint64_t count = 100;
  peer client{"ring-early", app, count};
  seam::session s = server.accept(30s);
  EXPECT_EQ(client.line(), "connected");
  EXPECT_EQ(client.line(), "sent");
  auto closed = s.accept_channel(10s);
  for (std::uint64_t i = 0; i < count; ++i) ASSERT_EQ(number_of(closed.receive(10s)), i);
  std::error_code ec;
  seam::message m;
  EXPECT_FALSE(closed.receive(m, 10s, ec));
  EXPECT_EQ(ec, seam::errc::peer_closed) << ec.message();
  auto open = s.accept_channel(10s);
  for (std::uint64_t i = 0; i < count; ++i) ASSERT_EQ(number_of(open.receive(10s)), i);
  open.send("got them");
  EXPECT_EQ(client.proc.wait(), 0);
}

TEST(RingTest, MessagesOfEverySizeUpToTheRingArriveWhole) {
  seam::channel_options options{.transport = seam::transport::ring, .ring_bytes = 64 << 10};
  options.spin = 0ns;  // always sleep: the futex path
  ring_with_echo r(options);
  EXPECT_EQ(r.ch.message_limit(), (64u << 10) - 16);
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{4095},
                           std::size_t{40000}, r.ch.message_limit()}) {
    std::vector<std::byte> m(size);
    for (std::size_t i = 0; i < size; ++i) m[i] = std::byte(i * 31 + size);
    r.ch.send(m);
    auto back = r.ch.receive(30s);
    ASSERT_EQ(back.bytes.size(), size);
    EXPECT_TRUE(std::equal(m.begin(), m.end(), back.bytes.begin())) << size;
  }
  std::vector<std::byte> too_big(r.ch.message_limit() + 1);
  std::error_code ec;
  r.ch.send(too_big, {}, {}, 1s, ec);
  EXPECT_EQ(ec, seam::errc::message_too_large);
  EXPECT_TRUE(r.ch.is_open());
  EXPECT_EQ(r.finish(), 0);
}

TEST(RingTest, DescriptorsKeepTheirPlaceAmongMessages) {
  ring_with_echo r;
  // Message i carries a pipe (for odd i) whose write end we keep: what comes back must be the
  // same pipe, at the same message.
  std::vector<std::pair<seam::unique_fd, seam::unique_fd>> pipes;
  for (std::uint64_t i = 0; i < 20; ++i) {
    if (i % 2 == 1) {
      int p[2];
      ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
      pipes.emplace_back(seam::unique_fd(p[0]), seam::unique_fd(p[1]));
      const int fd = pipes.back().first.get();
      r.ch.send(bytes_of(i), {&fd, 1});
    } else {
      r.ch.send(bytes_of(i));
    }
  }
  std::size_t next_pipe = 0;
  for (std::uint64_t i = 0; i < 20; ++i) {
    auto m = r.ch.receive(30s);
    ASSERT_EQ(number_of(m), i);
    if (i % 2 == 0) {
      EXPECT_TRUE(m.fds.empty());
      continue;
    }
    ASSERT_EQ(m.fds.size(), 1u);
    const char c = static_cast<char>('a' + i);
    ASSERT_EQ(::write(pipes[next_pipe].second.get(), &c, 1), 1);
    char got = 0;
    ASSERT_EQ(::read(m.fds[0].get(), &got, 1), 1);
    EXPECT_EQ(got, c);
    ++next_pipe;
  }
  EXPECT_EQ(r.finish(), 0);
}

TEST(RingTest, HandlesAreCheckedAsOnTheSocket) {
  ring_with_echo r;
  auto* v = r.s.arena().make<std::uint64_t>(42);
  const auto h = r.s.lend(v).as<std::byte>();
  r.ch.send({}, {}, {&h, 1});
  auto m = r.ch.receive(30s);  // our own handle, handed back: valid
  ASSERT_EQ(m.handles.size(), 1u);
  EXPECT_EQ(m.handles[0], h);
  EXPECT_EQ(r.finish(), 0);
}

TEST(RingTest, NativeHandlePollsReadableWhenAMessageIsQueued) {
  ring_with_echo r;
  pollfd p{r.ch.native_handle(), POLLIN, 0};
  // Nothing queued: the fd may be readable once (it is set on registration); drain it.
  while (r.ch.try_receive()) {
  }
  ASSERT_EQ(::poll(&p, 1, 0), 0);
  r.ch.send(bytes_of(7));
  ASSERT_EQ(::poll(&p, 1, 30000), 1);
  auto m = r.ch.try_receive();
  ASSERT_TRUE(m);
  EXPECT_EQ(number_of(*m), 7u);
  EXPECT_FALSE(r.ch.try_receive());
  EXPECT_EQ(::poll(&p, 1, 0), 0);
  EXPECT_EQ(r.finish(), 0);
}

TEST(RingTest, ABlockedReceiverWakesWithPeerClosedWhenThePeerIsKilled) {
  seam::channel_options options{.transport = seam::transport::ring};
  options.spin = 0ns;
  ring_with_echo r(options);
  std::error_code ec;
  std::thread killer([&] {
    std::this_thread::sleep_for(100ms);  // let the receive block (not a synchronisation)
    ::kill(r.client.proc.pid(), SIGKILL);
  });
  seam::message m;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(r.ch.receive(m, 60s, ec));
  killer.join();
  EXPECT_EQ(ec, seam::errc::peer_closed);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);
  r.client.proc.wait();
}

TEST(RingTest, ABlockedSenderWakesWithPeerClosedWhenThePeerIsKilled) {
  ring_with_echo r({.transport = seam::transport::ring, .ring_bytes = 4096});
  std::error_code ec;
  std::thread killer([&] {
    std::this_thread::sleep_for(100ms);
    ::kill(r.client.proc.pid(), SIGKILL);
  });
  // The peer echoes, but we never read: both rings fill and our sends block.
  for (int i = 0; i < 100000 && !ec; ++i) {
    const std::uint64_t v = i;
    r.ch.send(bytes_of(v), {}, {}, 60s, ec);
  }
  killer.join();
  EXPECT_EQ(ec, seam::errc::peer_closed);
  r.client.proc.wait();
}

// A hostile peer, played by a forked child of this test: it opens a ring channel by hand, with
// a block in its own arena, then writes `tail` and a record as it likes.
struct hostile_ring {
  std::string app = unique_app();
  seam::session_server server{app};
  pid_t child = -1;
  seam::session s;

  hostile_ring(std::uint64_t tail, seam::detail::record_header header) {
    child = ::fork();
    if (child == 0) _exit(play(tail, header));
    s = server.accept(30s);
  }
  ~hostile_ring() {
    if (child > 0) {
      ::kill(child, SIGKILL);
      ::waitpid(child, nullptr, 0);
    }
  }

  int play(std::uint64_t tail, const seam::detail::record_header& header) {
    try {
      auto c = seam::session::connect(app, 10s);
      constexpr std::uint64_t capacity = 4096;
      auto& a = c.arena();
      void* p = a.allocate(sizeof(seam::detail::ring_block) + capacity, 64);
      auto* b = ::new (p) seam::detail::ring_block{};
      b->magic = seam::detail::ring_block::magic_value;
      b->capacity = capacity;
      const auto h = c.lend(b, [] {});
      seam::unique_fd mine, theirs;
      if (seam::detail::make_socket_pair(mine, theirs)) return 2;
      seam::unique_fd event{::eventfd(0, EFD_CLOEXEC)};
      struct {
        std::uint8_t kind = 2, reserved[7] = {};
        std::uint64_t capacity, spin_ns = 0, arena_id, offset;
      } setup;
      setup.capacity = capacity;
      setup.arena_id = h.arena_id;
      setup.offset = h.offset;
      const int fds[] = {theirs.get(), event.get()};
      std::error_code ec;
      c.offer_channel(std::as_bytes(std::span(&setup, 1)), fds, ec);
      if (ec) return 3;
      std::array<std::byte, 128> buffer;
      seam::detail::frame f;
      if (seam::detail::receive_frame(mine.get(), f, buffer, 10s)) return 4;
      std::memcpy(seam::detail::ring_bytes_of(b), &header, sizeof header);
      b->tail.store(tail);
      b->data_bell.fetch_add(1);
      seam::detail::futex_wake(seam::detail::futex_word(b->data_bell));
      c.wait_closed(60s);
      return 0;
    } catch (...) {
      return 1;
    }
  }
};

TEST(RingTest, AHostileTailOrRecordClosesTheChannelWithProtocolError) {
  using seam::detail::record_header;
  const record_header good{record_header::magic_value, 8, 0, 0};
  struct bad_case {
    const char* what;
    std::uint64_t tail;
    record_header header;
  };
  const bad_case cases[] = {
      {"tail past the ring", 4096 + 8, good},
      {"tail behind the head", ~std::uint64_t{0}, good},
      {"tail inside a header", 8, good},
      {"record longer than published", 24, {record_header::magic_value, 4000, 0, 0}},
      {"record longer than the ring", 4096, {record_header::magic_value, 0xffffffffu, 0, 0}},
      {"handles past the record", 32, {record_header::magic_value, 8, 1u << 30, 0}},
      {"bad magic", 24, {0, 8, 0, 0}},
      {"too many fds", 24, {record_header::magic_value, 8, 0, 17}},
      {"fds that never come", 24, {record_header::magic_value, 8, 0, 1}},
      {"release of a lend never made", 32, {record_header::release_magic, 0, 1, 0}},
      {"release record with bytes", 40, {record_header::release_magic, 8, 1, 0}},
      {"empty release record", 16, {record_header::release_magic, 0, 0, 0}},
  };
  for (const auto& c : cases) {
    hostile_ring h(c.tail, c.header);
    std::error_code ec;
    auto ch = h.s.accept_channel(30s, ec);
    ASSERT_FALSE(ec) << c.what << ": " << ec.message();
    seam::message m;
    EXPECT_FALSE(ch.receive(m, 30s, ec)) << c.what;
    EXPECT_EQ(ec, seam::errc::protocol_error) << c.what << ": " << ec.message();
    EXPECT_FALSE(ch.is_open()) << c.what;
    EXPECT_TRUE(h.s.is_open()) << c.what;
  }
}

}  // namespace
