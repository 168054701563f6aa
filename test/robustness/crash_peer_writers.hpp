#pragma once
// The crash matrix's writer victims (crash_peer modes "writer-lock", "writer-alloc",
// "writer-remote"); see crash_peer_writers.cpp.

#include <unistd.h>

#include <string>

#include "seam/session/session.hpp"

namespace seam::test {

/// Runs the writer victim `mode` on session `s`; returns the process's exit code.
int writer_victim(seam::session& s, const std::string& mode);

}  // namespace seam::test
