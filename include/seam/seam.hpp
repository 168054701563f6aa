#pragma once
/// \file
/// All of Seam in one include.

#include "seam/base.hpp"
#include "seam/arena.hpp"
#include "seam/containers.hpp"
#include "seam/session.hpp"
#include "seam/channel.hpp"
#include "seam/capnp.hpp"
