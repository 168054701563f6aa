#pragma once
/// \file
/// `seam::shm_safe<T>`: which types may live in an arena, for users of the containers.
///
/// The trait itself is defined in the arena layer (`seam/arena/shm_safe.hpp`) because
/// `arena::make<T>` checks it too, and the arena layer cannot include this one. The containers
/// layer enforces it in `seam::allocator<T>`: every Seam container instantiates its allocator
/// with its element type, so `seam::vector<std::string>` or
/// `seam::map<seam::string, std::vector<int>>` stops at compile time with
/// "… cannot live in a seam::arena: it holds process-local pointers; use seam::string /
/// seam::vector / seam::ptr …". Specialise `seam::shm_safe` for your own types to tighten
/// (or, knowingly, loosen) the check; see its comment for what a trait cannot see.

#include "seam/arena/shm_safe.hpp"
