#pragma once
/// \file
/// The arena layer: shared-memory heaps (`seam::arena`), their read-only views
/// (`seam::arena_view`), the handles that name objects in them (`seam::handle<T>`) and named
/// objects (`make_named` / `find`), and the robust, process-shared `seam::mutex` and
/// `seam::synchronized<T>` that live in an arena.

#include "seam/arena/arena.hpp"
#include "seam/arena/arena_view.hpp"
#include "seam/arena/error.hpp"
#include "seam/arena/mutex.hpp"
#include "seam/arena/named.hpp"
#include "seam/arena/shm_safe.hpp"
#include "seam/arena/synchronized.hpp"
#include "seam/arena/type_fingerprint.hpp"
#include "seam/base.hpp"
