#pragma once
/// \file
/// Moved to the base layer: `seam/base/unique_fd.hpp`. This header forwards to it.

#include "seam/base/unique_fd.hpp"
