#pragma once
// The session protocol above the wire: one encoder and one decoder for every control message
// (hello, welcome, refuse, channel, share, release,
// subscribe, subscribed, unsubscribe). The session, the server, the fuzzers and
// the tests that play a hostile peer all use these; nothing else builds or parses a control
// packet. The decoders are pure checks of bytes from the peer.

#include <cstdint>
#include <span>
#include <system_error>
#include <vector>

#include "seam/base/handle.hpp"
#include "seam/base/unique_fd.hpp"
#include "seam/session/error.hpp"
#include "seam/session/wire.hpp"

namespace seam::detail {

inline constexpr std::uint64_t hello_magic = 0x4e4f495353455353;  // "SSESSION"
/// 2: a channel message carries its transport's setup bytes. 3: publications (subscribe,
/// subscribed, unsubscribe) and arenas shared for writing (share_writable).
inline constexpr std::uint32_t protocol_version = 3;
/// Most setup bytes a channel message may carry (its transport's description).
inline constexpr std::size_t max_channel_setup = 256;

/// The body of hello and welcome packets (each also carries the sender's arena fd).
struct hello_body {
  std::uint64_t magic;
  std::uint32_t version;
  std::uint32_t pid;
  std::uint64_t arena_id;
};

/// A control packet ready to send: `fds` are borrowed (the caller keeps them open).
struct packet {
  frame_kind kind{};
  std::vector<handle<std::byte>> handles;
  std::vector<std::byte> bytes;
  std::vector<int> fds;
};

/// Sends `p` on the session socket `fd`, waiting up to `wait` for room.
std::error_code send_packet(int fd, const packet& p, timeout wait) noexcept;

// ---- encoders -------------------------------------------------------------------------------

/// hello (client) or welcome (server): our version, pid and arena, whose read-only fd goes
/// with it.
packet encode_hello(frame_kind kind, std::uint32_t pid, std::uint64_t arena_id, int arena_fd);
/// refuse: why the server turns the client away (or why either side gives up a handshake):
/// a reason `decode_refuse` knows (a `session_errc`, or an arena limit) and the errno behind it.
packet encode_refuse(std::error_code why, int error_number = 0);
/// channel: a new channel, described by its transport's `setup` bytes and descriptors.
packet encode_channel(std::span<const std::byte> setup, std::span<const int> fds);
/// share: another arena the peer may read.
packet encode_share(int arena_fd);
/// share_writable: an arena the peer may attach to as a writer (its fd is read-write).
packet encode_share_writable(int arena_fd);
/// release: handles the sender no longer borrows. At most `max_release_handles`.
packet encode_release(std::span<const handle<std::byte>> handles);
/// Most handles one release packet carries.
inline constexpr std::size_t max_release_handles =
    (max_packet - sizeof(frame_header)) / sizeof(handle<std::byte>);

/// Most slots a reader of a publication may announce (`seam/session/published.hpp`).
inline constexpr std::uint32_t max_reader_slots = 64;
/// The owner's answer to a subscribe.
enum class subscribe_status : std::uint32_t {
  ok = 0,
  not_published = 1,  ///< no publication of this session has that block
  bad_slots = 2,      ///< the slots are not inside an arena the reader shares
  too_many = 3,       ///< the reader's session would have more than `max_reader_slots` slots
};
/// subscribe: the sender reads the publication whose block is `block` (in the receiver's
/// arena) and announces the versions it holds in `count` slots at `slots` (in its own arena).
/// `count` is 1 to `max_reader_slots`.
packet encode_subscribe(handle<std::byte> block, handle<std::byte> slots, std::uint32_t count);
/// subscribed: the owner's answer to the subscribe of `block` and `slots`.
packet encode_subscribed(handle<std::byte> block, handle<std::byte> slots,
                         subscribe_status status);
/// unsubscribe: the sender no longer reads `block` through `slots`.
packet encode_unsubscribe(handle<std::byte> block, handle<std::byte> slots);
/// The error a subscribe status stands for (empty for `ok`, `errc::protocol_error` for a
/// value no owner sends).
std::error_code subscribe_error(std::uint32_t status) noexcept;

// ---- decoders -------------------------------------------------------------------------------

/// Checks a hello (or welcome) and extracts its body. The fd is checked by mapping it.
std::error_code decode_hello(const frame& f, frame_kind expected, hello_body& body) noexcept;
/// Checks a refusal: the reason it gives, one of `is_refusal_reason` (`errc::refused` for
/// anything else), and the errno behind it in `error_number` (0 if none or implausible).
std::error_code decode_refuse(const frame& f, int* error_number = nullptr) noexcept;
/// True for the reasons a refusal may carry: `refused`, `version_mismatch`, `timed_out` (the
/// handshake's deadline), `busy`, `arena_too_large`, and the limits `descriptor_limit`,
/// `out_of_memory`, `address_space_limit`, `map_count_limit`.
bool is_refusal_reason(std::error_code ec) noexcept;

/// A control message on an open session, checked for shape. Refers into the frame it was
/// decoded from (which must outlive it); `fd` is taken out of the frame.
struct control {
  frame_kind kind{};
  /// channel, share, share_writable: the descriptor; channel: the first of `fds`.
  std::vector<unique_fd> fds;
  /// channel: the transport's setup bytes.
  std::span<const std::byte> setup;
  /// release: the handles released (at least one); subscribe, subscribed, unsubscribe: the
  /// publication's block, then the reader's slots.
  std::span<const handle<std::byte>> handles;
  /// subscribe: the number of slots (1 to `max_reader_slots`); subscribed: the status (any
  /// value: see `subscribe_error`).
  std::uint32_t value = 0;
};

/// Checks a control message's kind and the fds, handles and bytes that kind carries, and
/// moves its descriptors into `out`. What the handles name is checked by the session, what a
/// channel's setup says by its transport.
std::error_code decode_control(frame& f, control& out) noexcept;

}  // namespace seam::detail
