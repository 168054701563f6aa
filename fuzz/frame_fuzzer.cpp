// Fuzzes the framing that every session and channel packet goes through (`decode_frame`), then
// the session protocol's decoders on a decoded frame: control messages (`decode_control`,
// publications' subscribe, subscribed and unsubscribe included), the
// handshake (`decode_hello`) and refusals (`decode_refuse`).
//
// What each decoder accepts is checked against what it promises (the fds, setup bytes and
// handles of a control message, the body of a hello), reading every byte it hands out, and is
// then encoded again with the protocol module's encoder for that kind: the packet must come out
// identical. So a decoder that lets a bad shape through, or disagrees with its encoder, ends in
// an ASan report or a failed SEAM_FUZZ_CHECK, not in silence.
//
// Input: one byte for the number of descriptors that came with the packet, then the packet.
// The packet is the tail of libFuzzer's own buffer, so a read past it is a heap overflow.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <system_error>
#include <vector>

#include "fuzz_input.hpp"
#include "seam/session/error.hpp"
#include "seam/session/wire.hpp"
#include "session/detail/protocol.hpp"

namespace {

using seam::detail::frame;
using seam::detail::frame_header;
using seam::detail::frame_kind;
using handle_t = seam::handle<std::byte>;

// `decode_frame` promises exactly what the header announced, copied faithfully.
void check_decoded(std::span<const std::byte> packet, std::size_t fds, const frame& f) {
  SEAM_FUZZ_CHECK(packet.size() >= sizeof(frame_header));
  frame_header header;
  std::memcpy(&header, packet.data(), sizeof header);
  SEAM_FUZZ_CHECK(header.fds == fds);
  SEAM_FUZZ_CHECK(static_cast<std::uint32_t>(f.kind) == header.kind);
  SEAM_FUZZ_CHECK(f.handles.size() == header.handles);
  SEAM_FUZZ_CHECK(f.bytes.size() == header.bytes);
  SEAM_FUZZ_CHECK(sizeof header + f.handles.size() * sizeof(handle_t) + f.bytes.size() ==
                  packet.size());
  const std::byte* at = packet.data() + sizeof header;
  for (const handle_t& h : f.handles) {
    handle_t expected;
    std::memcpy(&expected, at, sizeof expected);
    SEAM_FUZZ_CHECK(h == expected);
    at += sizeof expected;
  }
  if (!f.bytes.empty()) SEAM_FUZZ_CHECK(std::memcmp(f.bytes.data(), at, f.bytes.size()) == 0);
}

// The bytes `p` would put on the wire (without its fds): header, handles, bytes.
std::vector<std::byte> wire_bytes(const seam::detail::packet& p) {
  const frame_header header{
      static_cast<std::uint32_t>(p.kind), static_cast<std::uint32_t>(p.handles.size()),
      static_cast<std::uint32_t>(p.bytes.size()), static_cast<std::uint32_t>(p.fds.size())};
  std::vector<std::byte> out(sizeof header + p.handles.size() * sizeof(handle_t) + p.bytes.size());
  std::memcpy(out.data(), &header, sizeof header);
  if (!p.handles.empty()) {
    std::memcpy(out.data() + sizeof header, p.handles.data(), p.handles.size() * sizeof(handle_t));
  }
  if (!p.bytes.empty()) {
    std::memcpy(out.data() + sizeof header + p.handles.size() * sizeof(handle_t), p.bytes.data(),
                p.bytes.size());
  }
  return out;
}

// What `decode_control` promises about a control message it accepts, and that the message's
// encoder gives back the very packet.
void check_control(std::span<const std::byte> packet, frame f) {
  const std::size_t fds = f.fds.size();
  seam::detail::control c;
  if (seam::detail::decode_control(f, c)) return;
  SEAM_FUZZ_CHECK(c.kind == f.kind);
  SEAM_FUZZ_CHECK(c.fds.size() == fds);
  for (const auto& fd : c.fds) SEAM_FUZZ_CHECK(fd.get() == -1);  // the fuzzer's stand-ins
  std::uint64_t sum = 0;
  for (const handle_t& h : c.handles) sum += seam::fuzz::touch(&h, sizeof h);
  if (!c.setup.empty()) sum += seam::fuzz::touch(c.setup.data(), c.setup.size());
  static_cast<void>(sum);
  const std::vector<int> raw(fds, -1);
  seam::detail::packet again;
  switch (c.kind) {
    case frame_kind::channel:
      SEAM_FUZZ_CHECK(!c.fds.empty() && c.fds.size() <= seam::detail::max_fds);
      SEAM_FUZZ_CHECK(!c.setup.empty() && c.setup.size() <= seam::detail::max_channel_setup);
      SEAM_FUZZ_CHECK(c.handles.empty());
      again = seam::detail::encode_channel(c.setup, raw);
      break;
    case frame_kind::share:
      SEAM_FUZZ_CHECK(c.fds.size() == 1 && c.setup.empty() && c.handles.empty());
      again = seam::detail::encode_share(-1);
      break;
    case frame_kind::share_writable:
      SEAM_FUZZ_CHECK(c.fds.size() == 1 && c.setup.empty() && c.handles.empty());
      again = seam::detail::encode_share_writable(-1);
      break;
    case frame_kind::release:
      SEAM_FUZZ_CHECK(c.fds.empty() && c.setup.empty() && !c.handles.empty());
      SEAM_FUZZ_CHECK(c.handles.size() <= seam::detail::max_release_handles);
      again = seam::detail::encode_release(c.handles);
      break;
    case frame_kind::subscribe:
      SEAM_FUZZ_CHECK(c.fds.empty() && c.setup.empty() && c.handles.size() == 2);
      SEAM_FUZZ_CHECK(c.value >= 1 && c.value <= seam::detail::max_reader_slots);
      again = seam::detail::encode_subscribe(c.handles[0], c.handles[1], c.value);
      break;
    case frame_kind::subscribed: {
      SEAM_FUZZ_CHECK(c.fds.empty() && c.setup.empty() && c.handles.size() == 2);
      // Any status decodes; a value no owner sends is a protocol error, never a success.
      const std::error_code status = seam::detail::subscribe_error(c.value);
      SEAM_FUZZ_CHECK(!status == (c.value == 0));
      again = seam::detail::encode_subscribed(c.handles[0], c.handles[1],
                                              static_cast<seam::detail::subscribe_status>(c.value));
      break;
    }
    case frame_kind::unsubscribe:
      SEAM_FUZZ_CHECK(c.fds.empty() && c.setup.empty() && c.handles.size() == 2);
      again = seam::detail::encode_unsubscribe(c.handles[0], c.handles[1]);
      break;
    default:
      SEAM_FUZZ_CHECK(!"decode_control accepted a kind the session does not handle");
  }
  const auto bytes = wire_bytes(again);
  SEAM_FUZZ_CHECK(bytes.size() == packet.size());
  SEAM_FUZZ_CHECK(std::memcmp(bytes.data(), packet.data(), bytes.size()) == 0);
}

// What the handshake (`open_peer` in session/server.cpp) does with a hello or welcome.
void check_hello(const frame& f, frame_kind expected) {
  seam::detail::hello_body body{};
  const std::error_code ec = seam::detail::decode_hello(f, expected, body);
  if (ec && ec != seam::errc::version_mismatch) {
    SEAM_FUZZ_CHECK(ec == seam::errc::protocol_error);
    return;
  }
  // The body was read out of the frame's bytes: they must have held exactly one.
  SEAM_FUZZ_CHECK(f.bytes.size() == sizeof body);
  SEAM_FUZZ_CHECK(std::memcmp(f.bytes.data(), &body, sizeof body) == 0);
  SEAM_FUZZ_CHECK(f.kind == expected && f.handles.empty());
  SEAM_FUZZ_CHECK(body.magic == seam::detail::hello_magic);
  SEAM_FUZZ_CHECK((body.version == seam::detail::protocol_version) == !ec);
  if (!ec) SEAM_FUZZ_CHECK(f.fds[0].get() == -1);  // open_peer maps fds[0]
  SEAM_FUZZ_CHECK(f.fds.size() == 1);
  if (!ec) {
    // The encoder of the same hello gives back the same bytes.
    const auto again =
        wire_bytes(seam::detail::encode_hello(expected, body.pid, body.arena_id, -1));
    SEAM_FUZZ_CHECK(again.size() == sizeof(frame_header) + f.bytes.size());
    SEAM_FUZZ_CHECK(
        std::memcmp(again.data() + sizeof(frame_header), f.bytes.data(), f.bytes.size()) == 0);
  }
}

// A refusal always decodes to one of the reasons a client reports, with a plausible errno.
void check_refuse(const frame& f) {
  int error_number = -1;
  const std::error_code ec = seam::detail::decode_refuse(f, &error_number);
  SEAM_FUZZ_CHECK(seam::detail::is_refusal_reason(ec));
  SEAM_FUZZ_CHECK(error_number >= 0 && error_number < 4096);
  if (ec != seam::errc::refused) {
    const auto again = wire_bytes(seam::detail::encode_refuse(ec, error_number));
    SEAM_FUZZ_CHECK(f.bytes.size() == 4 || f.bytes.size() == again.size() - sizeof(frame_header));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // Up to one more descriptor than a packet may carry: decode_frame itself does not bound it.
  const std::size_t fds = data[0] % (seam::detail::max_fds + 2);
  const std::span<const std::byte> packet{reinterpret_cast<const std::byte*>(data + 1), size - 1};

  frame f;
  if (const std::error_code ec = seam::detail::decode_frame(packet, fds, f)) {
    SEAM_FUZZ_CHECK(ec == seam::errc::protocol_error);
    return 0;
  }
  check_decoded(packet, fds, f);
  // receive_frame owns the descriptors that came with the packet; empty stand-ins will do.
  f.fds.resize(fds);

  check_hello(f, frame_kind::hello);
  check_hello(f, frame_kind::welcome);
  check_refuse(f);
  check_control(packet, std::move(f));
  return 0;
}
