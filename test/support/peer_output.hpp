#pragma once
// How the tests' peer programs report: one line per step on stdout, flushed at once so the
// test (reading the pipe) sees it before the peer blocks or is killed.

#include <cstdio>
#include <string>

namespace seam::test {

inline void say(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

/// Says why the peer failed; returns its exit status.
inline int fail(const std::string& why) {
  say("FAIL " + why);
  return 1;
}

}  // namespace seam::test
