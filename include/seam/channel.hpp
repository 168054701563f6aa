#pragma once
/// \file
/// The channel layer: `seam::channel` and its transports (`seam::transport`), opened with
/// `session::open_channel` / `accept_channel`.

#include "seam/channel/channel.hpp"
#include "seam/channel/message.hpp"
#include "seam/channel/transport.hpp"
