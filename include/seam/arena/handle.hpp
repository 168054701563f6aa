#pragma once
/// \file
/// Moved to the base layer: `seam/base/handle.hpp`. This header forwards to it.

#include "seam/base/handle.hpp"
