// Publications (`seam/session/published.hpp`): the owner's retired versions and its view of
// the readers' slots, the reader's subscription, and the session's routing of the three
// publication messages (subscribe, subscribed, unsubscribe).

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <vector>

#include "seam/session/published.hpp"
#include "session/detail/protocol.hpp"
#include "session/detail/session_core.hpp"

namespace seam::detail {

static_assert(reader_slots::capacity == max_reader_slots);

/// The one door from a `session` to its core for publications.
struct session_access {
  static const std::shared_ptr<session_core>& core(const session& s) noexcept { return s.m_core; }
};

// ---- the session's routing --------------------------------------------------------------------

std::uint64_t session_core::add_publication_handler(handle<std::byte> key, bool owner,
                                                    publication_handler handler) {
  std::lock_guard lock(m_mutex);
  const std::uint64_t id = m_next_publication_handler++;
  m_publication_handlers.push_back({id, key, owner, std::move(handler)});
  return id;
}

void session_core::remove_publication_handler(std::uint64_t id) noexcept {
  std::lock_guard lock(m_mutex);
  std::erase_if(m_publication_handlers, [id](const publication_entry& e) { return e.id == id; });
}

std::error_code session_core::dispatch_publication(const control& c) {
  // A subscribe or unsubscribe names one of our publications' blocks; an answer names the
  // slots of one of our subscriptions.
  const bool owner = c.kind != frame_kind::subscribed;
  const handle<std::byte> key = owner ? c.handles[0] : c.handles[1];
  try {
    publication_handler handler;
    {
      std::lock_guard lock(m_mutex);
      for (const auto& e : m_publication_handlers) {
        if (e.owner == owner && e.key == key) {
          handler = e.handler;
          break;
        }
      }
    }
    if (handler) {
      handler(c);
      return {};
    }
    if (c.kind == frame_kind::subscribe) {
      return queue_control(
          encode_subscribed(c.handles[0], c.handles[1], subscribe_status::not_published));
    }
  } catch (const std::bad_alloc&) {
    return std::make_error_code(std::errc::not_enough_memory);
  }
  // An answer nobody waits for any more (a subscription that timed out), or an unsubscribe of
  // what was never subscribed: nothing to undo.
  return {};
}

// ---- the owner --------------------------------------------------------------------------------

/// Slots one session may have on one publication, all its subscriptions together: what the
/// owner scans for it, and so the most versions one reader process can pin.
inline constexpr std::size_t max_slots_per_session = max_reader_slots;

class publication_state : public std::enable_shared_from_this<publication_state> {
 public:
  publication_state(seam::arena& a, publication_header* block, destroy_version_fn destroy)
      : m_arena(a), m_block(block), m_destroy(destroy) {
    m_retired.reserve(1);
  }

  void add_reader(session& s, std::error_code& ec) noexcept {
    const auto& core = session_access::core(s);
    if (!core) return void(ec = errc::peer_closed);
    try {
      {
        std::lock_guard lock(m_mutex);
        if (m_closed) return void(ec = errc::not_published);
        for (const auto& a : m_sessions) {
          if (a.core.lock() == core) return ec.clear();
        }
      }
      // The handler first: a reader can subscribe only once it has the arena.
      const std::weak_ptr<publication_state> weak = weak_from_this();
      session_core* raw = core.get();
      const std::uint64_t id =
          core->add_publication_handler(m_block->self, true, [weak, raw](const control& c) {
            if (auto p = weak.lock()) p->on_message(*raw, c);
          });
      auto token = s.watch_close([weak, raw] {
        if (auto p = weak.lock()) p->on_close(raw);
      });
      {
        std::lock_guard lock(m_mutex);
        m_sessions.push_back({core, id, std::move(token)});
      }
      ec = core->share(m_arena);
    } catch (const std::bad_alloc&) {
      ec = std::make_error_code(std::errc::not_enough_memory);
    } catch (const std::system_error& e) {
      ec = e.code();
    }
  }

  void publish(std::uint64_t offset) noexcept {
    std::lock_guard lock(m_mutex);
    // Sequentially consistent, as the readers' announcements: see `reader_path::announce`.
    const std::uint64_t old = m_block->current.exchange(offset, std::memory_order_seq_cst);
    // Room was reserved: at most one retired version per reader slot, plus this one.
    if (old != 0) m_retired.push_back(old);
    reclaim_locked();
  }

  std::size_t collect() noexcept {
    std::lock_guard lock(m_mutex);
    return reclaim_locked();
  }

  published_stats stats() const noexcept {
    std::lock_guard lock(m_mutex);
    published_stats s;
    const std::uint64_t current = m_block->current.load(std::memory_order_relaxed);
    if (current != 0) {
      s.version = reinterpret_cast<const version_node<char>*>(m_arena.base() + current)->number;
    }
    s.retained = m_retired.size();
    s.readers = m_readers.size();
    return s;
  }

  void close() noexcept {
    std::vector<attachment> sessions;
    {
      std::lock_guard lock(m_mutex);
      m_closed = true;
      sessions.swap(m_sessions);
    }
    for (auto& a : sessions) {
      if (auto core = a.core.lock()) core->remove_publication_handler(a.handler);
    }
    sessions.clear();  // the close tokens: no hook runs after this
    std::lock_guard lock(m_mutex);
    const std::uint64_t old = m_block->current.exchange(0, std::memory_order_seq_cst);
    if (old != 0) m_retired.push_back(old);
    reclaim_locked();
    // What readers still hold stays in the arena: they may read it until they let go, and
    // nobody will tell this process when.
    m_retired.clear();
    m_readers.clear();
  }

 private:
  struct reader {
    const session_core* core;
    handle<std::byte> slots_handle;
    const std::atomic<std::uint64_t>* slots;  // in the reader's arena, mapped read-only
    std::uint32_t count;
    std::shared_ptr<const arena_view> view;
  };
  struct attachment {
    std::weak_ptr<session_core> core;
    std::uint64_t handler = 0;
    std::shared_ptr<void> close_token;
  };

  // From the session's thread.
  void on_message(session_core& core, const control& c) noexcept {
    try {
      if (c.kind == frame_kind::subscribe) {
        const subscribe_status status = subscribe(core, c.handles[1], c.value);
        if (auto ec = core.queue_control(encode_subscribed(c.handles[0], c.handles[1], status))) {
          core.close(ec);
        }
      } else if (c.kind == frame_kind::unsubscribe) {
        std::lock_guard lock(m_mutex);
        std::erase_if(m_readers, [&](const reader& r) {
          return r.core == &core && r.slots_handle == c.handles[1];
        });
        if (reclaim_locked() != 0) m_arena.flush_thread_cache();
      }
    } catch (const std::bad_alloc&) {
      core.close(std::make_error_code(std::errc::not_enough_memory));
    }
  }

  subscribe_status subscribe(session_core& core, handle<std::byte> slots, std::uint32_t count) {
    // The slots must lie in an arena the reader shares (not in ours): the same checks as any
    // handle, for the `count` words the owner will read. Their contents are never trusted.
    auto view = core.peer_view(slots.arena_id);
    if (!view) return subscribe_status::bad_slots;
    std::error_code ec;
    const std::size_t bytes = std::size_t{count} * sizeof(std::uint64_t);
    const void* at = core.resolve(slots, bytes, alignof(std::atomic<std::uint64_t>), ec);
    if (ec || !view->contains(at, bytes)) return subscribe_status::bad_slots;
    std::lock_guard lock(m_mutex);
    if (m_closed) return subscribe_status::not_published;
    std::size_t mine = count;
    for (const reader& r : m_readers) {
      if (r.core == &core) mine += r.count;
    }
    if (mine > max_slots_per_session) return subscribe_status::too_many;
    // A reader whose session closed while this message was on its way is not added: its
    // close hook (which runs after the session stopped being open) has run or will run after
    // this lock, and would not find it otherwise.
    if (!core.is_open()) return subscribe_status::not_published;
    // Room for the scans and the retired list, so that publishing never allocates: as many
    // words as the readers subscribed now have slots (bounded by the limits above, however
    // often a reader comes and goes).
    std::size_t slots_total = count;
    for (const reader& r : m_readers) slots_total += r.count;
    m_held.reserve(slots_total);
    m_retired.reserve(slots_total + 1);
    m_readers.push_back(
        {&core, slots, static_cast<const std::atomic<std::uint64_t>*>(at), count, std::move(view)});
    return subscribe_status::ok;
  }

  // From the session's thread, once the session closed (the reader died or left).
  void on_close(const session_core* core) noexcept {
    std::vector<attachment> gone;
    {
      std::lock_guard lock(m_mutex);
      std::erase_if(m_readers, [&](const reader& r) { return r.core == core; });
      for (auto it = m_sessions.begin(); it != m_sessions.end();) {
        if (it->core.expired() || it->core.lock().get() == core) {
          gone.push_back(std::move(*it));
          it = m_sessions.erase(it);
        } else {
          ++it;
        }
      }
      // Freed from this thread: give the blocks back now, this thread rarely allocates.
      if (reclaim_locked() != 0) m_arena.flush_thread_cache();
    }
  }

  // Destroys every retired version that no reader's slot names. The slots are read, never
  // followed: a garbage word can only keep a version (one per slot), never free one.
  std::size_t reclaim_locked() noexcept {
    if (m_retired.empty()) return 0;
    m_held.clear();
    for (const reader& r : m_readers) {
      for (std::uint32_t i = 0; i < r.count; ++i) {
        const std::uint64_t v = r.slots[i].load(std::memory_order_seq_cst);
        // Reserved for every slot of every reader: no allocation here.
        if (v != 0) m_held.push_back(v);
      }
    }
    std::sort(m_held.begin(), m_held.end());
    std::size_t freed = 0;
    std::erase_if(m_retired, [&](std::uint64_t offset) {
      if (std::binary_search(m_held.begin(), m_held.end(), offset)) return false;
      m_destroy(m_arena, m_arena.base() + offset);
      ++freed;
      return true;
    });
    return freed;
  }

  seam::arena& m_arena;
  publication_header* const m_block;
  const destroy_version_fn m_destroy;
  mutable std::mutex m_mutex;
  bool m_closed = false;
  std::vector<std::uint64_t> m_retired;  // offsets of replaced versions, not yet destroyed
  std::vector<reader> m_readers;
  std::vector<std::uint64_t> m_held;  // scratch of reclaim_locked
  std::vector<attachment> m_sessions;
};

std::shared_ptr<publication_state> open_publication(seam::arena& a, publication_header* block,
                                                    destroy_version_fn destroy) {
  return std::make_shared<publication_state>(a, block, destroy);
}

void add_publication_reader(publication_state& p, session& s, std::error_code& ec) noexcept {
  ec.clear();
  p.add_reader(s, ec);
}

void publish_version(publication_state& p, std::uint64_t offset) noexcept { p.publish(offset); }

std::size_t collect_versions(publication_state& p) noexcept { return p.collect(); }

void close_publication(publication_state& p) noexcept { p.close(); }

published_stats publication_stats(const publication_state& p) noexcept { return p.stats(); }

// ---- the reader -------------------------------------------------------------------------------

class subscription_state {
 public:
  ~subscription_state() {
    SEAM_ASSERT(path.free.load() == path.all, "published_reader destroyed while a snapshot lives");
    if (handler != 0) core->remove_publication_handler(handler);
    close_token.reset();
    if (sent && core->is_open()) {
      try {
        [[maybe_unused]] auto ec = core->send_control(encode_unsubscribe(block, slots_handle));
      } catch (const std::bad_alloc&) {
        // The owner then scans freed memory until the session ends: bounded, see the header.
      }
    }
    if (slots != nullptr) core->arena().destroy(slots);
  }

  void answer(std::error_code ec) {
    {
      std::lock_guard lock(mutex);
      if (answered) return;  // the first answer counts
      answered = ec;
    }
    changed.notify_all();
  }

  std::shared_ptr<session_core> core;      // keeps this side's session arena (the slots) alive
  std::shared_ptr<const arena_view> view;  // the owner's arena
  reader_slots* slots = nullptr;
  handle<std::byte> block;
  handle<std::byte> slots_handle;
  std::uint64_t handler = 0;
  std::shared_ptr<void> close_token;
  bool sent = false;
  std::mutex mutex;
  std::condition_variable changed;
  std::optional<std::error_code> answered;
  reader_path path;
};

namespace {

// Sends a subscribe for `block` (null: a barrier) and waits for its answer.
std::error_code ask(subscription_state& state, handle<std::byte> block, std::uint32_t count,
                    std::chrono::milliseconds timeout) {
  {
    std::lock_guard lock(state.mutex);
    state.answered.reset();
  }
  state.block = block;
  if (auto ec = state.core->send_control(encode_subscribe(block, state.slots_handle, count))) {
    return ec;
  }
  state.sent = true;
  std::unique_lock lock(state.mutex);
  if (!state.changed.wait_for(lock, timeout, [&] { return state.answered.has_value(); })) {
    return errc::timed_out;
  }
  return *state.answered;
}

}  // namespace

std::shared_ptr<subscription_state> subscribe(session& s, std::string_view name, lookup_fn lookup,
                                              std::size_t count, std::chrono::milliseconds timeout,
                                              reader_path*& path, std::error_code& ec) noexcept {
  ec.clear();
  path = nullptr;
  if (count == 0 || count > reader_slots::capacity) {
    return ec = std::make_error_code(std::errc::invalid_argument), nullptr;
  }
  const auto& core = session_access::core(s);
  if (!core) return ec = errc::peer_closed, nullptr;
  try {
    auto state = std::make_shared<subscription_state>();
    state->core = core;
    state->slots = core->arena().make<reader_slots>();
    state->slots_handle = core->arena().handle_of(state->slots).as<std::byte>();
    const std::weak_ptr<subscription_state> weak = state;
    state->handler =
        core->add_publication_handler(state->slots_handle, false, [weak](const control& c) {
          if (auto st = weak.lock()) st->answer(subscribe_error(c.value));
        });
    state->close_token = s.watch_close([weak] {
      if (auto st = weak.lock()) {
        st->path.open.store(false, std::memory_order_release);
        st->answer(errc::peer_closed);
      }
    });
    const auto slots = static_cast<std::uint32_t>(count);
    const publication_header* block = lookup(s, name, ec);
    if (ec) return nullptr;
    if (block == nullptr) {
      // The owner's share of its arena may still be on its way to this side. A subscribe that
      // names no block is answered after everything the owner sent before it (the socket keeps
      // order), so once the answer is here, so is any share sent before this call.
      ec = ask(*state, {}, slots, timeout);
      if (ec != errc::not_published) return ec ? nullptr : (ec = errc::protocol_error, nullptr);
      ec.clear();
      block = lookup(s, name, ec);
      if (ec) return nullptr;
      if (block == nullptr) return ec = errc::not_published, nullptr;
    }
    // The block was found by name in the owner's arena: its words are input. Its own handle
    // must lead back to it, in an arena the owner shares.
    if (block->magic != publication_magic) return ec = errc::corrupt_arena, nullptr;
    const handle<std::byte> self = block->self;
    const void* at = core->resolve(self, sizeof *block, alignof(publication_header), ec);
    state->view = ec ? nullptr : core->peer_view(self.arena_id);
    if (at != block || !state->view) return ec = errc::corrupt_arena, nullptr;
    if ((ec = ask(*state, self, slots, timeout))) return nullptr;
    reader_path& p = state->path;
    p.current = &block->current;
    p.slots = state->slots->held;
    p.view = state->view.get();
    p.arena_id = self.arena_id;
    p.all = count == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << count) - 1;
    p.free.store(p.all, std::memory_order_release);
    path = &p;
    return state;
  } catch (const std::bad_alloc&) {
    ec = std::make_error_code(std::errc::not_enough_memory);
  } catch (const std::system_error& e) {
    ec = e.code();
  }
  return nullptr;
}

}  // namespace seam::detail
