#pragma once
/// \file
/// The containers layer: `seam::allocator`, `seam::ptr` and native containers in an arena.

#include "seam/containers/allocator.hpp"
#include "seam/containers/deque.hpp"
#include "seam/containers/flat_map.hpp"
#include "seam/containers/hash_map.hpp"
#include "seam/containers/list.hpp"
#include "seam/containers/map.hpp"
#include "seam/containers/set.hpp"
#include "seam/containers/shm_safe.hpp"
#include "seam/containers/string.hpp"
#include "seam/containers/unordered.hpp"
#include "seam/containers/vector.hpp"
