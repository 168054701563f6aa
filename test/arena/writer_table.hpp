#pragma once
// A table that several writer processes fill: a map and a hash map under one robust,
// process-shared lock, named "table" in the arena. Shared by the writers tests and the crash
// matrix's writer cases.
//
// TODO(test): switch to seam::synchronized<…> and seam::mutex once they land on main.

#include <pthread.h>

#include <cerrno>
#include <cstdint>

#include "seam/arena/arena.hpp"
#include "seam/containers/hash_map.hpp"
#include "seam/containers/map.hpp"

namespace seam::test {

struct writer_table {
  writer_table() {
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&lock, &attr);
    pthread_mutexattr_destroy(&attr);
  }

  /// Locks; returns true if the previous owner died holding the lock.
  bool acquire() {
    const int r = pthread_mutex_lock(&lock);
    if (r == EOWNERDEAD) {
      pthread_mutex_consistent(&lock);
      return true;
    }
    return false;
  }
  void release() { pthread_mutex_unlock(&lock); }

  pthread_mutex_t lock;
  seam::map<std::int64_t, std::int64_t> tree;
  seam::hash_map<std::int64_t, std::int64_t> hash;
};

/// The value every writer stores for `key`.
inline std::int64_t value_of(std::int64_t key) { return key * 7 + 3; }

}  // namespace seam::test
