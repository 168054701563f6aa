// Fuzzes the framing that every session and channel packet goes through (`decode_frame`), then
// the session's checks on a decoded frame: control messages (`check_control`) and the
// handshake (`decode_hello`).
//
// After each check accepts, the frame is used the way the session uses it (the fd that
// `session_core::dispatch` and `open_peer` take, the handles a release names, the body a hello
// carries), and what the check promised is checked independently. So a check that lets a bad
// shape through ends in an ASan report or a failed SEAM_FUZZ_CHECK, not in silence.
//
// Input: one byte for the number of descriptors that came with the packet, then the packet.
// The packet is the tail of libFuzzer's own buffer, so a read past it is a heap overflow.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <system_error>

#include "fuzz/fuzz_input.hpp"
#include "seam/arena/error.hpp"
#include "session/detail/protocol.hpp"
#include "session/detail/wire.hpp"

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

// What `session_core::dispatch` does with a control message `check_control` accepted.
void use_control(const frame& f) {
  switch (f.kind) {
    case frame_kind::channel:
    case frame_kind::share:
      // dispatch takes fds[0] (a channel end, or an arena to map) and nothing else.
      SEAM_FUZZ_CHECK(f.fds[0].get() == -1);  // the fuzzer's stand-ins are all empty
      SEAM_FUZZ_CHECK(f.fds.size() == 1 && f.handles.empty() && f.bytes.empty());
      return;
    case frame_kind::release: {
      // dispatch looks up every handle in its lend table.
      std::uint64_t sum = 0;
      for (const handle_t& h : f.handles) sum += seam::fuzz::touch(&h, sizeof h);
      SEAM_FUZZ_CHECK(!f.handles.empty() && f.fds.empty() && f.bytes.empty());
      static_cast<void>(sum);
      return;
    }
    default:
      SEAM_FUZZ_CHECK(!"check_control accepted a kind the session does not handle");
  }
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

  if (!seam::detail::check_control(f)) use_control(f);
  check_hello(f, frame_kind::hello);
  check_hello(f, frame_kind::welcome);
  return 0;
}
