#pragma once
/// \file
/// The channel layer: Cap'n Proto messages by handle (`seam::capnp::message_builder`,
/// `message_reader`, `seam::capnp::channel`).

#include "seam/channel/capnp_channel.hpp"
#include "seam/channel/message.hpp"
