#pragma once
// Starting session_peer for a test, with a name no other test uses.

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "support/process.hpp"

namespace seam::test {

/// A server name unique to this process and call: tests run in parallel.
inline std::string unique_app() {
  static std::atomic<int> counter{0};
  return "test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

#ifdef SEAM_SESSION_PEER
/// session_peer running `mode` against `app`; its stdout lines come through `line()`.
struct peer {
  process proc;
  pipe_pair out;
  pipe_pair in;

  peer(const std::string& mode, const std::string& app, std::uint64_t n = 0) {
    proc = spawn(SEAM_SESSION_PEER, {mode, app, std::to_string(n)},
                 {{out.write_end.get(), 1}, {in.read_end.get(), 0}});
    out.write_end.reset();
    in.read_end.reset();
  }
  std::string line(std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    return read_line(out.read_end.get(), timeout);
  }
};
#endif

/// Waits up to `timeout` for `condition()`; returns its last value. For state that another
/// process changes through a session thread (no event to wait on in the public API).
template <class Condition>
bool eventually(Condition condition, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return condition();
    std::this_thread::yield();
  }
  return true;
}

}  // namespace seam::test
