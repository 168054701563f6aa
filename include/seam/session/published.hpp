#pragma once
/// \file
/// `seam::published<T>`, `seam::published_reader<T>` and `seam::snapshot<T>`: one process
/// publishes whole versions of a structure, readers in other processes read a version
/// consistently for as long as they hold it, and each version is destroyed once no reader
/// holds it.
///
/// Why: a reader that walks a map in a view while its owner changes it can follow a
/// half-written link (a view is memory-safe, not a consistent snapshot). The safe pattern is
/// never to change what readers may be reading: the owner builds the next version beside the
/// current one (a copy, or new nodes that share nothing mutable), publishes it with one atomic
/// store, and frees an old version only when no reader holds it.
///
/// How (hazard pointers across processes; each side writes only its own memory):
/// - The owner's publication block, in the owner's arena (readers map it read-only), holds
///   the offset of the current version (`current`).
/// - Each reader has `slots` announcement words in ITS session arena (the owner maps it
///   read-only). Acquire: the reader takes a free slot, stores `current` into it, reads
///   `current` again, and retries until both agree; then it checks the offset like any handle
///   (arena, bounds, alignment: `arena_view::get`) and reads the version. Release stores 0.
///   Both are a few atomic instructions in this process's memory: no system call, no message.
/// - Publishing stores the new offset into `current`, moves the old version to a retired
///   list, and destroys every retired version that no reader's slot names. (The stores and the
///   loads on both sides are sequentially consistent: a reader whose second read still saw a
///   version announced it before the owner replaced it, so the owner's later scan sees it.)
/// - A reader's slots become known to the owner by a `subscribe` message over the session; the
///   reader acquires nothing before the owner's answer, so the owner never misses a slot. When
///   the reader's session closes (its death included: the socket closes even on `kill -9`),
///   the owner forgets its slots at once, from the session reactor thread, and destroys the
///   versions only it held.
///
/// What a lying reader can do (its slots are its own memory: they may hold anything). The
/// owner only compares slot words with the offsets of its retired versions; it never follows
/// them. So garbage can neither crash the owner nor free a version early (another reader's
/// slots are scanned independently, and a retired version is freed only if NO slot names it).
/// Worst case: each of its slot words pins one retired version, and a session has at most 64
/// slots per publication (`max_slots`, all its subscriptions together: more is refused with
/// `errc::lend_limit`): at most 64 versions pinned, visible in `published::stats().retained`,
/// and released when its session closes. It can also corrupt its own reads, no one else's.
///
/// What a reader must not assume of the owner: the `current` offset is read from the owner's
/// memory and checked like any handle before use; the version's contents (e.g. a map's links)
/// are the owner's data, as with any view.

#include <atomic>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

#include "seam/arena/arena.hpp"
#include "seam/arena/arena_view.hpp"
#include "seam/base/export.hpp"
#include "seam/base/handle.hpp"
#include "seam/session/error.hpp"
#include "seam/session/session.hpp"

namespace seam {

namespace detail {

class publication_state;
class subscription_state;

/// "SPUBLISH": the first word of a publication block.
inline constexpr std::uint64_t publication_magic = 0x48534942'4c425550ull;

/// The shared part of a publication, in the owner's arena; readers map it read-only and check
/// every word they use.
struct publication_header {
  /// Made in the arena whose id is `arena_id` and mapping starts at `base`: the block names
  /// itself before its name is visible to any reader.
  publication_header(std::uint64_t arena_id, const std::byte* base) noexcept
      : self{arena_id,
             static_cast<std::uint64_t>(reinterpret_cast<const std::byte*>(this) - base)} {}

  std::uint64_t magic = publication_magic;  ///< `publication_magic`.
  /// Where this block is, as the owner names it: a reader checks that it resolves to the block
  /// it found, and sends it back in `subscribe`.
  handle<std::byte> self;
  /// Offset of the current version's node in the arena; 0 when none is published.
  std::atomic<std::uint64_t> current{0};
};

/// The block as a type of its own per `T`, so that a reader's lookup by name checks `T`'s type
/// fingerprint (`seam/arena/type_fingerprint.hpp`).
template <class T>
struct publication_block : publication_header {
  using publication_header::publication_header;
};

/// One version in the owner's arena: its number, then the `T` (constructed in place, so that
/// the node's layout, and the offset from the `T` back to it, is standard).
template <class T>
struct version_node {
  std::uint64_t number = 0;                 ///< 1, 2, … in publishing order.
  alignas(T) std::byte storage[sizeof(T)];  ///< The `T`.

  /// The `T`.
  T* value() noexcept { return std::launder(reinterpret_cast<T*>(storage)); }
  /// The `T`.
  const T* value() const noexcept { return std::launder(reinterpret_cast<const T*>(storage)); }
  /// The node of the `T` at `p`.
  static version_node* of(T* p) noexcept {
    return reinterpret_cast<version_node*>(reinterpret_cast<std::byte*>(p) -
                                           offsetof(version_node, storage));
  }
};

/// A reader's announcements, in its session arena (the owner maps it read-only): each word is
/// the offset of the version node the reader holds through that slot, 0 for none.
struct reader_slots {
  static constexpr std::size_t capacity = 64;   ///< Most slots of one subscription.
  std::atomic<std::uint64_t> held[capacity]{};  ///< Offsets of the versions held, 0: none.
};

/// What `published_reader::acquire` needs, in the reader's private memory. Owned by the
/// subscription; its address is stable for the subscription's life.
struct reader_path {
  const std::atomic<std::uint64_t>* current = nullptr;  ///< In the owner's arena (read-only).
  std::atomic<std::uint64_t>* slots = nullptr;          ///< In this process's session arena.
  const arena_view* view = nullptr;                     ///< The owner's arena, kept mapped.
  std::uint64_t arena_id = 0;                           ///< The owner's arena's id.
  std::uint64_t all = 0;                                ///< A bit per slot.
  std::atomic<std::uint64_t> free{0};  ///< Bit i: slot i is unused in this process.
  std::atomic<bool> open{true};        ///< False once the session closed: the owner forgot us.

  /// Takes a free slot: its index, or -1 if every slot is in use.
  int claim() noexcept {
    std::uint64_t bits = free.load(std::memory_order_relaxed);
    while (bits != 0) {
      const int i = std::countr_zero(bits);
      if (free.compare_exchange_weak(bits, bits & ~(std::uint64_t{1} << i),
                                     std::memory_order_acquire, std::memory_order_relaxed)) {
        return i;
      }
    }
    return -1;
  }
  /// Announces nothing in slot `i` any more and gives it back.
  void release(int i) noexcept {
    // Release order: this process's reads of the version happen before the owner, which
    // loads the slot, can see it empty and free the version.
    slots[i].store(0, std::memory_order_release);
    free.fetch_or(std::uint64_t{1} << i, std::memory_order_release);
  }
  /// The hazard-pointer loop: the offset of the version now announced in slot `i` (0: none).
  std::uint64_t announce(int i) noexcept {
    std::uint64_t offset = current->load(std::memory_order_acquire);
    while (offset != 0) {
      slots[i].store(offset, std::memory_order_seq_cst);
      const std::uint64_t again = current->load(std::memory_order_seq_cst);
      if (again == offset) break;
      offset = again;
    }
    return offset;
  }
};

// The non-template halves (session/publication.cpp).
/// Destroys the version node at `node` of the arena.
using destroy_version_fn = void (*)(seam::arena&, void* node) noexcept;
/// The owner's private state of the publication whose block is `block`.
SEAM_API std::shared_ptr<publication_state> open_publication(seam::arena& a, publication_header* block,
                                                    destroy_version_fn destroy);
/// `published::add_reader`.
SEAM_API void add_publication_reader(publication_state& p, session& s, std::error_code& ec) noexcept;
/// Makes the node at `offset` current (0: none), retires the previous one, reclaims.
SEAM_API void publish_version(publication_state& p, std::uint64_t offset) noexcept;
/// `published::collect`.
SEAM_API std::size_t collect_versions(publication_state& p) noexcept;
/// Withdraws the publication (the owner's destructor).
SEAM_API void close_publication(publication_state& p) noexcept;
/// Finds a publication's block by name, its type checked.
using lookup_fn = const publication_header* (*)(const session&, std::string_view,
                                                std::error_code&) noexcept;
/// Subscribes to the publication `name` of the peer of `s`; sets `path` on success.
SEAM_API std::shared_ptr<subscription_state> subscribe(session& s, std::string_view name, lookup_fn lookup,
                                              std::size_t slots, std::chrono::milliseconds timeout,
                                              reader_path*& path, std::error_code& ec) noexcept;

}  // namespace detail

/// What an owner's publication holds now.
struct published_stats {
  std::uint64_t version = 0;  ///< Number of the current version (0: nothing published).
  std::size_t retained = 0;   ///< Replaced versions not yet destroyed: some reader holds them.
  std::size_t readers = 0;    ///< Subscriptions of readers (one per `published_reader`).
};

namespace detail {
/// `published::stats`.
SEAM_API published_stats publication_stats(const publication_state& p) noexcept;
}  // namespace detail

/// The owner side of a publication: versions of a `T` in an arena, published one after the
/// other to readers in other processes (see the file comment for the protocol).
///
/// Use: `seam::published<table> pub(arena, "prices"); pub.add_reader(session);` then, for each
/// update, `table* next = pub.make(*pub.current()); next->insert(…); pub.publish(next);`.
/// A version must not change once published: readers read it concurrently. The `T` is built
/// with `arena` as the current arena, so its containers allocate there.
///
/// One writer: `make`, `publish`, `discard`, `reset` and `current` are for one thread at a
/// time (any thread of the owner, but not concurrently). `collect`, `stats` and `add_reader`
/// may be called from any thread at any time, and the sessions' threads destroy versions too
/// (when a reader leaves or dies). Lives in the owner's private memory; not movable (the
/// sessions refer to it).
/// Destroying it withdraws the publication: versions no reader holds are destroyed, versions
/// still held stay in the arena (readers keep reading them) until the arena is destroyed, and
/// so does the block (and its name) if a reader is still subscribed.
template <class T>
class published {
 public:
  /// Makes the publication's block in `a` under `name` (a named object: see
  /// `seam/arena/named.hpp`). Throws like `arena::make_named` (`errc::name_exists`, …).
  published(seam::arena& a, std::string_view name) : m_arena(a), m_name(name) {
    static_assert(detail::require_shm_safe<T>::value);
    m_block = a.make_named<detail::publication_block<T>>(name, a.id(), a.base());
    try {
      m_state = detail::open_publication(a, m_block, &destroy_node);
    } catch (...) {
      a.destroy_named<detail::publication_block<T>>(name);
      throw;
    }
  }
  published(const published&) = delete;
  published& operator=(const published&) = delete;
  ~published() {
    // Subscribed readers keep reading the block (they see no current version any more): it
    // is freed only if none is left, else it stays, named, until the arena goes.
    const bool unread = detail::publication_stats(*m_state).readers == 0;
    detail::close_publication(*m_state);
    std::error_code ec;
    if (unread) m_arena.destroy_named<detail::publication_block<T>>(m_name, ec);
  }

  /// Lets the reader at the other end of `s` subscribe: shares the arena with it (as
  /// `session::share`), and forgets its slots when `s` closes. Call it before telling the
  /// reader to subscribe (a subscription that comes first is refused: `errc::not_published`).
  void add_reader(session& s) {
    std::error_code ec;
    add_reader(s, ec);
    throw_if(ec, "seam::published::add_reader");
  }
  /// As `add_reader`, reporting errors (`errc::peer_closed`, …) in `ec`.
  void add_reader(session& s, std::error_code& ec) noexcept {
    detail::add_publication_reader(*m_state, s, ec);
  }

  /// Constructs the next version from `args` in the arena (with the arena as the current
  /// arena), unpublished: change it as you like, then `publish` it (or `discard` it).
  /// Throws `std::bad_alloc` when the arena is full, and what `T`'s constructor throws.
  template <class... Args>
  T* make(Args&&... args) {
    auto* node = static_cast<detail::version_node<T>*>(
        m_arena.allocate(sizeof(detail::version_node<T>), alignof(detail::version_node<T>)));
    ::new (node) detail::version_node<T>();
    try {
      arena_scope scope{m_arena};
      ::new (node->storage) T(std::forward<Args>(args)...);
    } catch (...) {
      m_arena.deallocate(node, sizeof *node, alignof(detail::version_node<T>));
      throw;
    }
    return node->value();
  }
  /// Destroys a version made by `make` that was never published.
  void discard(T* next) noexcept { destroy_node(m_arena, detail::version_node<T>::of(next)); }
  /// Makes `next` (from `make`, not published before) the current version: readers that
  /// acquire from now on get it. The previous version is destroyed at once if no reader holds
  /// it, else as soon as none does. Returns `next`'s version number (1, 2, …).
  std::uint64_t publish(T* next) noexcept {
    auto* node = detail::version_node<T>::of(next);
    SEAM_ASSERT(m_arena.contains(node, sizeof *node), "published: not a version of this arena");
    node->number = ++m_number;
    detail::publish_version(
        *m_state, static_cast<std::uint64_t>(reinterpret_cast<std::byte*>(node) - m_arena.base()));
    m_current = next;
    return node->number;
  }
  /// Withdraws the current version (readers acquire nothing until the next `publish`).
  void reset() noexcept {
    detail::publish_version(*m_state, 0);
    m_current = nullptr;
  }
  /// The current version (nullptr if none): the owner may read it, e.g. to copy it into the
  /// next one, but must not change it.
  const T* current() const noexcept { return m_current; }
  /// Destroys the replaced versions that no reader holds any more; returns how many. Publishing
  /// does this too; call it to free memory when no new version comes.
  std::size_t collect() noexcept { return detail::collect_versions(*m_state); }
  /// The current version's number, the versions retained for readers, the subscriptions.
  published_stats stats() const noexcept { return detail::publication_stats(*m_state); }

 private:
  static void destroy_node(seam::arena& a, void* p) noexcept {
    auto* node = static_cast<detail::version_node<T>*>(p);
    node->value()->~T();
    node->~version_node();
    a.deallocate(node, sizeof *node, alignof(detail::version_node<T>));
  }

  seam::arena& m_arena;
  std::string m_name;
  detail::publication_block<T>* m_block = nullptr;
  std::shared_ptr<detail::publication_state> m_state;
  std::uint64_t m_number = 0;
  T* m_current = nullptr;
};

template <class T>
class published_reader;

/// One version of a publication, held by a reader: readable, and unchanged, until the snapshot
/// is dropped. Move-only; private memory of the reader. Must not outlive its
/// `published_reader`. Holding it costs the owner the version's memory (and a slot here).
template <class T>
class snapshot {
 public:
  /// Holds nothing.
  snapshot() noexcept = default;
  /// Takes over what `o` holds.
  snapshot(snapshot&& o) noexcept
      : m_path(std::exchange(o.m_path, nullptr)),
        m_slot(o.m_slot),
        m_value(std::exchange(o.m_value, nullptr)),
        m_version(std::exchange(o.m_version, 0)) {}
  /// Lets go of what this holds, then takes over what `o` holds.
  snapshot& operator=(snapshot&& o) noexcept {
    if (this != &o) {
      reset();
      m_path = std::exchange(o.m_path, nullptr);
      m_slot = o.m_slot;
      m_value = std::exchange(o.m_value, nullptr);
      m_version = std::exchange(o.m_version, 0);
    }
    return *this;
  }
  /// Lets go of the version.
  ~snapshot() { reset(); }

  /// The version's object (the snapshot must hold one).
  const T& operator*() const noexcept { return *m_value; }
  /// The version's object (the snapshot must hold one).
  const T* operator->() const noexcept { return m_value; }
  /// The version's object, or nullptr.
  const T* get() const noexcept { return m_value; }
  /// True when it holds a version.
  explicit operator bool() const noexcept { return m_value != nullptr; }
  /// The version's number as the owner wrote it (1, 2, … in publishing order); 0 if empty.
  std::uint64_t version() const noexcept { return m_version; }
  /// Lets go of the version now (no system call).
  void reset() noexcept {
    if (m_path != nullptr) m_path->release(m_slot);
    m_path = nullptr;
    m_value = nullptr;
    m_version = 0;
  }

 private:
  friend class published_reader<T>;
  snapshot(detail::reader_path* path, int slot, const detail::version_node<T>* node) noexcept
      : m_path(path), m_slot(slot), m_value(node->value()), m_version(node->number) {}

  detail::reader_path* m_path = nullptr;
  int m_slot = 0;
  const T* m_value = nullptr;
  std::uint64_t m_version = 0;
};

/// Settings of a reader.
struct published_reader_options {
  /// Versions this reader may hold at once (1 to `max_slots`): one per live `snapshot`.
  std::size_t slots = 8;
  /// Most `slots`, and most slots of all the readers of one session on one publication
  /// (subscribing beyond fails with `errc::lend_limit`): the most versions a session can pin.
  static constexpr std::size_t max_slots = detail::reader_slots::capacity;
  /// Longest wait for the owner's answer to the subscription.
  std::chrono::milliseconds timeout{std::chrono::seconds(5)};
};

/// The reader side of a publication that the peer of a session makes with
/// `published<T>(arena, name)` and `add_reader(session)`.
///
/// `acquire` returns the current version as a `snapshot`; it reads the owner's arena through a
/// read-only view and announces what it holds in this process's session arena: no system call,
/// no message. If the owner dies, the versions held stay readable; acquiring fails with
/// `errc::peer_closed` once the session closed.
///
/// Thread-safe: any thread may `acquire` (each snapshot takes one of `slots` slots). Private
/// memory; movable; every snapshot must be dropped before the reader (checked by
/// `SEAM_ASSERT`). The session must stay open while subscribing; afterwards the reader keeps
/// what it needs mapped.
template <class T>
class published_reader {
 public:
  /// Subscribes to the publication the peer made under `name`. Throws `std::system_error`:
  /// `errc::not_published` (no such name, or the owner did not `add_reader` this session),
  /// `errc::type_mismatch` (published as another type), `errc::lend_limit` (the readers of
  /// this session would have more than `max_slots` slots), `errc::corrupt_arena`,
  /// `errc::timed_out`, `errc::peer_closed`, `std::errc::invalid_argument` (bad `slots`).
  published_reader(session& s, std::string_view name,
                   const published_reader_options& options = {}) {
    std::error_code ec;
    open(s, name, options, ec);
    throw_if(ec, "seam::published_reader");
  }
  /// As the throwing constructor; on failure `ec` is set and the reader is empty.
  published_reader(session& s, std::string_view name, const published_reader_options& options,
                   std::error_code& ec) noexcept {
    open(s, name, options, ec);
  }
  /// Takes over `o`'s subscription (`o` is left empty).
  published_reader(published_reader&& o) noexcept
      : m_state(std::move(o.m_state)), m_path(std::exchange(o.m_path, nullptr)) {}
  /// Ends this subscription and takes over `o`'s.
  published_reader& operator=(published_reader&& o) noexcept {
    m_state = std::move(o.m_state);
    m_path = std::exchange(o.m_path, nullptr);
    return *this;
  }
  /// Ends the subscription (the owner forgets its slots) and frees them.
  ~published_reader() = default;

  /// True when subscribed.
  explicit operator bool() const noexcept { return m_path != nullptr; }

  /// The current version (an empty snapshot if none is published). Throws
  /// `std::system_error`: `errc::peer_closed` once the session closed (snapshots held then
  /// stay readable if the owner died; if the owner closed the session, it no longer protects
  /// them: their bytes may change, as any view's), `errc::lend_limit` when this reader already
  /// holds `slots` versions,
  /// a handle error (`errc::handle_out_of_range`, …) if the owner's `current` word is not a
  /// valid place for a version.
  snapshot<T> acquire() {
    std::error_code ec;
    snapshot<T> s = acquire(ec);
    throw_if(ec, "seam::published_reader::acquire");
    return s;
  }
  /// As `acquire`, reporting errors in `ec`.
  snapshot<T> acquire(std::error_code& ec) noexcept {
    // Once the session closed, the owner no longer reads this reader's slots.
    if (m_path == nullptr || !m_path->open.load(std::memory_order_acquire)) {
      return ec = errc::peer_closed, snapshot<T>();
    }
    const int slot = m_path->claim();
    if (slot < 0) return ec = errc::lend_limit, snapshot<T>();
    const std::uint64_t offset = m_path->announce(slot);
    if (offset == 0) {
      m_path->release(slot);
      ec.clear();
      return {};
    }
    // The owner's word is input: the same checks as any handle before it becomes a pointer.
    const auto* node =
        m_path->view->get(handle<detail::version_node<T>>{m_path->arena_id, offset}, ec);
    if (node == nullptr) {
      m_path->release(slot);
      return {};
    }
    return snapshot<T>(m_path, slot, node);
  }

 private:
  void open(session& s, std::string_view name, const published_reader_options& options,
            std::error_code& ec) noexcept {
    m_state = detail::subscribe(s, name, &lookup, options.slots, options.timeout, m_path, ec);
    if (ec) m_path = nullptr;
  }
  // The block by name in the peer's arenas, its type checked as `publication_block<T>`.
  static const detail::publication_header* lookup(const session& s, std::string_view name,
                                                  std::error_code& ec) noexcept {
    return s.find<detail::publication_block<T>>(name, ec);
  }

  std::shared_ptr<detail::subscription_state> m_state;
  detail::reader_path* m_path = nullptr;
};

}  // namespace seam
