// The victim of the crash matrix and the short-lived side of the soak.
// Usage: crash_peer <mode> <app>
// Each crash mode brings the process to one point (a role at a moment of the protocol), prints
// "at <point>" on stdout, then blocks on stdin or keeps working until the test kills it with
// SIGKILL. The round-trip modes ("rt-client", "rt-server") are the well-behaved NEW peer that
// proves the survivor still works; "soak" serves the soak test until killed or told "bye".
// Any failure prints "FAIL <why>" and exits non-zero.

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "capnp/file_content.hpp"
#include "robustness/crash_peer_writers.hpp"
#include "robustness/crash_protocol.hpp"
#include "seam/seam.hpp"
#include "seam/session/wire.hpp"
#include "session/detail/protocol.hpp"
#include "session/published_payload.hpp"
#include "support/peer_output.hpp"

namespace {

using namespace std::chrono_literals;
namespace crash = seam::test::crash;

using seam::test::fail;
using seam::test::say;

// Waits to be killed. Returns (1) only if the test went away (stdin closed).
int block() {
  char c;
  while (::read(0, &c, 1) > 0) {
  }
  return 1;
}

std::span<const std::byte> text_bytes(const std::string& s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

// The abstract address "@seam/<uid>/<app>", as the library names servers.
socklen_t address_of(const std::string& app, sockaddr_un& addr) {
  const std::string name = "seam/" + std::to_string(::geteuid()) + "/" + app;
  addr = {};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path + 1, name.data(), name.size());
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
}

seam::unique_fd raw_connect(const std::string& app) {
  seam::unique_fd fd{::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)};
  sockaddr_un addr;
  const socklen_t length = address_of(app, addr);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), length) != 0) return {};
  return fd;
}

bool readable(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) == 1;
}

// A pipe holding `text`, its read end returned (the write end is closed: the reader sees EOF
// after the text).
seam::unique_fd pipe_with(const std::string& text) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return {};
  seam::unique_fd r{fds[0]}, w{fds[1]};
  if (::write(w.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) return {};
  return r;
}

// ---- handshake ------------------------------------------------------------------------------

// A raw server: takes the client's hello, then never answers.
int server_handshake(const std::string& app) {
  seam::unique_fd listener{::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)};
  sockaddr_un addr;
  const socklen_t length = address_of(app, addr);
  if (::bind(listener.get(), reinterpret_cast<const sockaddr*>(&addr), length) != 0 ||
      ::listen(listener.get(), 4) != 0) {
    return fail("listen");
  }
  say("listening");
  if (!readable(listener.get(), 30s)) return fail("nobody connected");
  seam::unique_fd conn{::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC)};
  std::vector<std::byte> buffer(seam::detail::max_packet);
  seam::detail::frame f;
  if (seam::detail::receive_frame(conn.get(), f, buffer, 30s) ||
      f.kind != seam::detail::frame_kind::hello) {
    return fail("no hello");
  }
  say("at handshake");
  return block();
}

// A raw client that connected and never sends its hello.
int client_connect(const std::string& app) {
  auto fd = raw_connect(app);
  if (!fd) return fail("connect");
  say("at handshake");
  return block();
}

// A raw client that sends a valid hello with its arena, and never reads the welcome.
int client_hello(const std::string& app) {
  seam::arena own({.capacity = std::size_t{64} << 20, .name = "crash-hello"});
  auto fd = raw_connect(app);
  if (!fd) return fail("connect");
  const seam::unique_fd shared = own.share();
  const seam::detail::hello_body body{seam::detail::hello_magic, seam::detail::protocol_version,
                                      static_cast<std::uint32_t>(::getpid()), own.id()};
  const int raw = shared.get();
  if (seam::detail::send_frame(fd.get(), seam::detail::frame_kind::hello, {},
                               std::as_bytes(std::span(&body, 1)), {&raw, 1}, 5s)) {
    return fail("send hello");
  }
  say("at handshake");
  return block();
}

// ---- an fd in flight ------------------------------------------------------------------------

// Receiver side: a message with an fd is queued on our channel; we never take it.
int fd_unreceived(seam::session& s) {
  auto ch = s.accept_channel(30s);
  if (!readable(ch.native_handle(), 30s)) return fail("nothing arrived");
  say("at fd_in_flight");
  return block();
}

// Sender side: two channels, each with a message carrying a pipe; the test accepts the first
// channel only.
int fd_sent(seam::session& s) {
  for (const char* which : {"first", "second"}) {
    auto fd = pipe_with(std::string(which) + " payload from " + std::to_string(::getpid()));
    auto ch = s.open_channel(crash::transport());
    const int raw = fd.get();
    ch.send(text_bytes(which), {&raw, 1});
  }
  say("at fd_in_flight");
  return block();
}

// A lent vector and a pipe in one message.
int lend_with_fd(seam::session& s) {
  auto* v = s.arena().make<seam::vector<std::uint64_t>>();
  {
    seam::arena_scope scope{s.arena()};
    for (std::size_t i = 0; i < crash::lends; ++i) v->push_back(crash::peer_value(i));
  }
  const auto h = s.lend(v).as<std::byte>();
  auto fd = pipe_with("lent with a vector by " + std::to_string(::getpid()));
  auto ch = s.open_channel(crash::transport());
  const int raw = fd.get();
  ch.send(text_bytes("vector"), {&raw, 1}, {&h, 1});
  say("at fd_in_flight");
  return block();
}

// ---- lends outstanding ----------------------------------------------------------------------

seam::channel lend_many(seam::session& s) {
  std::vector<seam::handle<std::byte>> handles;
  for (std::size_t i = 0; i < crash::lends; ++i) {
    handles.push_back(s.lend(s.arena().make<std::uint64_t>(crash::peer_value(i))).as<std::byte>());
  }
  auto ch = s.open_channel(crash::transport());
  ch.send(text_bytes("lends"), {}, handles);
  return ch;
}

// Borrows every handle of the next message on a channel the test opens; checks the values.
bool borrow_many(seam::session& s, std::vector<seam::borrowed<const std::uint64_t>>& held) {
  auto ch = s.accept_channel(30s);
  auto m = ch.receive(30s);
  if (m.handles.size() != crash::lends) return false;
  for (std::size_t i = 0; i < m.handles.size(); ++i) {
    held.push_back(s.borrow(m.handles[i].as<std::uint64_t>()));
    if (*held.back() != crash::test_value(i)) return false;
  }
  return true;
}

int lends_both_ways(seam::session& s) {
  auto out = lend_many(s);
  std::vector<seam::borrowed<const std::uint64_t>> held;
  if (!borrow_many(s, held)) return fail("bad lends from the test");
  say("at lends_outstanding");
  return block();
}

int lender_lends(seam::session& s) {
  auto out = lend_many(s);
  say("at lends_outstanding");
  return block();
}

// Borrows all, then gives the second half back: the test sees half its lends released.
int borrower_lends(seam::session& s) {
  std::vector<seam::borrowed<const std::uint64_t>> held;
  if (!borrow_many(s, held)) return fail("bad lends from the test");
  held.resize(held.size() / 2);
  say("at lends_outstanding");
  return block();
}

// ---- during a Cap'n Proto send --------------------------------------------------------------

// Copying path: a 32 MiB message into the stream socket the test passed; the test reads
// nothing until it has killed us, so we die inside the send.
int copying_send(seam::session& s) {
  auto ch = s.accept_channel(30s);
  auto m = ch.receive(30s);
  if (m.fds.size() != 1) return fail("no stream socket");
  auto copying = seam::capnp::channel::copying(std::move(m.fds[0]));
  seam::capnp::message_builder b(s);
  seam::test::build_file(b.initRoot<File>(), crash::stream_parts, crash::stream_part_bytes, 5);
  say("at capnp_send");
  copying.send(b, {}, 60s);
  return fail("the whole message went out");
}

// Requests in a loop, each answered with twice its number.
int request_loop(seam::session& s) {
  seam::capnp::channel rpc(s, s.open_channel(crash::transport()));
  for (std::uint64_t i = 1;; ++i) {
    seam::capnp::message_builder b(s, {.first_segment_words = 64});
    b.initRoot<Note>().setNumber(i);
    auto r = rpc.request<Note>(b, 30s);
    if (r.root().getNumber() != 2 * i) return fail("wrong answer");
    if (i == 1) say("at capnp_send");
  }
}

// One-way zero-copy messages as fast as they go; blocks once the test's queue is full.
int send_loop(seam::session& s) {
  seam::capnp::channel ch(s, s.open_channel(crash::transport()));
  for (std::uint64_t i = 0;; ++i) {
    seam::capnp::message_builder b(s, {.first_segment_words = 64});
    auto note = b.initRoot<Note>();
    note.setNumber(i);
    note.setText("message " + std::to_string(i));
    ch.send(b, {}, 60s);
    if (i == 0) say("at capnp_send");
  }
}

// Receives the test's messages as fast as they come, checking their order.
int receive_loop(seam::session& s) {
  seam::capnp::channel ch(s, s.accept_channel(30s));
  for (std::uint64_t i = 0;; ++i) {
    auto r = ch.receive_message(30s);
    if (r.root<Note>().getNumber() != i) return fail("out of order");
    if (i == 0) say("at capnp_send");
  }
}

// ---- while a reader walks a 1 GiB message ---------------------------------------------------

// Walks the message the test sends, again and again (without traversing it again: Cap'n
// Proto's traversal limit would stop a reader that reads 1 GiB many times).
int walk(seam::session& s) {
  seam::capnp::channel ch(s, s.accept_channel(60s));
  auto r = ch.receive_message(120s);
  struct part {
    const std::byte* data;
    std::size_t size;
    std::uint64_t hash;
  };
  std::vector<part> parts;
  for (auto p : r.root<File>().getParts()) {
    parts.push_back(
        {reinterpret_cast<const std::byte*>(p.getData().begin()), p.getData().size(), p.getHash()});
  }
  if (parts.size() != crash::gib_parts) return fail("wrong part count");
  for (std::size_t round = 0;; ++round) {
    for (std::size_t i = 0; i < parts.size(); ++i) {
      if (seam::test::hash_bytes(parts[i].data, parts[i].size) != parts[i].hash) {
        return fail("part " + std::to_string(i) + " corrupt");
      }
      if (round == 0 && i == 0) say("at reader_walk");
    }
  }
}

// Builds the 1 GiB message in our arena and lends it to the test, which walks it.
int lend_gib(seam::session& s) {
  seam::capnp::channel ch(s, s.open_channel(crash::transport()));
  {
    seam::capnp::message_builder b(s);
    seam::test::build_file(b.initRoot<File>(), crash::gib_parts, crash::gib_part_bytes,
                           crash::gib_seed);
    ch.send(b, {}, 60s);
  }
  say("at reader_walk");
  return block();
}

// ---- the new peer of a round trip -----------------------------------------------------------

// Borrows the object the test lends, answers three times its value by zero-copy Cap'n Proto,
// then waits for "done" and for the test to have released our answer.
int round_trip(seam::session& s) {
  auto ch = s.accept_channel(30s);
  auto m = ch.receive(30s);
  std::uint64_t expected = 0;
  if (m.handles.size() != 1 || m.bytes.size() != sizeof expected) return fail("bad request");
  std::memcpy(&expected, m.bytes.data(), sizeof expected);
  std::uint64_t value = 0;
  {
    auto b = s.borrow(m.handles[0].as<std::uint64_t>());
    value = *b;
  }
  if (value != expected) return fail("borrowed the wrong value");
  seam::capnp::channel reply(s, s.open_channel(crash::transport()));
  seam::capnp::message_builder b(s);
  auto note = b.initRoot<Note>();
  note.setNumber(value * crash::round_trip_factor);
  note.setText("round trip");
  reply.send(b);
  if (ch.receive(30s).text() != "done") return fail("no done");
  if (!s.is_open()) return fail("session closed");
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (s.lent_count() != 0) {
    if (std::chrono::steady_clock::now() > deadline) return fail("answer never released");
    std::this_thread::yield();
  }
  return 0;
}

// ---- soak -----------------------------------------------------------------------------------

int soak(seam::session& s) {
  using crash::soak_header;
  using crash::soak_kind;
  auto ch = s.accept_channel(30s);
  bool first_message = true;
  std::uint64_t next_message = 0;
  for (;;) {
    auto m = ch.receive(60s);
    soak_header h{};
    if (m.bytes.size() < sizeof h) return fail("short soak message");
    std::memcpy(&h, m.bytes.data(), sizeof h);
    switch (static_cast<soak_kind>(h.kind)) {
      case soak_kind::lend: {
        if (m.handles.size() != h.count) return fail("handle count");
        std::uint64_t sum = 0;
        for (std::size_t i = 0; i < m.handles.size(); ++i) {
          auto b = s.borrow(m.handles[i].as<std::uint64_t>());
          if (*b != crash::soak_value(h.seq, i)) return fail("wrong lent value");
          sum += *b;
        }  // each borrow is released as it goes; the releases are batched
        std::byte reply[sizeof h + sizeof sum];
        h.kind = static_cast<std::uint32_t>(soak_kind::lend_ack);
        std::memcpy(reply, &h, sizeof h);
        std::memcpy(reply + sizeof h, &sum, sizeof sum);
        ch.send(reply);
        break;
      }
      case soak_kind::message: {
        if (m.bytes.size() != sizeof h + crash::soak_payload) return fail("message size");
        if (!first_message && h.seq != next_message) return fail("message out of order");
        first_message = false;
        next_message = h.seq + 1;
        for (std::size_t i = 0; i < crash::soak_payload; ++i) {
          if (m.bytes[sizeof h + i] != std::byte{crash::soak_byte(h.seq, i)}) {
            return fail("message payload");
          }
        }
        h.kind = static_cast<std::uint32_t>(soak_kind::echo);
        std::memcpy(m.bytes.data(), &h, sizeof h);
        ch.send(m.bytes);
        break;
      }
      case soak_kind::bye:
        return 0;
      default:
        return fail("unknown soak kind");
    }
  }
}

// A reader of the survivor's publication: subscribes once the survivor opened a channel (it
// added this reader by then), holds the current version and waits to be killed.
int reader_hold(seam::session& s) {
  auto go = s.accept_channel(30s);
  seam::published_reader<seam::test::payload> reader(s, "versions");
  auto held = reader.acquire();
  if (!held) return fail("nothing published");
  say("at holding_a_version");
  return block();
}

// A publisher to the survivor: publishes in a loop until killed.
int publisher_loop(seam::session& s) {
  seam::arena a;
  seam::published<seam::test::payload> pub(a, "versions");
  pub.add_reader(s);
  for (std::uint64_t i = 1;; ++i) {
    auto* p = pub.make();
    {
      seam::arena_scope scope{a};
      seam::test::fill(*p, i);
    }
    pub.publish(p);
    // The survivor subscribes once a version is there.
    if (i == 1) s.open_channel();
    if (i == 1000) say("at publishing");
  }
}

int run_client(const std::string& mode, const std::string& app) {
  auto s = seam::session::connect(app, 10s, {.arena_capacity = crash::walk_arena_capacity});
  if (mode == "client-fd") return fd_sent(s);
  if (mode == "lender-fd") return lend_with_fd(s);
  if (mode == "borrower-fd") return fd_unreceived(s);
  if (mode == "client-lends") return lends_both_ways(s);
  if (mode == "lender-lends") return lender_lends(s);
  if (mode == "borrower-lends") return borrower_lends(s);
  if (mode == "client-capnp") return request_loop(s);
  if (mode == "lender-capnp") return send_loop(s);
  if (mode == "borrower-capnp") return receive_loop(s);
  if (mode == "client-walk" || mode == "borrower-walk") return walk(s);
  if (mode == "lender-walk") return lend_gib(s);
  if (mode == "rt-client") return round_trip(s);
  if (mode == "soak") return soak(s);
  if (mode == "reader-hold") return reader_hold(s);
  if (mode == "publisher-loop") return publisher_loop(s);
  if (mode.rfind("writer-", 0) == 0) return seam::test::writer_victim(s, mode);
  return fail("unknown mode " + mode);
}

int run_server(const std::string& mode, const std::string& app) {
  seam::server_options options;
  options.arena_capacity = crash::walk_arena_capacity;
  seam::session_server server{app, options};
  say("listening");
  auto s = server.accept(30s);
  if (mode == "server-fd") return fd_unreceived(s);
  if (mode == "server-lends") return lends_both_ways(s);
  if (mode == "server-capnp") return copying_send(s);
  if (mode == "server-walk") return walk(s);
  if (mode == "rt-server") return round_trip(s);
  return fail("unknown mode " + mode);
}

}  // namespace

int main(int argc, char** argv) {
  // If the test dies, so do we: no orphan holds a gigabyte of shared memory.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (argc < 3) return fail("usage: crash_peer <mode> <app>");
  const std::string mode = argv[1];
  const std::string app = argv[2];
  try {
    if (mode == "server-handshake") return server_handshake(app);
    if (mode == "client-connect") return client_connect(app);
    if (mode == "client-hello") return client_hello(app);
    if (mode.rfind("server-", 0) == 0 || mode == "rt-server") return run_server(mode, app);
    return run_client(mode, app);
  } catch (const std::exception& e) {
    return fail(std::string(e.what()));
  }
}
