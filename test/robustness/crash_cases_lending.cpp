// Crash matrix cases: a peer killed with lends outstanding, or during a Cap'n Proto send.

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include "robustness/crash_cases.hpp"

namespace seam::test::crash_cases {

// ---- lends outstanding -----------------------------------------------------------------------

// Both sides lend 1000 objects and borrow the other's; then the victim is killed.
void expect_lends_both_ways_released(seam::session& s, crash_peer& victim) {
  const std::size_t allocated = s.arena().stats().allocated;
  std::vector<seam::handle<std::byte>> mine;
  for (std::size_t i = 0; i < crash::lends; ++i) {
    mine.push_back(s.lend(s.arena().make<std::uint64_t>(crash::test_value(i))).as<std::byte>());
  }
  auto out = s.open_channel(crash::transport());
  out.send(text("lends"), {}, mine);
  auto in = s.accept_channel(30s);
  auto m = in.receive(30s);
  ASSERT_EQ(m.handles.size(), crash::lends);
  std::vector<seam::borrowed<const std::uint64_t>> held;
  for (const auto& h : m.handles) held.push_back(s.borrow(h.as<std::uint64_t>()));
  ASSERT_EQ(victim.line(), "at lends_outstanding");
  EXPECT_EQ(s.lent_count(), crash::lends);
  EXPECT_GE(s.arena().stats().allocated, allocated + crash::lends * sizeof(std::uint64_t));
  ASSERT_TRUE(victim.kill_and_reap());
  expect_closed_by_death(s);
  EXPECT_EQ(s.lent_count(), 0u);
  expect_allocated_once_closed(s.arena(), allocated, out, in);
  // What we borrowed from the dead peer reads the same until we let go.
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < held.size(); ++i) wrong += *held[i] != crash::peer_value(i);
  EXPECT_EQ(wrong, 0u);
}

void server_with_lends_outstanding() {
  const auto app = unique_app();
  const held_resources baseline;
  crash_peer victim("server-lends", app);
  ASSERT_EQ(victim.line(), "listening");
  {
    auto s = seam::session::connect(app, 10s);
    expect_lends_both_ways_released(s, victim);
  }
  connect_to_a_new_server(app, baseline);
}

void client_with_lends_outstanding() {
  const auto app = unique_app();
  seam::session_server server{app};
  const held_resources baseline;
  {
    crash_peer victim("client-lends", app);
    auto s = server.accept(30s);
    expect_lends_both_ways_released(s, victim);
  }
  serve_a_new_client(server, app, baseline);
}

// The victim lends 1000 objects; we borrow them all; it dies.
void lender_with_lends_outstanding() {
  const auto app = unique_app();
  seam::session_server server{app};
  const held_resources baseline;
  std::vector<seam::borrowed<const std::uint64_t>> held;  // outlives the session, on purpose
  {
    crash_peer victim("lender-lends", app);
    auto s = server.accept(30s);
    const std::size_t allocated = s.arena().stats().allocated;
    auto in = s.accept_channel(30s);
    auto m = in.receive(30s);
    ASSERT_EQ(m.handles.size(), crash::lends);
    for (const auto& h : m.handles) held.push_back(s.borrow(h.as<std::uint64_t>()));
    ASSERT_EQ(victim.line(), "at lends_outstanding");
    ASSERT_TRUE(victim.kill_and_reap());
    expect_closed_by_death(s);
    EXPECT_EQ(s.lent_count(), 0u);
    expect_allocated_once_closed(s.arena(), allocated, in);
  }
  // The dead lender's arena stays mapped for the borrows alone, and reads the same, until they
  // go (dropping borrows of a destroyed session is harmless); then it is unmapped.
  EXPECT_EQ(seam::test::memfd_mapping_count(), baseline.memfd_mappings + 1);
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < held.size(); ++i) wrong += *held[i] != crash::peer_value(i);
  EXPECT_EQ(wrong, 0u);
  held.clear();
  serve_a_new_client(server, app, baseline);
}

// We lend 1000 objects; the victim borrows them all, gives half back, and dies.
void borrower_with_lends_outstanding() {
  const auto app = unique_app();
  seam::session_server server{app};
  const held_resources baseline;
  {
    crash_peer victim("borrower-lends", app);
    auto s = server.accept(30s);
    const std::size_t allocated = s.arena().stats().allocated;
    std::vector<seam::handle<std::byte>> handles;
    for (std::size_t i = 0; i < crash::lends; ++i) {
      handles.push_back(
          s.lend(s.arena().make<std::uint64_t>(crash::test_value(i))).as<std::byte>());
    }
    auto ch = s.open_channel(crash::transport());
    ch.send(text("lends"), {}, handles);
    ASSERT_EQ(victim.line(), "at lends_outstanding");
    // The half it gave back came back while it lived.
    EXPECT_TRUE(eventually([&] { return s.lent_count() == crash::lends / 2; })) << s.lent_count();
    ASSERT_TRUE(victim.kill_and_reap());
    expect_closed_by_death(s);
    EXPECT_EQ(s.lent_count(), 0u);
    expect_allocated_once_closed(s.arena(), allocated, ch);
  }
  serve_a_new_client(server, app, baseline);
}

// ---- during a Cap'n Proto send ---------------------------------------------------------------

// The server writes a 32 MiB message into a stream socket (copying path) and dies inside the
// write: we hold the first bytes of a message that will never be complete.
void server_during_capnp_send() {
  const auto app = unique_app();
  const held_resources baseline;
  crash_peer victim("server-capnp", app);
  ASSERT_EQ(victim.line(), "listening");
  {
    auto s = seam::session::connect(app, 10s);
    const std::size_t allocated = s.arena().stats().allocated;
    int pair[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
    seam::unique_fd mine{pair[0]}, theirs{pair[1]};
    auto fds = s.open_channel(crash::transport());
    const int raw = theirs.get();
    fds.send(text("stream"), {&raw, 1});
    theirs.reset();
    auto copying = seam::capnp::channel::copying(std::move(mine));
    ASSERT_EQ(victim.line(), "at capnp_send");
    // Its first bytes are here: it is inside a send that cannot finish until we read.
    pollfd p{copying.native_handle(), POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 30000), 1);
    ASSERT_TRUE(victim.kill_and_reap());
    const auto killed = clock_type::now();
    try {
      copying.receive_message(30s);
      ADD_FAILURE() << "a message cut short was accepted";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), seam::errc::peer_closed) << e.what();
    }
    EXPECT_LT(clock_type::now() - killed, 5s);  // at the EOF, not after the 10 s stall limit
    expect_closed_by_death(s);
    EXPECT_EQ(s.lent_count(), 0u);
    expect_allocated_once_closed(s.arena(), allocated, fds);
  }
  connect_to_a_new_server(app, baseline);
}

// A client sends requests in a loop; we answer each (a zero-copy send, lent to it) until it
// dies somewhere in its loop.
void client_during_capnp_send() {
  const auto app = unique_app();
  seam::session_server server{app};
  const held_resources baseline;
  {
    crash_peer victim("client-capnp", app);
    auto s = server.accept(30s);
    const std::size_t allocated = s.arena().stats().allocated;
    seam::capnp::channel rpc(s, s.accept_channel(30s));
    kill_on_line killer(victim);
    std::size_t served = 0;
    std::error_code end;
    const auto deadline = clock_type::now() + 60s;
    while (!end && clock_type::now() < deadline) {
      try {
        auto request = rpc.receive_request(30s);
        seam::capnp::message_builder b(s, {.first_segment_words = 64});
        b.initRoot<Note>().setNumber(request.message.root<Note>().getNumber() * 2);
        rpc.reply(request, b, 5s);
        ++served;
      } catch (const std::system_error& e) {
        end = e.code();
      }
    }
    EXPECT_EQ(killer.line(), "at capnp_send");
    EXPECT_TRUE(victim.reap());
    EXPECT_GE(served, 1u);
    EXPECT_EQ(end, seam::errc::peer_closed) << end.message();
    expect_closed_by_death(s);
    EXPECT_EQ(s.lent_count(), 0u);
    expect_allocated_once_closed(s.arena(), allocated, rpc);
  }
  serve_a_new_client(server, app, baseline);
}

// A client streams zero-copy messages at us, blocking once our queue is full; it dies inside
// its loop. Every message it got out is still delivered and readable.
void lender_during_capnp_send() {
  const auto app = unique_app();
  seam::session_server server{app};
  const held_resources baseline;
  {
    crash_peer victim("lender-capnp", app);
    auto s = server.accept(30s);
    const std::size_t allocated = s.arena().stats().allocated;
    seam::capnp::channel ch(s, s.accept_channel(30s));
    ASSERT_EQ(victim.line(), "at capnp_send");
    ASSERT_TRUE(victim.kill_and_reap());
    std::vector<seam::capnp::message_reader> held;
    std::error_code end;
    while (!end && held.size() < 100000) {
      try {
        held.push_back(ch.receive_message(5s));
      } catch (const std::system_error& e) {
        end = e.code();
      }
    }
    EXPECT_EQ(end, seam::errc::peer_closed) << end.message();
    ASSERT_GE(held.size(), 1u);
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < held.size(); ++i) {
      auto note = held[i].root<Note>();
      wrong += note.getNumber() != i ||
               std::string(note.getText().cStr()) != "message " + std::to_string(i);
    }
    EXPECT_EQ(wrong, 0u) << "of " << held.size() << " messages";
    expect_closed_by_death(s);
    held.clear();
    EXPECT_EQ(s.lent_count(), 0u);
    expect_allocated_once_closed(s.arena(), allocated, ch);
  }
  serve_a_new_client(server, app, baseline);
}

// We stream zero-copy messages to a client that reads them; it dies; our send loop must end
// with an error, and every message lent to it come back.
void borrower_during_capnp_send() {
  const auto app = unique_app();
  seam::session_server server{app};
  const held_resources baseline;
  {
    crash_peer victim("borrower-capnp", app);
    auto s = server.accept(30s);
    const std::size_t allocated = s.arena().stats().allocated;
    seam::capnp::channel ch(s, s.open_channel(crash::transport()));
    kill_on_line killer(victim);
    std::uint64_t sent = 0;
    std::error_code end;
    std::string what;
    const auto deadline = clock_type::now() + 60s;
    while (!end && clock_type::now() < deadline) {
      seam::capnp::message_builder b(s, {.first_segment_words = 64});
      b.initRoot<Note>().setNumber(sent);
      try {
        ch.send(b, {}, 5s);
        ++sent;
      } catch (const std::system_error& e) {
        end = e.code();
        what = e.what();
      }
    }
    EXPECT_EQ(killer.line(), "at capnp_send");
    EXPECT_TRUE(victim.reap());
    EXPECT_GE(sent, 1u);
    EXPECT_EQ(end, seam::errc::peer_closed) << what;
    expect_closed_by_death(s);
    EXPECT_EQ(s.lent_count(), 0u);
    expect_allocated_once_closed(s.arena(), allocated, ch);
  }
  serve_a_new_client(server, app, baseline);
}

}  // namespace seam::test::crash_cases
