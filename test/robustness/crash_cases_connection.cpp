// Crash matrix cases: a peer killed in the handshake, or with an fd in flight.

#include <gtest/gtest.h>

#include "robustness/crash_cases.hpp"

namespace seam::test::crash_cases {

// ---- handshake -------------------------------------------------------------------------------

// A raw server takes our hello and never answers; it dies while our connect waits.
void server_at_handshake() {
  const auto app = unique_app();
  const held_resources baseline;
  crash_peer victim("server-handshake", app);
  ASSERT_EQ(victim.line(), "listening");
  std::error_code ec;
  clock_type::time_point returned;
  std::thread connecting([&] {
    seam::session::connect(app, 30s, {}, ec);
    returned = clock_type::now();
  });
  std::string at;
  try {
    at = victim.line();
  } catch (const std::exception& e) {
    at = e.what();
  }
  const auto killed = clock_type::now();
  const bool by_kill = victim.kill_and_reap();
  connecting.join();
  ASSERT_EQ(at, "at handshake");
  EXPECT_TRUE(by_kill);
  // Noticed the death, rather than waiting out its 30 s timeout.
  EXPECT_EQ(ec, seam::errc::peer_closed) << ec.message();
  EXPECT_LT(returned - killed, 10s);
  // No session formed, so no lends or arena to check: the attempt's own arena and socket must
  // be gone (connect_to_a_new_server checks the fds and mappings first).
  connect_to_a_new_server(app, baseline);
}

// A raw client connects and dies before its hello, while the server waits for it in accept.
void client_at_handshake_no_hello() {
  const auto app = unique_app();
  seam::server_options options;
  options.handshake_timeout = 60s;
  seam::session_server server{app, options};
  const held_resources baseline;
  {
    std::error_code ec;
    seam::session s;
    clock_type::time_point returned;
    std::thread accepting([&] {
      s = server.accept(120s, ec);
      returned = clock_type::now();
    });
    crash_peer victim("client-connect", app);
    std::string at;
    try {
      at = victim.line();
    } catch (const std::exception& e) {
      at = e.what();
    }
    const auto killed = clock_type::now();
    const bool by_kill = victim.kill_and_reap();
    crash_peer next("rt-client", app);
    accepting.join();
    ASSERT_EQ(at, "at handshake");
    EXPECT_TRUE(by_kill);
    ASSERT_FALSE(ec) << ec.message();
    // The server dropped the dead client at once (not after its 60 s handshake timeout) and
    // served the next one. No session with the victim formed: no lends or arena to check.
    EXPECT_LT(returned - killed, 20s);
    EXPECT_EQ(s.peer_pid(), next.pid);
    EXPECT_EQ(server.rejected(), 1u);
    seam::test::expect_round_trip(s, next, next_value());
  }
  expect_back_to(baseline, "after the round trip");
}

// A raw client sends a valid hello with its arena fd and dies before reading the welcome; the
// server only gets to it afterwards (it waits in the backlog, hello and fd inside).
void client_at_handshake_hello_unanswered() {
  const auto app = unique_app();
  seam::session_server server{app};
  const held_resources baseline;
  {
    crash_peer victim("client-hello", app);
    ASSERT_EQ(victim.line(), "at handshake");
    ASSERT_TRUE(victim.kill_and_reap());
    crash_peer next("rt-client", app);
    auto s = server.accept(30s);
    // The dead client's welcome could not be sent: it was turned away, its arena unmapped.
    EXPECT_EQ(s.peer_pid(), next.pid);
    EXPECT_EQ(server.rejected(), 1u);
    seam::test::expect_round_trip(s, next, next_value());
  }
  expect_back_to(baseline, "after the round trip");
}

// ---- an fd in flight -------------------------------------------------------------------------

// We send the server a pipe's write end; it dies with the message unreceived.
void server_with_fd_in_flight() {
  const auto app = unique_app();
  const held_resources baseline;
  crash_peer victim("server-fd", app);
  ASSERT_EQ(victim.line(), "listening");
  {
    auto s = seam::session::connect(app, 10s);
    const std::size_t allocated = s.arena().stats().allocated;
    auto ch = s.open_channel(crash::transport());
    seam::test::pipe_pair pipe;
    const int w = pipe.write_end.get();
    ch.send(text("fd"), {&w, 1});
    pipe.write_end.reset();
    ASSERT_EQ(victim.line(), "at fd_in_flight");
    ASSERT_TRUE(victim.kill_and_reap());
    expect_closed_by_death(s);
    // The write end died in the victim's queue: nothing can write to our pipe any more.
    EXPECT_TRUE(seam::test::reads_eof(pipe.read_end.get(), 5s));
    std::error_code ec;
    ch.send(text("anyone?"), {}, {}, 1s, ec);
    EXPECT_EQ(ec, seam::errc::peer_closed) << ec.message();
    EXPECT_EQ(s.lent_count(), 0u);
    expect_allocated_once_closed(s.arena(), allocated, ch);
  }
  connect_to_a_new_server(app, baseline);
}

// A client sends us pipes on two channels and dies before we received either message.
void client_with_fd_in_flight() {
  const auto app = unique_app();
  seam::session_server server{app};
  const held_resources baseline;
  {
    crash_peer victim("client-fd", app);
    auto s = server.accept(30s);
    const std::size_t allocated = s.arena().stats().allocated;
    ASSERT_EQ(victim.line(), "at fd_in_flight");
    auto ch = s.accept_channel(10s);  // its first channel; the second is never accepted
    const pid_t pid = victim.pid;
    ASSERT_TRUE(victim.kill_and_reap());
    // Sent before the death, the message still arrives, and its pipe works.
    auto m = ch.receive(5s);
    EXPECT_EQ(m.text(), "first");
    ASSERT_EQ(m.fds.size(), 1u);
    EXPECT_EQ(seam::test::read_to_eof(m.fds[0].get(), 5s),
              "first payload from " + std::to_string(pid));
    seam::message more;
    std::error_code ec;
    EXPECT_FALSE(ch.receive(more, 5s, ec));
    EXPECT_EQ(ec, seam::errc::peer_closed) << ec.message();
    expect_closed_by_death(s);
    // Its second channel, still queued in the session, went (with its fd) when it closed.
    try {
      s.accept_channel(1s);
      ADD_FAILURE() << "accepted a channel of a dead session";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), seam::errc::peer_closed) << e.what();
    }
    EXPECT_EQ(s.lent_count(), 0u);
    expect_allocated_once_closed(s.arena(), allocated, ch);
  }
  serve_a_new_client(server, app, baseline);
}

// A client lends us a vector and sends it with a pipe; it dies before we received it.
void lender_with_fd_in_flight() {
  const auto app = unique_app();
  seam::session_server server{app};
  const held_resources baseline;
  {
    crash_peer victim("lender-fd", app);
    auto s = server.accept(30s);
    const std::size_t allocated = s.arena().stats().allocated;
    ASSERT_EQ(victim.line(), "at fd_in_flight");
    auto ch = s.accept_channel(10s);
    const pid_t pid = victim.pid;
    ASSERT_TRUE(victim.kill_and_reap());
    auto m = ch.receive(5s);
    ASSERT_EQ(m.handles.size(), 1u);
    ASSERT_EQ(m.fds.size(), 1u);
    {
      // The lender is dead; what it lent is still mapped here, unchanged, until we let go.
      auto v = s.borrow(m.handles[0].as<seam::vector<std::uint64_t>>());
      ASSERT_EQ(v->size(), crash::lends);
      std::size_t wrong = 0;
      for (std::size_t i = 0; i < v->size(); ++i) wrong += (*v)[i] != crash::peer_value(i);
      EXPECT_EQ(wrong, 0u);
    }
    EXPECT_EQ(seam::test::read_to_eof(m.fds[0].get(), 5s),
              "lent with a vector by " + std::to_string(pid));
    seam::message more;
    std::error_code ec;
    EXPECT_FALSE(ch.receive(more, 5s, ec));
    EXPECT_EQ(ec, seam::errc::peer_closed) << ec.message();
    expect_closed_by_death(s);
    EXPECT_EQ(s.lent_count(), 0u);
    expect_allocated_once_closed(s.arena(), allocated, ch);
  }
  serve_a_new_client(server, app, baseline);
}

// We lend a client an object and send it with a pipe's write end; it dies before receiving.
void borrower_with_fd_in_flight() {
  const auto app = unique_app();
  seam::session_server server{app};
  const held_resources baseline;
  {
    crash_peer victim("borrower-fd", app);
    auto s = server.accept(30s);
    const std::size_t allocated = s.arena().stats().allocated;
    auto ch = s.open_channel(crash::transport());
    const auto h = s.lend(s.arena().make<std::uint64_t>(77)).as<std::byte>();
    seam::test::pipe_pair pipe;
    const int w = pipe.write_end.get();
    ch.send(text("lent"), {&w, 1}, {&h, 1});
    pipe.write_end.reset();
    EXPECT_EQ(s.lent_count(), 1u);
    ASSERT_EQ(victim.line(), "at fd_in_flight");
    ASSERT_TRUE(victim.kill_and_reap());
    expect_closed_by_death(s);
    // The lend that never reached the borrower is released, and the object freed.
    EXPECT_EQ(s.lent_count(), 0u);
    EXPECT_TRUE(seam::test::reads_eof(pipe.read_end.get(), 5s));
    std::error_code ec;
    ch.send(text("anyone?"), {}, {}, 1s, ec);
    EXPECT_EQ(ec, seam::errc::peer_closed) << ec.message();
    expect_allocated_once_closed(s.arena(), allocated, ch);
  }
  serve_a_new_client(server, app, baseline);
}

}  // namespace seam::test::crash_cases
