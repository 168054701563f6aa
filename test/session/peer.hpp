#pragma once
// Starting session_peer for a test, with a name no other test uses.

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
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

/// The abstract address a server named `app` of this user listens on, as the library makes it.
inline socklen_t server_address(const std::string& app, sockaddr_un& addr) {
  addr = {};
  addr.sun_family = AF_UNIX;
  const std::string name = "seam/" + std::to_string(::geteuid()) + "/" + app;
  std::memcpy(addr.sun_path + 1, name.data(), name.size());
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
}

/// A raw seqpacket connection to the server `app`, for tests that speak bytes the library
/// would never send. Empty if nobody listens.
inline unique_fd raw_connect(const std::string& app) {
  unique_fd fd{::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)};
  sockaddr_un addr;
  const socklen_t length = server_address(app, addr);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), length) != 0) return {};
  return fd;
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
