// The other process of the session tests. Usage: session_peer <mode> <app> [args...]
// Prints progress lines on stdout ("ready", "holding", …) for the test to wait on, and exits
// 0 on success; any failure prints a reason and exits non-zero.

#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "seam/seam.hpp"
#include "support/peer_output.hpp"

namespace {

using namespace std::chrono_literals;

using seam::test::fail;
using seam::test::say;

std::span<const std::byte> bytes_of(const std::uint64_t& v) {
  return std::as_bytes(std::span(&v, 1));
}

std::uint64_t number_of(const seam::message& m) {
  std::uint64_t v = 0;
  if (m.bytes.size() == sizeof v) std::memcpy(&v, m.bytes.data(), sizeof v);
  return v;
}

// Lends a vector of 1000 ints from its own arena, sends the handle, waits for "done".
int lend_and_send(seam::session& s) {
  auto* v = s.arena().make<seam::vector<int>>();
  {
    seam::arena_scope scope{s.arena()};
    for (int i = 0; i < 1000; ++i) v->push_back(i * 3);
  }
  const auto h = s.lend(v).as<std::byte>();
  auto ch = s.open_channel();
  ch.send({}, {}, {&h, 1});
  if (ch.receive(10s).text() != "done") return fail("no done");
  return 0;
}

// Sends n numbered messages on a channel it opens, then receives n on one the test opens.
int ordered(seam::session& s, std::uint64_t n) {
  auto out = s.open_channel();
  for (std::uint64_t i = 0; i < n; ++i) out.send(bytes_of(i));
  auto in = s.accept_channel(10s);
  for (std::uint64_t i = 0; i < n; ++i) {
    if (number_of(in.receive(10s)) != i) return fail("out of order at " + std::to_string(i));
  }
  out.send("received all");
  return 0;
}

// Opens a ring channel and sends n numbers before the test accepts it, and closes it; then a
// second one, which stays open until the test answers on it.
int ring_early(seam::session& s, std::uint64_t n) {
  {
    auto gone = s.open_channel(seam::transport::ring);
    for (std::uint64_t i = 0; i < n; ++i) gone.send(bytes_of(i));
  }
  auto ch = s.open_channel(seam::transport::ring);
  for (std::uint64_t i = 0; i < n; ++i) ch.send(bytes_of(i));
  say("sent");
  if (ch.receive(30s).text() != "got them") return fail("no answer on the open ring");
  return 0;
}

// Receives a pipe's write end and writes a line through it.
int write_pipe(seam::session& s) {
  auto ch = s.accept_channel(10s);
  auto m = ch.receive(10s);
  if (m.fds.size() != 1) return fail("expected one fd");
  const std::string text = "written by pid " + std::to_string(::getpid()) + "\n";
  if (::write(m.fds[0].get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    return fail("write to pipe");
  }
  return 0;
}

// Receives a connected TCP socket and answers the request read from it.
int answer_tcp(seam::session& s) {
  auto ch = s.accept_channel(10s);
  auto m = ch.receive(10s);
  if (m.fds.size() != 1) return fail("expected one fd");
  char request[64] = {};
  const ssize_t n = ::recv(m.fds[0].get(), request, sizeof request - 1, 0);
  if (n <= 0) return fail("recv");
  const std::string answer = "worker " + std::to_string(::getpid()) + " got: " + request;
  if (::send(m.fds[0].get(), answer.data(), answer.size(), MSG_NOSIGNAL) < 0) {
    return fail("send");
  }
  return 0;
}

// Borrows every handle of one message, says "holding", and waits to be killed.
int borrow_and_hold(seam::session& s) {
  auto ch = s.accept_channel(10s);
  auto m = ch.receive(10s);
  std::vector<seam::borrowed<const std::uint64_t>> held;
  for (const auto& h : m.handles) held.push_back(s.borrow(h.as<std::uint64_t>()));
  for (std::size_t i = 0; i < held.size(); ++i) {
    if (*held[i] != i) return fail("wrong value");
  }
  say("holding " + std::to_string(held.size()));
  char c;
  [[maybe_unused]] ssize_t r = ::read(0, &c, 1);  // until killed
  return 0;
}

// n times: receive one lent handle, borrow, check, drop, acknowledge.
int borrow_cycles(seam::session& s, std::uint64_t n) {
  auto ch = s.accept_channel(10s);
  for (std::uint64_t i = 0; i < n; ++i) {
    auto m = ch.receive(10s);
    if (m.handles.size() != 1) return fail("expected one handle");
    {
      auto b = s.borrow(m.handles[0].as<std::uint64_t>());
      if (*b != i) return fail("wrong value at " + std::to_string(i));
    }
    ch.send(bytes_of(i));
  }
  return 0;
}

// Sends handles the test did not lend: unknown arena, out of range, misaligned.
int forge(seam::session& s) {
  const auto good = s.arena().handle_of(s.arena().make<std::uint64_t>(1)).as<std::byte>();
  const seam::handle<std::byte> forged[] = {
      {good.arena_id ^ 1, good.offset},
      {good.arena_id, std::uint64_t{1} << 50},
      {good.arena_id, 8},
  };
  for (const auto& h : forged) {
    auto ch = s.open_channel();
    ch.send({}, {}, {&h, 1});
    // The test refuses the message and closes the channel: wait for that.
    seam::message m;
    std::error_code ec;
    if (ch.receive(m, 10s, ec) || ec != seam::errc::peer_closed) return fail("channel not closed");
  }
  auto ch = s.open_channel();
  ch.send("still here");
  ch.receive(10s);
  return 0;
}

// Reads a number the test keeps in an arena it shared, and sends it back.
int read_shared(seam::session& s) {
  auto ch = s.accept_channel(10s);
  auto m = ch.receive(10s);
  if (m.handles.size() != 1) return fail("expected one handle");
  ch.send(bytes_of(*s.get(m.handles[0].as<std::uint64_t>())));
  ch.receive(10s);
  return 0;
}

// Accepts one channel and answers each message carrying a handle with the number it names,
// read through a borrow that ends before the answer is sent, until one says "done".
int borrow_echo(seam::session& s) {
  auto ch = s.accept_channel(10s);
  say("accepted");
  for (;;) {
    auto m = ch.receive(30s);
    if (m.text() == "done") break;
    if (m.handles.size() != 1) return 1;
    std::uint64_t value = 0;
    {
      auto lent = s.borrow(m.handles.front().as<std::uint64_t>());
      value = *lent;
    }  // released here: the release rides ahead of the answer on a ring channel
    ch.send(std::as_bytes(std::span(&value, 1)));
  }
  ch.send("echoed");
  s.wait_closed(30s);
  return 0;
}

// Accepts one channel (of any transport) and sends back every message as it came (bytes, fds,
// handles) until one says "done"; then says "echoed".
int echo(seam::session& s) {
  auto ch = s.accept_channel(10s);
  say("accepted");
  for (;;) {
    auto m = ch.receive(30s);
    if (m.text() == "done") break;
    std::vector<int> fds;
    for (const auto& fd : m.fds) fds.push_back(fd.get());
    ch.send(m.bytes, fds, m.handles);
  }
  ch.send("echoed");
  // Stay until the test has read everything (it closes the session).
  s.wait_closed(30s);
  return 0;
}

// A server for the tests that kill the server: accepts one client, then waits.
int serve(const char* app) {
  seam::session_server server{app};
  say("listening");
  auto s = server.accept(30s);
  say("accepted");
  s.wait_closed(60s);
  return 0;
}

// Drops to another uid, then tries to connect: must be refused.
int as_other_user(const char* app) {
  seam::session_options options;
  options.server_uid = ::geteuid();  // the server's, before we drop it
  if (::setgid(65534) != 0 || ::setuid(65534) != 0) return fail("cannot drop privileges");
  std::error_code ec;
  seam::session::connect(app, 5s, options, ec);
  if (ec != seam::errc::refused) return fail("expected refused, got " + ec.message());
  say("refused");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return fail("usage: session_peer <mode> <app> [n]");
  const std::string mode = argv[1];
  const char* app = argv[2];
  const std::uint64_t n = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 0;
  try {
    if (mode == "serve") return serve(app);
    if (mode == "other-user") return as_other_user(app);
    auto s = seam::session::connect(app, 10s);
    say("connected");
    if (mode == "lend-and-send") return lend_and_send(s);
    if (mode == "ordered") return ordered(s, n);
    if (mode == "ring-early") return ring_early(s, n);
    if (mode == "pipe") return write_pipe(s);
    if (mode == "tcp") return answer_tcp(s);
    if (mode == "borrow-hold") return borrow_and_hold(s);
    if (mode == "borrow-cycles") return borrow_cycles(s, n);
    if (mode == "forge") return forge(s);
    if (mode == "wait") return s.wait_closed(60s) ? 0 : fail("never closed");
    if (mode == "read-shared") return read_shared(s);
    if (mode == "echo") return echo(s);
    if (mode == "borrow-echo") return borrow_echo(s);
    return fail("unknown mode " + mode);
  } catch (const std::exception& e) {
    return fail(e.what());
  }
}
