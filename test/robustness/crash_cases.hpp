#pragma once
// The crash matrix's cases (one function per role and point) and what they share: recovering
// with a new peer, and killing a victim from another thread.

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "robustness/crash_support.hpp"

namespace seam::test::crash_cases {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using seam::test::crash_peer;
using seam::test::eventually;
using seam::test::expect_back_to;
using seam::test::expect_closed_by_death;
using seam::test::held_resources;
using seam::test::unique_app;
namespace crash = seam::test::crash;

// ---- recovering: a new peer is served --------------------------------------------------------

inline std::uint64_t next_value() {
  static std::atomic<std::uint64_t> value{1000};
  return value++;
}

// The survivor is a server: it holds what it held before the victim came, and serves a new
// client through a full round trip.
inline void serve_a_new_client(seam::session_server& server, const std::string& app,
                               const held_resources& baseline) {
  expect_back_to(baseline, "once the victim's session is gone");
  crash_peer next("rt-client", app);
  auto s = server.accept(30s);
  EXPECT_EQ(s.peer_pid(), next.pid);
  seam::test::expect_round_trip(s, next, next_value());
}

// The survivor is a client: it holds what it held before, and a new server under the same name
// (the dead one's abstract name went with its socket) serves it through a full round trip.
inline void connect_to_a_new_server(const std::string& app, const held_resources& baseline) {
  expect_back_to(baseline, "once the session to the victim is gone");
  crash_peer next("rt-server", app);
  ASSERT_EQ(next.line(), "listening");
  auto s = seam::session::connect(app, 10s);
  EXPECT_EQ(s.peer_pid(), next.pid);
  seam::test::expect_round_trip(s, next, next_value());
}

// Closes `channels`, then checks that arena `a` holds `allocated` bytes again: a ring channel
// keeps its ring in its sender's session arena until the channel goes.
template <class... Channels>
void expect_allocated_once_closed(const seam::arena& a, std::size_t allocated,
                                  Channels&... channels) {
  (channels.close(), ...);
  EXPECT_EQ(a.stats().allocated, allocated);
}

inline std::span<const std::byte> text(const char* s) {
  return std::as_bytes(std::span(s, std::strlen(s)));
}

// Kills `victim` from another thread as soon as it prints its line, for cases where the test's
// own thread is busy in the protocol at that moment. Joined (the kill done) when destroyed.
class kill_on_line {
 public:
  explicit kill_on_line(crash_peer& victim)
      : m_thread([this, &victim] {
          try {
            m_line = victim.line();
          } catch (const std::exception& e) {
            m_line = e.what();
          }
          victim.proc.kill(SIGKILL);
        }) {}
  ~kill_on_line() {
    if (m_thread.joinable()) m_thread.join();
  }
  /// The line the victim printed (waits for the kill).
  std::string line() {
    if (m_thread.joinable()) m_thread.join();
    return m_line;
  }

 private:
  std::string m_line;
  std::thread m_thread;
};

// The cases, one function each: the victim reaches the point and is killed; the survivor's
// checks follow (see crash_matrix_test.cpp).
// Handshake and fds in flight: crash_cases_connection.cpp.
void server_at_handshake();
void client_at_handshake_no_hello();
void client_at_handshake_hello_unanswered();
void server_with_fd_in_flight();
void client_with_fd_in_flight();
void lender_with_fd_in_flight();
void borrower_with_fd_in_flight();
// Lends outstanding and Cap'n Proto sends: crash_cases_lending.cpp.
void server_with_lends_outstanding();
void client_with_lends_outstanding();
void lender_with_lends_outstanding();
void borrower_with_lends_outstanding();
void server_during_capnp_send();
void client_during_capnp_send();
void lender_during_capnp_send();
void borrower_during_capnp_send();
// A reader walking a 1 GiB message: crash_cases_walk.cpp.
void server_while_reader_walks();
void client_while_reader_walks();
void lender_while_reader_walks();
void borrower_while_reader_walks();
// A shared writer of an arena we shared for writing: crash_cases_writers.cpp.
void writer_holding_lock();
void writer_between_alloc_and_insert();
void writer_with_remote_frees_pending();
// A process killed holding a seam::mutex, half way through a change: crash_cases_lock.cpp.
void locker_holding_lock();
// Publications: crash_cases_published.cpp.
void reader_holding_a_version();
void publisher_while_publishing();

}  // namespace seam::test::crash_cases
