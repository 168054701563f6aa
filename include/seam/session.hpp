#pragma once
/// \file
/// The session layer: `seam::session_server`, `seam::session`, `seam::channel`,
/// `seam::borrowed<T>`.

#include "seam/session/channel.hpp"
#include "seam/session/session.hpp"
