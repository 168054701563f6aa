#pragma once
/// \file
/// All of Seam in one include.

#include "seam/arena.hpp"
#include "seam/base.hpp"
#include "seam/capnp.hpp"
#include "seam/channel.hpp"
#include "seam/containers.hpp"
#include "seam/session.hpp"
#include "seam/version.hpp"
