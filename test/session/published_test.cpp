// Publications across processes: readers read whole versions while the owner publishes, and
// versions are destroyed once no reader holds them, at once when a reader dies.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

#include "seam/seam.hpp"
#include "session/detail/protocol.hpp"
#include "session/peer.hpp"
#include "session/published_payload.hpp"

namespace {

using namespace std::chrono_literals;
using seam::test::payload;
using seam::test::unique_app;

// published_peer running `mode` against `app`; its stdout lines come through `line()`.
struct reader_peer {
  seam::test::process proc;
  seam::test::pipe_pair out;
  seam::test::pipe_pair in;

  reader_peer(const std::string& mode, const std::string& app, std::uint64_t n = 0) {
    proc = seam::test::spawn(SEAM_PUBLISHED_PEER, {mode, app, std::to_string(n)},
                             {{out.write_end.get(), 1}, {in.read_end.get(), 0}});
    out.write_end.reset();
    in.read_end.reset();
  }
  std::string line() { return seam::test::read_line(out.read_end.get(), 60s); }
  void go() { seam::test::write_all(in.write_end.get(), "go\n"); }
};

payload* next_version(seam::arena& a, seam::published<payload>& pub, std::uint64_t number) {
  payload* p = pub.make();
  seam::arena_scope scope{a};
  seam::test::fill(*p, number);
  return p;
}

TEST(PublishedTest, TwoReadersReadWholeVersionsWhileTheOwnerPublishes100000) {
  constexpr std::uint64_t versions = 100000;
  const auto app = unique_app();
  seam::session_server server{app};
  seam::arena a;
  seam::published<payload> pub(a, "versions");
  const std::size_t baseline = a.stats().allocated;

  reader_peer r1("hammer", app, versions);
  reader_peer r2("hammer", app, versions);
  auto s1 = server.accept(30s);
  auto s2 = server.accept(30s);
  pub.add_reader(s1);
  pub.add_reader(s2);
  r1.go();
  r2.go();
  ASSERT_EQ(r1.line(), "subscribed");
  ASSERT_EQ(r2.line(), "subscribed");
  EXPECT_EQ(pub.stats().readers, 2u);

  std::size_t most_retained = 0;
  for (std::uint64_t i = 1; i <= versions; ++i) {
    ASSERT_EQ(pub.publish(next_version(a, pub, i)), i);
    most_retained = std::max(most_retained, pub.stats().retained);
  }
  // Each reader holds one version at a time: at most one retired version each.
  EXPECT_LE(most_retained, 2u);
  for (reader_peer* r : {&r1, &r2}) {
    // "done <acquires> <distinct versions seen>": shown, not asserted (a reader the scheduler
    // keeps off the CPU while the owner publishes sees few versions, and that is no error).
    const std::string done = r->line();
    EXPECT_EQ(done.rfind("done ", 0), 0u) << done;
    std::printf("reader: %s\n", done.c_str());
    EXPECT_EQ(r->proc.wait(), 0);
  }
  ASSERT_TRUE(s1.wait_closed(10s));
  ASSERT_TRUE(s2.wait_closed(10s));
  EXPECT_EQ(pub.stats().readers, 0u);
  EXPECT_EQ(pub.stats().retained, 0u);
  EXPECT_EQ(pub.stats().version, versions);
  EXPECT_EQ(seam::test::check(*pub.current(), versions), "");
  pub.reset();
  EXPECT_EQ(a.stats().allocated, baseline);
}

TEST(PublishedTest, KilledReaderHoldingAVersionFreesItOnceTheSessionSeesTheDeath) {
  const auto app = unique_app();
  seam::session_server server{app};
  seam::arena a;
  seam::published<payload> pub(a, "versions");
  const std::size_t baseline = a.stats().allocated;
  pub.publish(next_version(a, pub, 1));

  reader_peer r("hold", app);
  auto s = server.accept(30s);
  pub.add_reader(s);
  r.go();
  ASSERT_EQ(r.line(), "holding 1");
  // Version 1 outlives its replacement while the reader holds it; version 2 does not.
  pub.publish(next_version(a, pub, 2));
  EXPECT_EQ(pub.stats().retained, 1u);
  pub.publish(next_version(a, pub, 3));
  EXPECT_EQ(pub.stats().retained, 1u);
  EXPECT_EQ(pub.collect(), 0u);

  r.proc.kill(SIGKILL);
  ASSERT_TRUE(s.wait_closed(2s));
  EXPECT_EQ(pub.stats().retained, 0u);
  EXPECT_EQ(pub.stats().readers, 0u);
  EXPECT_EQ(r.proc.wait(), 1000 + SIGKILL);
  pub.reset();
  EXPECT_EQ(a.stats().allocated, baseline);
}

TEST(PublishedTest, ReaderHoldsAtMostItsSlotsAndKeepsThemWhenTheOwnerDies) {
  const auto app = unique_app();
  seam::session_server server{app};
  reader_peer owner("owner", app, 5);
  auto s = server.accept(30s);
  ASSERT_EQ(owner.line(), "published");
  seam::published_reader_options options;
  options.slots = 2;
  seam::published_reader<payload> reader(s, "versions", options);
  auto v1 = reader.acquire();
  auto v2 = reader.acquire();
  ASSERT_TRUE(v1 && v2);
  EXPECT_EQ(v1.version(), 5u);
  EXPECT_EQ(seam::test::check(*v2, 5), "");
  std::error_code ec;
  EXPECT_FALSE(reader.acquire(ec));
  EXPECT_EQ(ec, seam::errc::lend_limit);
  v1.reset();
  EXPECT_TRUE(reader.acquire(ec));
  EXPECT_FALSE(ec);

  // The owner dies: what the reader holds stays readable; acquiring fails.
  owner.proc.kill(SIGKILL);
  ASSERT_TRUE(s.wait_closed(2s));
  EXPECT_EQ(seam::test::check(*v2, 5), "");
  EXPECT_FALSE(reader.acquire(ec));
  EXPECT_EQ(ec, seam::errc::peer_closed);
}

TEST(PublishedTest, SubscriptionsTheOwnerDidNotGrantAreRefused) {
  const auto app = unique_app();
  seam::session_server server{app};
  reader_peer owner("withhold", app, 1);
  auto s = server.accept(30s);
  ASSERT_EQ(owner.line(), "published");
  // The arena is shared (the block is found), but the owner never added this reader.
  std::error_code ec;
  seam::published_reader<payload> refused(s, "versions", {}, ec);
  EXPECT_EQ(ec, seam::errc::not_published);
  EXPECT_FALSE(refused);
  seam::published_reader<payload> absent(s, "no such name", {}, ec);
  EXPECT_EQ(ec, seam::errc::not_published);
  seam::published_reader<int> other_type(s, "versions", {}, ec);
  EXPECT_EQ(ec, seam::errc::type_mismatch);
}

}  // namespace

// A raw client whose session arena is `own`, which it can write at will: a lying reader.
struct raw_reader {
  seam::arena own;
  seam::unique_fd socket;
  std::vector<std::byte> buffer = std::vector<std::byte>(seam::detail::max_packet);

  explicit raw_reader(const std::string& app) : socket(seam::test::raw_connect(app)) {
    auto fd = own.share();
    const auto hello =
        seam::detail::encode_hello(seam::detail::frame_kind::hello,
                                   static_cast<std::uint32_t>(::getpid()), own.id(), fd.get());
    EXPECT_FALSE(seam::detail::send_packet(socket.get(), hello, 10s));
  }
  // The next frame of `kind`, skipping others (the welcome, the owner's share).
  seam::detail::frame next(seam::detail::frame_kind kind) {
    for (;;) {
      seam::detail::frame f;
      if (auto ec = seam::detail::receive_frame(socket.get(), f, buffer, 10s)) {
        ADD_FAILURE() << ec.message();
        return {};
      }
      if (f.kind == kind) return f;
    }
  }
  // Subscribes with `slots` (as the reader names them) and returns the owner's answer.
  std::error_code subscribe(seam::handle<std::byte> block, seam::handle<std::byte> slots) {
    const auto p = seam::detail::encode_subscribe(block, slots, 64);
    if (auto ec = seam::detail::send_packet(socket.get(), p, 10s)) return ec;
    seam::detail::frame f = next(seam::detail::frame_kind::subscribed);
    seam::detail::control c;
    if (auto ec = seam::detail::decode_control(f, c)) return ec;
    return seam::detail::subscribe_error(c.value);
  }
};

std::uint64_t offset_of_current(seam::arena& a, seam::published<payload>& pub) {
  auto* node = seam::detail::version_node<payload>::of(const_cast<payload*>(pub.current()));
  return static_cast<std::uint64_t>(reinterpret_cast<std::byte*>(node) - a.base());
}

TEST(PublishedTest, LyingReaderPinsAtMostItsSlotsUntilItsSessionCloses) {
  const auto app = unique_app();
  seam::session_server server{app};
  seam::arena a;
  seam::published<payload> pub(a, "versions");
  const std::size_t baseline = a.stats().allocated;
  raw_reader liar(app);
  auto s = server.accept(30s);
  liar.next(seam::detail::frame_kind::welcome);
  pub.add_reader(s);
  const auto block = a.find<seam::detail::publication_block<payload>>("versions")->self;

  // Slots outside the reader's arena, or in the owner's own arena, are refused.
  auto* slots = liar.own.make<seam::detail::reader_slots>();
  const auto slots_handle = liar.own.handle_of(slots).as<std::byte>();
  EXPECT_EQ(liar.subscribe(block, {liar.own.id(), liar.own.capacity() - 8}),
            seam::errc::handle_out_of_range);
  EXPECT_EQ(liar.subscribe(block, block), seam::errc::handle_out_of_range);
  EXPECT_EQ(liar.subscribe({a.id(), 4096}, slots_handle), seam::errc::not_published);
  ASSERT_FALSE(liar.subscribe(block, slots_handle));
  EXPECT_EQ(pub.stats().readers, 1u);
  // 64 slots is all one session may have on a publication.
  auto* more = liar.own.make<seam::detail::reader_slots>();
  EXPECT_EQ(liar.subscribe(block, liar.own.handle_of(more).as<std::byte>()),
            seam::errc::lend_limit);
  EXPECT_EQ(pub.stats().readers, 1u);

  // Garbage in every slot (out of range, misaligned, everything set): nothing is pinned, and
  // nothing the owner does follows it.
  const std::uint64_t garbage[] = {~std::uint64_t{0}, 1, 4097, a.capacity(), 0x8000000000000000};
  for (std::size_t i = 0; i < 64; ++i) slots->held[i] = garbage[i % std::size(garbage)];
  for (std::uint64_t i = 1; i <= 100; ++i) pub.publish(next_version(a, pub, i));
  EXPECT_EQ(pub.stats().retained, 0u);

  // Naming each version as it is replaced pins it: one per slot, never more.
  for (std::uint64_t i = 101; i <= 300; ++i) {
    slots->held[i % 64] = offset_of_current(a, pub);
    pub.publish(next_version(a, pub, i));
    ASSERT_LE(pub.stats().retained, 64u);
  }
  EXPECT_EQ(pub.stats().retained, 64u);
  EXPECT_EQ(seam::test::check(*pub.current(), 300), "");

  // The liar goes: its session closes, and every version it pinned is destroyed.
  liar.socket.reset();
  ASSERT_TRUE(s.wait_closed(2s));
  EXPECT_EQ(pub.stats().retained, 0u);
  EXPECT_EQ(pub.stats().readers, 0u);
  pub.reset();
  EXPECT_EQ(a.stats().allocated, baseline);
}
