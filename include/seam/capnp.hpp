#pragma once
/// \file
/// The Cap'n Proto layer: messages by handle (`seam::capnp::message_builder`,
/// `message_reader`) over any channel (`seam::capnp::channel`).

#include "seam/capnp/channel.hpp"
#include "seam/capnp/message.hpp"
