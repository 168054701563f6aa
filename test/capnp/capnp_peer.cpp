// The other process of the Cap'n Proto tests. Usage: capnp_peer <mode> <app> [n]
// Prints progress lines for the test to wait on; exits 0 on success.

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "capnp/detail/segments.hpp"
#include "capnp/file_content.hpp"
#include "seam/seam.hpp"
#include "support/peer_output.hpp"

namespace {

using namespace std::chrono_literals;

using seam::test::fail;
using seam::test::say;

void answer(seam::session& s, seam::capnp::channel& ch, seam::capnp::message_reader& r) {
  const long long checked = seam::test::check_file(r.root<File>());
  seam::capnp::message_builder reply(s);
  auto note = reply.initRoot<Note>();
  note.setText(r.zero_copy() ? "zero-copy" : "copy");
  note.setNumber(static_cast<std::uint64_t>(checked));
  ch.send(reply);
}

// Checks n files by handle, then n files copied over a stream socket the test passes.
int check(seam::session& s, std::uint64_t n) {
  seam::capnp::channel zero_copy(s, s.accept_channel(30s));
  for (std::uint64_t i = 0; i < n; ++i) {
    auto r = zero_copy.receive_message(60s);
    answer(s, zero_copy, r);
  }
  auto fd_channel = s.accept_channel(30s);
  auto m = fd_channel.receive(30s);
  if (m.fds.size() != 1) return fail("no stream socket");
  auto copying = seam::capnp::channel::copying(std::move(m.fds[0]));
  for (std::uint64_t i = 0; i < n; ++i) {
    auto r = copying.receive_message(60s);
    answer(s, copying, r);
  }
  return 0;
}

// Receives one message and holds it until killed.
int hold(seam::session& s) {
  seam::capnp::channel ch(s, s.accept_channel(30s));
  auto r = ch.receive_message(60s);
  say("holding " + std::to_string(r.size_words()));
  char c;
  [[maybe_unused]] ssize_t n = ::read(0, &c, 1);
  return 0;
}

// Sends segment tables that lie, each on its own channel; then one good message.
int forge(seam::session& s) {
  using seam::capnp::detail::segment_ref;
  using seam::capnp::detail::table_header;
  auto& a = s.arena();
  auto* segment = static_cast<std::byte*>(a.allocate_zeroed(64, 8));
  const std::uint64_t good = a.handle_of(segment).offset;
  const std::uint64_t end = a.capacity();
  struct lie {
    std::uint32_t count;
    segment_ref ref;
  };
  const lie lies[] = {
      {0, {good, 8}},                      // no segment at all
      {1u << 30, {good, 8}},               // absurd count
      {1, {end + 4096, 8}},                // segment outside the arena
      {1, {end - 64, 64}},                 // segment running over the arena's end
      {1, {good + 4, 4}},                  // misaligned segment
      {1, {good, 0}},                      // empty segment
      {1, {good, ~std::uint64_t{0} / 4}},  // size that overflows
  };
  for (const auto& l : lies) {
    auto* table =
        static_cast<std::byte*>(a.allocate(sizeof(table_header) + sizeof(segment_ref), 8));
    ::new (table) table_header{l.count, 0};
    std::memcpy(table + sizeof(table_header), &l.ref, sizeof l.ref);
    const auto h = s.lend(table, [] {}).as<std::byte>();
    const std::uint32_t header[4] = {1, 0, 0, 0};  // one-way message, id 0
    auto ch = s.open_channel();
    ch.send(std::as_bytes(std::span(header)), {}, {&h, 1});
    seam::message m;
    std::error_code ec;
    if (ch.receive(m, 30s, ec) || ec != seam::errc::peer_closed) return fail("lie accepted");
  }
  seam::capnp::channel ch(s, s.open_channel());
  seam::capnp::message_builder b(s);
  b.initRoot<Note>().setText("honest");
  ch.send(b);
  ch.receive_message(30s);
  return 0;
}

// Answers two requests in reverse order of urgency: the first one late.
int rpc(seam::session& s) {
  seam::capnp::channel ch(s, s.accept_channel(30s));
  auto first = ch.receive_request(30s);
  auto second = ch.receive_request(30s);
  for (auto* r : {&first, &second}) {
    seam::capnp::message_builder b(s);
    auto note = b.initRoot<Note>();
    note.setNumber(r->message.root<Note>().getNumber() * 10);
    ch.reply(*r, b);
  }
  s.wait_closed(30s);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return fail("usage: capnp_peer <mode> <app> [n]");
  const std::string mode = argv[1];
  const std::uint64_t n = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 0;
  try {
    auto s = seam::session::connect(argv[2], 10s);
    if (mode == "check") return check(s, n);
    if (mode == "hold") return hold(s);
    if (mode == "forge") return forge(s);
    if (mode == "rpc") return rpc(s);
    return fail("unknown mode " + mode);
  } catch (const std::exception& e) {
    return fail(e.what());
  }
}
