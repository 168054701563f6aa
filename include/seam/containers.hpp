#pragma once
/// \file
/// The containers layer: `seam::allocator`, `seam::ptr` and native containers in an arena.

#include "seam/containers/allocator.hpp"
