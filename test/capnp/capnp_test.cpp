// Cap'n Proto over sessions: zero copy and copying paths, lifetimes, forged tables, requests.

#include <gtest/gtest.h>
#include <sys/socket.h>

#include "capnp/file_content.hpp"
#include "seam/seam.hpp"
#include "session/peer.hpp"

namespace {

using namespace std::chrono_literals;
using seam::test::eventually;
using seam::test::unique_app;

constexpr std::size_t MiB = std::size_t{1} << 20;

struct capnp_peer {
  seam::test::process proc;
  seam::test::pipe_pair out, in;
  capnp_peer(const std::string& mode, const std::string& app, std::uint64_t n = 0) {
    proc = seam::test::spawn(SEAM_CAPNP_PEER, {mode, app, std::to_string(n)},
                             {{out.write_end.get(), 1}, {in.read_end.get(), 0}});
    out.write_end.reset();
    in.read_end.reset();
  }
  std::string line() { return seam::test::read_line(out.read_end.get()); }
};

struct shape {
  const char* name;
  seam::capnp::builder_options options;
  std::size_t parts;
  std::size_t part_bytes;
};

// Every shape by handle over a channel of `transport`, then by copy over a stream socket passed
// on another channel of `transport`.
void round_trip_every_shape(seam::transport transport) {
  const shape shapes[] = {
      {"one word", {}, 0, 0},
      {"one segment", {.first_segment_words = 1 << 16}, 10, 1024},
      {"many segments", {.first_segment_words = 16, .max_segment_words = 64}, 1000, 96},
      {"600 MiB of parts", {}, 600 * MiB / (16 * 1024), 16 * 1024},
  };
  const std::size_t count = std::size(shapes);
  const auto app = unique_app();
  seam::session_server server{app};
  capnp_peer peer("check", app, count);
  auto s = server.accept(30s);
  const std::size_t baseline = s.arena().stats().allocated;
  {
    std::vector<std::unique_ptr<seam::capnp::message_builder>> builders;
    for (const auto& sh : shapes) {
      builders.push_back(std::make_unique<seam::capnp::message_builder>(s, sh.options));
      if (sh.parts == 0) {
        builders.back()->getRoot<::capnp::AnyPointer>();  // the root pointer alone: one word
      } else {
        seam::test::build_file(builders.back()->initRoot<File>(), sh.parts, sh.part_bytes, 7);
      }
    }
    EXPECT_EQ(builders[0]->size_words(), 1u);
    EXPECT_EQ(builders[1]->getSegmentsForOutput().size(), 1u);
    EXPECT_GT(builders[2]->getSegmentsForOutput().size(), 100u);

    seam::capnp::channel zero_copy(s, s.open_channel(transport));
    for (std::size_t i = 0; i < count; ++i) {
      zero_copy.send(*builders[i]);
      auto note = zero_copy.receive_message(120s);
      EXPECT_EQ(note.root<Note>().getText(), "zero-copy") << shapes[i].name;
      EXPECT_EQ(note.root<Note>().getNumber(), shapes[i].parts * shapes[i].part_bytes)
          << shapes[i].name;
    }
    // The same messages through Cap'n Proto's stream serialization give the same content.
    int pair[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
    seam::unique_fd mine{pair[0]}, theirs{pair[1]};
    auto fd_channel = s.open_channel(transport);
    const int raw = theirs.get();
    fd_channel.send({}, {&raw, 1});
    theirs.reset();
    auto copying = seam::capnp::channel::copying(std::move(mine));
    for (std::size_t i = 0; i < count; ++i) {
      copying.send(*builders[i]);
      auto note = copying.receive_message(120s);
      EXPECT_EQ(note.root<Note>().getText(), "copy") << shapes[i].name;
      EXPECT_EQ(note.root<Note>().getNumber(), shapes[i].parts * shapes[i].part_bytes)
          << shapes[i].name;
    }
  }
  EXPECT_EQ(peer.proc.wait(), 0);
  // Every lend came back and every segment was freed with its builder (and a ring's blocks
  // once the peer's session let go of them).
  EXPECT_TRUE(eventually([&] { return s.lent_count() == 0; }));
  EXPECT_TRUE(eventually([&] { return s.arena().stats().allocated == baseline; }))
      << s.arena().stats().allocated << " bytes allocated, " << baseline << " before";
}

TEST(CapnpTest, MessagesOfEveryShapeRoundTripByHandleAndByCopy) {
  round_trip_every_shape(seam::transport::socket);
}

TEST(CapnpTest, MessagesOfEveryShapeRoundTripByHandleAndByCopyOverTheRing) {
  round_trip_every_shape(seam::transport::ring);
}

TEST(CapnpTest, SegmentsOutliveTheBuilderUntilTheReaderGoesEvenByKill) {
  const auto app = unique_app();
  seam::session_server server{app};
  capnp_peer peer("hold", app);
  auto s = server.accept(30s);
  const std::size_t baseline = s.arena().stats().allocated;
  seam::capnp::channel ch(s, s.open_channel());
  {
    seam::capnp::message_builder b(s);
    seam::test::build_file(b.initRoot<File>(), 4096, 16 * 1024, 3);  // 64 MiB
    ch.send(b);
  }  // the builder is gone; the peer still reads its segments
  EXPECT_EQ(peer.line().rfind("holding ", 0), 0u);
  EXPECT_GE(s.arena().stats().allocated, baseline + 64 * MiB);
  EXPECT_EQ(s.lent_count(), 1u);
  peer.proc.kill(SIGKILL);
  ASSERT_TRUE(s.wait_closed(5s));
  EXPECT_EQ(s.lent_count(), 0u);
  EXPECT_EQ(s.arena().stats().allocated, baseline);
}

TEST(CapnpTest, ForgedSegmentTablesAreRefused) {
  const auto app = unique_app();
  seam::session_server server{app};
  capnp_peer peer("forge", app);
  auto s = server.accept(30s);
  for (int lie = 0; lie < 7; ++lie) {
    seam::capnp::channel ch(s, s.accept_channel(30s));
    if (lie % 2 == 0) {
      try {
        ch.receive_message(30s);
        ADD_FAILURE() << "forged table " << lie << " accepted";
      } catch (const std::system_error& e) {
        EXPECT_NE(e.code(), seam::errc::timed_out) << lie;
      }
    } else {
      // The non-throwing form reports the same refusal, with an empty reader.
      std::error_code ec;
      auto r = ch.receive_message(30s, ec);
      EXPECT_TRUE(ec) << "forged table " << lie << " accepted";
      EXPECT_NE(ec, seam::errc::timed_out) << lie;
      EXPECT_FALSE(r);
    }
  }
  // The session is fine and an honest message still goes through.
  seam::capnp::channel ch(s, s.accept_channel(30s));
  auto r = ch.receive_message(30s);
  EXPECT_EQ(r.root<Note>().getText(), "honest");
  EXPECT_TRUE(s.is_open());
  seam::capnp::message_builder ack(s);
  ack.initRoot<Note>();
  ch.send(ack);
  EXPECT_EQ(peer.proc.wait(), 0);
}

void requests_and_late_responses(seam::transport transport) {
  const auto app = unique_app();
  seam::session_server server{app};
  capnp_peer peer("rpc", app);
  auto s = server.accept(30s);
  seam::capnp::channel ch(s, s.open_channel(transport));
  seam::capnp::message_builder first(s), second(s);
  first.initRoot<Note>().setNumber(1);
  second.initRoot<Note>().setNumber(2);
  // The peer answers the first request only after the second arrives: it times out here.
  try {
    ch.request<Note>(first, 50ms);
    ADD_FAILURE() << "the first request was answered";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), seam::errc::timed_out);
  }
  std::error_code ec;
  auto response = ch.request<Note>(second, 30s, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(response.root().getNumber(), 20u);  // its own answer, not the late one (10)
  EXPECT_EQ(ch.stale_responses(), 1u);
  s.close();
  EXPECT_EQ(peer.proc.wait(), 0);
  // Every call has a form that reports instead of throwing: the session is gone.
  ch.send(first, {}, 1s, ec);
  EXPECT_EQ(ec, seam::errc::peer_closed) << ec.message();
  EXPECT_FALSE(ch.receive_message(1s, ec));
  EXPECT_EQ(ec, seam::errc::peer_closed) << ec.message();
  EXPECT_FALSE(ch.request(first, 1s, ec));
  EXPECT_EQ(ec, seam::errc::peer_closed) << ec.message();
  EXPECT_FALSE(ch.receive_request(1s, ec).message);
  EXPECT_EQ(ec, seam::errc::peer_closed) << ec.message();
  ch.reply(seam::capnp::incoming_request{}, first, 1s, ec);
  EXPECT_EQ(ec, seam::errc::peer_closed) << ec.message();
}

TEST(CapnpTest, RequestsGetTheirOwnResponsesAndLateOnesAreDropped) {
  requests_and_late_responses(seam::transport::socket);
}

TEST(CapnpTest, RequestsGetTheirOwnResponsesAndLateOnesAreDroppedOverTheRing) {
  requests_and_late_responses(seam::transport::ring);
}

}  // namespace
