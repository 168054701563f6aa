#pragma once
/// \file
/// The session layer: `seam::session_server`, `seam::session`, `seam::borrowed<T>`,
/// `seam::published<T>` (versions for read-only readers), and the session's error codes.
/// (Channels, which sessions open, are the channel layer: `seam/channel.hpp`.)

#include "seam/session/error.hpp"
#include "seam/session/published.hpp"
#include "seam/session/session.hpp"
