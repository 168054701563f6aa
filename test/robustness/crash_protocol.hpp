#pragma once
// What the crash matrix and soak tests and their victim program (crash_peer) agree on: the
// values each side lends, the sizes of the big messages, and the soak's message layout.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "seam/channel/transport.hpp"

namespace seam::test::crash {

/// The environment variable that says which transport the matrix's channels use, set by the
/// test for itself and inherited by every victim it spawns.
inline constexpr const char* transport_variable = "SEAM_CRASH_TRANSPORT";
/// The transport of every channel the test and its victims open: "ring", or the socket.
inline seam::transport transport() {
  const char* t = std::getenv(transport_variable);
  return t != nullptr && std::string_view(t) == "ring" ? seam::transport::ring
                                                        : seam::transport::socket;
}

/// Objects lent at the "lends outstanding" point, by each side.
inline constexpr std::size_t lends = 1000;
/// The value of the i-th object the test lends, and of the one the victim lends: different, so
/// a borrower that read the wrong arena would notice.
inline constexpr std::uint64_t test_value(std::size_t i) { return i * 13 + 5; }
inline constexpr std::uint64_t peer_value(std::size_t i) { return i * 11 + 1; }

/// The 1 GiB Cap'n Proto message a reader walks: 64 parts of 16 MiB (one Data field must stay
/// under 512 MiB, so a big payload is a list of parts).
inline constexpr std::size_t gib_parts = 64;
inline constexpr std::size_t gib_part_bytes = std::size_t{16} << 20;
inline constexpr std::uint64_t gib_seed = 11;

/// The message the copying path is killed in the middle of: 32 MiB, far more than a stream
/// socket buffers, so the sender is still writing it when the receiver starts reading.
inline constexpr std::size_t stream_parts = 512;
inline constexpr std::size_t stream_part_bytes = std::size_t{64} << 10;

/// The value of the round-trip object: the new peer answers three times it.
inline constexpr std::uint64_t round_trip_factor = 3;

// The soak: one channel, messages with this header first.
enum class soak_kind : std::uint32_t {
  lend = 1,      // test -> peer: `count` handles of std::uint64_t, value soak_value(seq, i)
  lend_ack = 2,  // peer -> test: the header back, then the sum of the values (8 bytes)
  message = 3,   // test -> peer: the header, then soak_payload bytes of soak_byte(seq, i)
  echo = 4,      // peer -> test: the message back, kind changed
  bye = 5,       // test -> peer: exit 0
};
struct soak_header {
  std::uint32_t kind;
  std::uint32_t count;
  std::uint64_t seq;
};
inline constexpr std::size_t soak_payload = 48;
inline constexpr std::uint64_t soak_value(std::uint64_t seq, std::size_t i) {
  return (seq * 0x9E3779B97F4A7C15ull) ^ (i * 0xD1B54A32D192ED03ull) ^ 0x5eed;
}
inline constexpr std::uint8_t soak_byte(std::uint64_t seq, std::size_t i) {
  return static_cast<std::uint8_t>(seq * 31 + i * 7);
}

}  // namespace seam::test::crash
