#pragma once
/// \file
/// `seam::unique_fd`: sole ownership of a file descriptor.

#include <unistd.h>

#include <utility>

namespace seam {

/// Owns one file descriptor and closes it when destroyed. Movable, not copyable.
/// Not thread-safe; never lives in shared memory (an fd number means nothing in another process).
class unique_fd {
 public:
  unique_fd() noexcept = default;
  /// Takes ownership of `fd` (-1: empty).
  explicit unique_fd(int fd) noexcept : m_fd(fd) {}
  /// Move constructor.
  unique_fd(unique_fd&& other) noexcept : m_fd(other.release()) {}
  /// Move assignment.
  unique_fd& operator=(unique_fd&& other) noexcept {
    reset(other.release());
    return *this;
  }
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() { reset(); }

  /// The descriptor, still owned; -1 when empty.
  int get() const noexcept { return m_fd; }
  /// True unless empty.
  explicit operator bool() const noexcept { return m_fd >= 0; }
  /// Gives up ownership and returns the descriptor.
  int release() noexcept { return std::exchange(m_fd, -1); }
  /// Closes the owned descriptor (if any) and takes `fd`.
  void reset(int fd = -1) noexcept {
    if (m_fd >= 0) ::close(m_fd);
    m_fd = fd;
  }

 private:
  int m_fd = -1;
};

}  // namespace seam
