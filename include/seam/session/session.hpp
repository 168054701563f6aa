#pragma once
/// \file
/// `seam::session` and `seam::session_server`: two processes, one context, no names to clean
/// up; lending and borrowing of objects in their arenas.

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "seam/arena/arena.hpp"
#include "seam/arena/arena_view.hpp"
#include "seam/base/export.hpp"
#include "seam/base/handle.hpp"
#include "seam/base/unique_fd.hpp"
#include "seam/session/error.hpp"

namespace seam {

// Defined by the channel layer (`seam/channel/channel.hpp`, target `seam::channel`), which
// sits above this one: `session::open_channel` and `accept_channel` are implemented there.
class channel;
struct channel_options;
enum class transport;

namespace detail {
class session_core;
struct borrow_token;
struct session_access;
struct handshake_table;
}  // namespace detail

/// Settings of one side of a session.
struct session_options {
  /// For `connect`: the user id the server runs as; by default the caller's effective uid.
  /// (Server names are per user: `@seam/<uid>/<app>`.)
  uid_t server_uid = static_cast<uid_t>(-1);
  /// The session arena's capacity where RLIMIT_AS allows it: 1 GiB. A server reserves its own
  /// arena and maps its client's for every session: 10,000 sessions at the defaults reserve
  /// 10,000 x (1 + 1) GiB = 20 TiB of the 128 TiB a process has (47 bits); a client with 2,500
  /// sessions 5 TiB. Lend big data from an arena you `share` instead: it is mapped once per
  /// process however many sessions share it.
  static constexpr std::size_t default_arena_capacity = std::size_t{1} << 30;
  /// Address space of the session's own arena (sparse: memory is charged only when touched).
  /// 0 (the default): `default_arena_capacity`, or a sixteenth of what RLIMIT_AS (`ulimit -v`)
  /// leaves, whichever is smaller (at least 8 MiB). What this side lends from its session
  /// arena (rings of channels, messages built there) must fit in it.
  std::size_t arena_capacity = 0;
  /// Largest session arena of the peer that this side maps (its fd's size); a larger one ends
  /// the handshake with `errc::arena_too_large` on both sides. Bounds the address space a peer
  /// can make this side reserve: 10,000 sessions x 4 GiB = 40 TiB at worst.
  std::size_t peer_arena_limit = std::size_t{4} << 30;
  /// Longest wait for the other side's half of the handshake. On a server, each connection's
  /// deadline: a client that says nothing for this long is answered `errc::timed_out` and
  /// dropped, while other handshakes go on.
  std::chrono::milliseconds handshake_timeout{std::chrono::seconds(5)};
  /// Most lends that may be outstanding at once; `lend` fails with `errc::lend_limit` beyond.
  std::size_t max_lends = std::size_t{1} << 20;
};

/// Settings of a server.
struct server_options : session_options {
  /// Users allowed to connect. Empty (with `allowed_gids` empty): only the server's own
  /// effective uid. Checked with `SO_PEERCRED`, which the kernel fills: it cannot be forged.
  std::vector<uid_t> allowed_uids;
  /// Groups whose members (by primary gid) may connect.
  std::vector<gid_t> allowed_gids;
  /// Handshakes in progress at once (connections whose hello has not come yet), in all. Each
  /// holds one descriptor until its hello comes or `handshake_timeout` passes. At the bound, a
  /// new connection is answered at once with `errc::busy` and closed (its `connect` fails with
  /// `errc::busy`; it may try again), and counted in `rejected()`.
  std::size_t max_pending_handshakes = 1024;
  /// Handshakes in progress at once from one user (by `SO_PEERCRED` uid): the same answer at
  /// the bound, so that one user's silent connections cannot take every slot.
  std::size_t max_pending_per_uid = 256;
};

template <class T>
class borrowed;

/// For transports that carry the session's releases in their own messages (the ring channel),
/// not applications. While a carrier is awake (its receiving thread got a message and has not
/// slept since), a borrow that ends queues its release for the carriers instead of the
/// session's socket: a carrier sends the queue ahead of its next message, and the peer's
/// carrier applies it as it receives that message, with no system call and no thread woken.
/// What is queued goes over the socket as before when a carrier goes to sleep or is destroyed,
/// when 256 releases are queued, or when a release finds the oldest one queued 1 ms ago.
/// Thread-safe; keeps the session's core (not the session) alive.
class SEAM_API release_carrier {
 public:
  /// Carries nothing.
  release_carrier() noexcept;
  /// Goes to sleep (`set_awake(false)`).
  ~release_carrier();
  /// Moves the carrier's state, which the moved-from one loses.
  release_carrier(release_carrier&& other) noexcept;
  /// Not assignable: a carrier belongs to one transport.
  release_carrier& operator=(release_carrier&&) = delete;
  /// Awake (a message was received), or about to sleep: then what is queued goes over the
  /// session's socket now. Called by the receiving thread.
  void set_awake(bool awake) noexcept {
    if (awake != m_awake) change_awake(awake);
  }
  /// True if releases are queued (one relaxed load): worth a `take`.
  bool queued() const noexcept {
    return m_queued != nullptr && m_queued->load(std::memory_order_relaxed) != 0;
  }
  /// Takes up to `out.size()` queued releases for a message about to be sent; returns how many.
  std::size_t take(std::span<handle<std::byte>> out) noexcept {
    return queued() ? take_queued(out) : 0;
  }
  /// Applies releases the peer sent in band: false if one names no lend of this session (the
  /// peer is broken or hostile).
  bool apply(std::span<const handle<std::byte>> handles) noexcept;

 private:
  friend class session;
  explicit release_carrier(std::shared_ptr<detail::session_core> core) noexcept;
  void change_awake(bool awake) noexcept;
  std::size_t take_queued(std::span<handle<std::byte>> out) noexcept;
  std::shared_ptr<detail::session_core> m_core;
  const std::atomic<std::size_t>* m_queued = nullptr;  // how many wait in the core's queue
  bool m_awake = false;
};

/// A connection between two processes: each side has its own arena, which the other maps
/// read-only, so each side can lend from its arena and read the other's.
///
/// One thread per process, the session reactor (an epoll loop, started with the first
/// session), reads every session's control messages (releases, channels, shared arenas) and
/// notices each peer's death at once (its socket closes, even on `kill -9`): then every lend to
/// the peer is released and `on_close` runs. Threads do not grow with sessions. Every message
/// from the peer is validated; a bad one closes the session with `errc::protocol_error`.
///
/// Callbacks (`on_close`, a lend's `on_release`, `watch_close` hooks) run on the thread that
/// closes the session or receives the release: the reactor thread when the peer releases over
/// the session, closes, dies or misbehaves; a ring channel's receiving thread when the release
/// came in that channel (see `release_carrier`); the caller's thread on `close()`, on
/// destruction, or `unlend`.
/// On the reactor thread they hold up every other session of the process while they run: keep
/// them short and never wait in them for another session's traffic.
///
/// Thread-safe, movable. Destroying the session closes it, releases what it lent, and frees its
/// arena; `borrowed` objects keep the peer's arena mapped until they go.
class SEAM_API session {
 public:
  /// Timeouts, in milliseconds; negative waits forever.
  using duration = std::chrono::milliseconds;

  /// An empty session.
  session() noexcept;
  /// Move constructor.
  session(session&&) noexcept;
  /// Move assignment.
  session& operator=(session&&) noexcept;
  ~session();

  /// Connects to the server listening as `app` for this user (or `options.server_uid`).
  /// Throws `std::system_error`:
  /// `errc::no_such_server`, `errc::refused`, `errc::version_mismatch`, `errc::timed_out`,
  /// `errc::busy` (the server has its most handshakes pending), `errc::arena_too_large`, and
  /// the limits either side hit: `errc::descriptor_limit`, `errc::out_of_memory`,
  /// `errc::address_space_limit`, `errc::map_count_limit` (when the server hit it, the
  /// exception's message gives the server's errno too). A limit this side hits after the
  /// connection is made is told to the server, whose `last_rejection()` (or the session's
  /// `close_reason()`) names it.
  static session connect(std::string_view app, duration timeout = std::chrono::seconds(5),
                         const session_options& options = {});
  /// As the overload above, reporting errors in `ec` instead of throwing.
  static session connect(std::string_view app, duration timeout, const session_options& options,
                         std::error_code& ec) noexcept;

  /// True until the session is closed by either side or the peer dies.
  bool is_open() const noexcept;
  /// Why the session closed (`errc::peer_closed` when the peer went away); empty while open.
  std::error_code close_reason() const;
  /// Calls `callback(reason)` once when the session closes (at once, on the caller's thread,
  /// if it already has): on the process's session reactor thread if the peer closed, died or
  /// misbehaved, on the closing thread if this side closed.
  void on_close(std::function<void(std::error_code)> callback);
  /// Waits up to `timeout` for the session to close; returns whether it has.
  bool wait_closed(duration timeout) const;
  /// Closes the session now (the peer sees `errc::peer_closed`).
  void close() noexcept;

  /// The peer's process id and user id, as the kernel reported them.
  pid_t peer_pid() const noexcept;
  /// The peer's user id, as the kernel reported it.
  uid_t peer_uid() const noexcept;

  /// This side's session arena: build here what you lend to the peer. Sized by
  /// `session_options::arena_capacity` (1 GiB by default). Its descriptor is closed once the
  /// peer has it (one fd per session, not two): `arena().share()` fails and
  /// `arena().stats().resident` reads 0. Its heap (a jemalloc arena) is made on its first
  /// allocation; a process can have ~4,000 (`errc::heap_limit` beyond).
  seam::arena& arena() const noexcept;
  /// Lets the peer read `a` too (e.g. one large dataset shared by every client). `a` must
  /// outlive the session. Lends may then come from `a`.
  void share(seam::arena& a);
  /// As the overload above, reporting errors in `ec` instead of throwing.
  void share(seam::arena& a, std::error_code& ec) noexcept;
  /// As `share(a)` with `access::read_only`; with `access::read_write` the peer may also attach
  /// to `a` as a writer (`attach`): it can then write every byte of `a` (see
  /// `arena::share_writable`). Lends may come from `a` either way.
  void share(seam::arena& a, access mode);
  /// As `share(a, mode)`, reporting errors in `ec` (`errc::strict_isolation` for a strict
  /// arena shared with `access::read_write`).
  void share(seam::arena& a, access mode, std::error_code& ec) noexcept;
  /// Makes this process a writer of the arena `arena_id` that the peer shared with
  /// `access::read_write` (0: the oldest such arena not attached yet), waiting up to `timeout`
  /// (negative: forever) for the share to arrive. Each share attaches once. Throws
  /// `std::system_error`: `errc::timed_out`, `errc::peer_closed`, and what `arena::attach`
  /// throws. The peer's death is noticed by the arena itself (`arena::collect`, `stats`).
  seam::arena attach(std::uint64_t arena_id = 0, duration timeout = duration(-1));

  /// Opens a new channel to the peer, which receives it with `accept_channel`: by default a
  /// `SOCK_SEQPACKET` socket; `options` choose the transport (e.g. the shared-memory ring).
  /// Implemented by the channel layer (include `seam/channel.hpp`, link `seam::channel`).
  channel open_channel();
  /// Opens a channel with `options` (transport, ring sizes); see the overload above.
  channel open_channel(const channel_options& options);
  /// `open_channel({.transport = t})`, e.g. `open_channel(seam::transport::ring)`.
  channel open_channel(transport t);
  /// As the overload above, reporting errors in `ec` instead of throwing.
  channel open_channel(const channel_options& options, std::error_code& ec) noexcept;
  /// Waits up to `timeout` (negative: forever) for a channel the peer opened. Throws
  /// `errc::timed_out`, `errc::peer_closed`. Implemented by the channel layer.
  channel accept_channel(duration timeout = duration(-1));
  /// As the overload above, reporting errors in `ec` instead of throwing.
  channel accept_channel(duration timeout, std::error_code& ec) noexcept;

  /// For transports (the channel layer), not applications: what a new channel is made of.
  struct channel_offer {
    std::vector<std::byte> setup;  ///< The transport's description, from the peer: untrusted.
    std::vector<unique_fd> fds;    ///< Its descriptors (at least one).
  };
  /// For transports: sends the peer a new channel, `setup` bytes (1 to 256) and `fds` (1 to 16).
  void offer_channel(std::span<const std::byte> setup, std::span<const int> fds,
                     std::error_code& ec) noexcept;
  /// For transports: waits up to `timeout` (negative: forever) for a channel the peer offered.
  /// `errc::timed_out`, `errc::would_block` (zero timeout), `errc::peer_closed`.
  bool take_channel_offer(channel_offer& out, duration timeout, std::error_code& ec) noexcept;
  /// The one check between a handle from the peer and a pointer: the handle names an arena
  /// shared with this session (the peer's, or one of ours handed back), and `size` bytes at its
  /// offset lie inside it, past its header, aligned to `alignment`. Returns the object, or
  /// nullptr with `ec` set (`errc::unknown_arena`, `errc::handle_out_of_range`, …).
  const void* resolve(handle<std::byte> h, std::size_t size, std::size_t alignment,
                      std::error_code& ec) const noexcept;
  /// For transports: calls `hook` once, from the thread that closes the session (at once if
  /// it is closed already), until the returned token is dropped. Hooks must not block.
  std::shared_ptr<void> watch_close(std::function<void()> hook);
  /// For transports: keeps this session's arenas mapped (not the session open) while the
  /// returned pointer lives, so memory of a transport can outlive the `session` object.
  std::shared_ptr<const void> keep_alive() const;
  /// For transports: `lend` for a transport's own memory (a ring the peer reads): the same
  /// lifetime rules, but not counted in `lent_count()` nor against `max_lends`.
  template <class T>
  handle<T> lend_for_transport(T* p, std::function<void()> on_release) {
    return lend_bytes(p, sizeof(T), std::move(on_release), false).template as<T>();
  }
  /// `resolve` as a function object that outlives the session (then it answers
  /// `errc::peer_closed`): what a channel checks each received handle with.
  std::function<std::error_code(const handle<std::byte>&)> handle_checker() const;
  /// `borrow` of `size` bytes aligned to `alignment`, as a function object that outlives the
  /// session (then it answers `errc::peer_closed`): for transports that learn where the peer's
  /// memory is after `open_channel` returned.
  std::function<borrowed<const std::byte>(handle<std::byte>, std::size_t size,
                                          std::size_t alignment, std::error_code&)>
  borrower() const;
  /// For transports that carry releases in their own messages: see `release_carrier`.
  seam::release_carrier release_carrier() const;

  /// Lends `*p` (an object made with `make` in this session's arena or a shared one) to the
  /// peer: the session takes ownership, keeps it alive while the peer borrows it, and destroys
  /// it (`arena::destroy`) once every lend of it was released or the peer died. Send the
  /// handle over a channel; the peer turns it into a `borrowed<const T>` exactly once per lend.
  template <class T>
  handle<T> lend(T* p) {
    return lend(p, [p] {
      if (auto* a = seam::arena::owning(p)) a->destroy(p);
    });
  }
  /// Lends `*p`, calling `on_release` (from any thread, once) instead of destroying it.
  template <class T>
  handle<T> lend(T* p, std::function<void()> on_release) {
    return lend_bytes(p, sizeof(T), std::move(on_release)).template as<T>();
  }
  /// As `lend(p)`, reporting `errc::peer_closed`, `errc::not_in_arena` or `errc::lend_limit`
  /// in `ec` (and returning a null handle) instead of throwing.
  template <class T>
  handle<T> lend(T* p, std::error_code& ec) noexcept {
    return capture_error(ec, [&] { return lend(p); });
  }
  /// The peer's arena `arena_id` as mapped here (read-only), or null if the peer never shared
  /// it. Stays mapped while the returned pointer lives.
  std::shared_ptr<const arena_view> peer_arena(std::uint64_t arena_id) const;
  /// The object named `name` (made by the peer with `make_named<T>`) in the arenas the peer
  /// shares with this session: its session arena first, then those it `share`d, in the order
  /// they arrived; the first arena holding the name answers. nullptr if none holds it (a
  /// `share` reaches this side asynchronously: the peer's own message that the arena is
  /// shared is what to wait for). For one arena, use `peer_arena(id)->find<T>(name)`. The
  /// pointer stays mapped while the session lives; the peer may still destroy the object (see
  /// `seam/arena/named.hpp`). Throws `std::system_error`: `errc::type_mismatch`,
  /// `errc::bad_name`, `errc::corrupt_arena`, `errc::peer_closed` on an empty session.
  template <class T>
  const T* find(std::string_view name) const {
    std::error_code ec;
    const T* p = find<T>(name, ec);
    throw_if(ec, "seam::session::find");
    return p;
  }
  /// As `find`, reporting errors in `ec` (cleared when the name is simply absent).
  template <class T>
  const T* find(std::string_view name, std::error_code& ec) const noexcept {
    return static_cast<const T*>(find_named(name, detail::named_type_of<T>(), ec));
  }
  /// Takes back one lend of `h` that never reached the peer (its send failed), releasing it
  /// as the peer would have.
  template <class T>
  void unlend(handle<T> h) {
    unlend_bytes(h.template as<std::byte>());
  }
  /// Lends outstanding (each `lend` counts until released).
  std::size_t lent_count() const noexcept;

  /// Takes a handle the peer lent: reads the object in place until the returned `borrowed`
  /// (and all its copies) are dropped, then tells the peer (releases are batched). Throws
  /// `errc::unknown_arena` or a handle error if the handle is not valid in the peer's arenas.
  template <class T>
  borrowed<const T> borrow(handle<T> h);
  /// As the overload above, reporting errors in `ec` instead of throwing.
  template <class T>
  borrowed<const T> borrow(handle<T> h, std::error_code& ec) noexcept;
  /// Reads an object of the peer's arenas without the lend protocol (e.g. a dataset the peer
  /// keeps alive anyway). The pointer is valid while the session is.
  template <class T>
  const T* get(handle<T> h) const {
    return static_cast<const T*>(peer_object(h.arena_id, h.offset, sizeof(T), alignof(T)));
  }
  /// `count` consecutive objects of the peer's arenas starting at `h`, checked to lie inside.
  template <class T>
  std::span<const T> get(handle<T> h, std::size_t count) const {
    if (count > SIZE_MAX / sizeof(T))
      throw std::system_error(errc::handle_out_of_range, "seam::session::get");
    const void* p = peer_object(h.arena_id, h.offset, sizeof(T) * count, alignof(T));
    return {static_cast<const T*>(p), count};
  }

 private:
  friend class session_server;
  friend struct detail::session_access;  // publications (session/publication.cpp)
  explicit session(std::shared_ptr<detail::session_core> core) noexcept;
  handle<std::byte> lend_bytes(const void* p, std::size_t size, std::function<void()> release,
                               bool counted = true);
  void unlend_bytes(handle<std::byte> h);
  std::shared_ptr<detail::borrow_token> borrow_bytes(handle<std::byte> h, std::size_t size,
                                                     std::size_t alignment, const void*& object,
                                                     std::error_code& ec) noexcept;
  const void* peer_object(std::uint64_t arena_id, std::uint64_t offset, std::size_t size,
                          std::size_t alignment) const;
  const void* find_named(std::string_view name, const detail::named_type& type,
                         std::error_code& ec) const noexcept;

  std::shared_ptr<detail::session_core> m_core;
};

/// Read access to an object the peer lent, released when the last copy is dropped.
/// Copyable (copies share one release); safe to drop from any thread, even after the session
/// closed. Private memory.
template <class T>
class borrowed {
 public:
  borrowed() noexcept = default;
  /// The object (the borrow must not be empty).
  T& operator*() const noexcept { return *m_object; }
  /// The object (the borrow must not be empty).
  T* operator->() const noexcept { return m_object; }
  /// The object, or nullptr.
  T* get() const noexcept { return m_object; }
  /// True unless empty.
  explicit operator bool() const noexcept { return m_object != nullptr; }
  /// Drops this reference now.
  void reset() noexcept {
    m_token.reset();
    m_object = nullptr;
  }

 private:
  friend class session;
  borrowed(std::shared_ptr<detail::borrow_token> token, T* object) noexcept
      : m_token(std::move(token)), m_object(object) {}
  std::shared_ptr<detail::borrow_token> m_token;
  T* m_object = nullptr;
};

template <class T>
borrowed<const T> session::borrow(handle<T> h) {
  std::error_code ec;
  borrowed<const T> b = borrow(h, ec);
  throw_if(ec, "seam::session::borrow");
  return b;
}

template <class T>
borrowed<const T> session::borrow(handle<T> h, std::error_code& ec) noexcept {
  const void* object = nullptr;
  auto token = borrow_bytes(h.template as<std::byte>(), sizeof(T), alignof(T), object, ec);
  if (ec) return {};
  return borrowed<const T>(std::move(token), static_cast<const T*>(object));
}

/// Listens for sessions as `app` on the abstract Unix socket `@seam/<uid>/<app>`: nothing in
/// the filesystem, nothing to clean up (the name goes with the socket, even on `kill -9`).
/// A second server with the same name in the same user fails with `errc::server_exists`.
///
/// Handshakes run in parallel inside `accept`, each with its own deadline
/// (`handshake_timeout`): a slow or silent client delays no other. Pending handshakes are
/// bounded in all and per user (`max_pending_handshakes`, `max_pending_per_uid`); beyond, new
/// clients are told `errc::busy` at once.
///
/// `accept` is for one thread at a time; sessions it returns are independent of the server.
class SEAM_API session_server {
 public:
  /// Timeouts, in milliseconds.
  using duration = std::chrono::milliseconds;

  /// Listens as `app`. Throws `errc::server_exists`, or the error of socket/bind/listen.
  explicit session_server(std::string_view app, server_options options = {});
  /// Moves the listener and the handshakes in progress.
  session_server(session_server&&) noexcept;
  /// Moves the listener and the handshakes in progress.
  session_server& operator=(session_server&&) noexcept;
  /// Stops listening; handshakes in progress are dropped (their clients see the socket close).
  ~session_server();

  /// Waits up to `timeout` for a client that passes the checks and completes the handshake;
  /// meanwhile every pending handshake progresses. Clients that are refused, break the
  /// handshake, time out or are over the bounds are answered (when possible), dropped and
  /// counted in `rejected()`, and the wait goes on. Throws `errc::timed_out`; and, once per
  /// occurrence, the limit this process hit while accepting or answering a client
  /// (`errc::descriptor_limit`, `errc::out_of_memory`, `errc::address_space_limit`,
  /// `errc::map_count_limit`): that client is told why, and the next `accept` goes on.
  session accept(duration timeout = duration(-1));
  /// As `accept`, reporting errors in `ec`.
  session accept(duration timeout, std::error_code& ec) noexcept;

  /// Connections turned away so far (wrong user, bad handshake, wrong version, busy, timed
  /// out, a limit on either side).
  std::size_t rejected() const noexcept { return m_rejected; }
  /// Why the last connection was turned away (e.g. `errc::busy`, `errc::timed_out`, or the
  /// client's own `errc::descriptor_limit`); empty if none was.
  std::error_code last_rejection() const noexcept;
  /// Handshakes in progress now.
  std::size_t pending() const noexcept;
  /// The listening socket, readable when a client is waiting. Hellos of pending handshakes
  /// arrive on their own sockets: with handshakes pending, call `accept` with a short timeout.
  int native_handle() const noexcept { return m_listener.get(); }

 private:
  std::error_code admit(std::vector<int>& ready) noexcept;
  bool finish(std::size_t i, session& out, std::error_code& ec) noexcept;
  void reject(int fd, std::error_code why) noexcept;

  unique_fd m_listener;
  server_options m_options;
  std::size_t m_rejected = 0;
  std::unique_ptr<detail::handshake_table> m_table;
};

}  // namespace seam
