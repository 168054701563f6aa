#include "session/detail/view_cache.hpp"

#include <pthread.h>
#include <sys/stat.h>

#include <map>
#include <mutex>
#include <utility>

namespace seam::detail {
namespace {

using file_key = std::pair<dev_t, ino_t>;

struct view_cache {
  std::mutex mutex;
  std::map<file_key, std::weak_ptr<const arena_view>> views;
  std::size_t inserts = 0;
};

// Leaked on purpose: sessions (and their views) may outlive static destructors. Its lock is
// held across fork, so that a child never inherits it taken by the reactor thread.
view_cache& cache() {
  static auto* c = [] {
    auto* made = new view_cache;
    ::pthread_atfork([] { cache().mutex.lock(); }, [] { cache().mutex.unlock(); },
                     [] { cache().mutex.unlock(); });
    return made;
  }();
  return *c;
}

}  // namespace

std::shared_ptr<const arena_view> map_shared(int fd, std::error_code& ec) noexcept {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ec = {errno, std::system_category()};
    return nullptr;
  }
  const file_key key{st.st_dev, st.st_ino};
  auto& c = cache();
  try {
    {
      std::lock_guard lock(c.mutex);
      auto it = c.views.find(key);
      if (it != c.views.end()) {
        if (auto view = it->second.lock()) {
          ec.clear();
          return view;
        }
      }
    }
    // Mapped outside the lock; two sessions racing for one arena may both map it, and the
    // second to finish keeps the first's.
    auto view = std::make_shared<const arena_view>(arena_view::open(fd, ec));
    if (ec) return nullptr;
    std::lock_guard lock(c.mutex);
    auto& slot = c.views[key];
    if (auto other = slot.lock()) return other;
    slot = view;
    // Forget the views no session holds any more, now and then.
    if (++c.inserts % 64 == 0) {
      std::erase_if(c.views, [](const auto& entry) { return entry.second.expired(); });
    }
    return view;
  } catch (const std::bad_alloc&) {
    ec = std::make_error_code(std::errc::not_enough_memory);
    return nullptr;
  }
}

}  // namespace seam::detail
