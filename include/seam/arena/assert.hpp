#pragma once
/// \file
/// Moved to the base layer: `seam/base/assert.hpp`. This header forwards to it.

#include "seam/base/assert.hpp"
