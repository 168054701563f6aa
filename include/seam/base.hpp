#pragma once
/// \file
/// The base layer, under every other: `throw_if`, `SEAM_ASSERT`, `seam::unique_fd` and
/// `seam::handle<T>`.

#include "seam/base/assert.hpp"
#include "seam/base/error.hpp"
#include "seam/base/handle.hpp"
#include "seam/base/unique_fd.hpp"
