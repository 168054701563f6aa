#pragma once
/// \file
/// `SEAM_ASSERT`: a broken internal invariant is a bug; in debug builds it aborts loudly.

#include <cstdio>
#include <cstdlib>

#ifdef NDEBUG
#define SEAM_ASSERT(condition, message) static_cast<void>(0)
#else
/// Aborts with file, line and `message` if `condition` is false (debug builds only).
#define SEAM_ASSERT(condition, message)                                                     \
  ((condition) ? static_cast<void>(0)                                                       \
               : (std::fprintf(stderr, "%s:%d: seam assertion failed: %s (%s)\n", __FILE__, \
                               __LINE__, message, #condition),                              \
                  std::abort()))
#endif
