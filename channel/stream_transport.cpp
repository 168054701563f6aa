#include "channel/detail/stream_transport.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <vector>

#include "seam/session/error.hpp"
#include "seam/session/wire.hpp"

namespace seam::detail {
namespace {

using clock = std::chrono::steady_clock;

// Once a message has started to arrive, the rest may take this long between two reads before
// the peer is considered stuck.
constexpr std::chrono::seconds stream_stall{10};

// Reads exactly `size` bytes; the first wait is bounded by `timeout`, later ones by the stall
// limit. `started` says whether this message began arriving already.
std::error_code read_exact(int fd, void* out, std::size_t size, std::chrono::milliseconds timeout,
                           bool& started) noexcept {
  auto* p = static_cast<char*>(out);
  while (size > 0) {
    const ssize_t n = ::recv(fd, p, size, MSG_DONTWAIT);
    if (n > 0) {
      p += n;
      size -= static_cast<std::size_t>(n);
      started = true;
      continue;
    }
    if (n == 0) return errc::peer_closed;
    if (errno == EINTR) continue;
    if (errno == ECONNRESET) return errc::peer_closed;
    if (errno != EAGAIN) return {errno, std::system_category()};
    const std::chrono::milliseconds wait = started ? stream_stall : timeout;
    if (auto ec = wait_ready(fd, POLLIN, wait, clock::now() + wait)) {
      // Half a message and then nothing: the stream cannot be resynchronised.
      return started && ec == errc::timed_out ? std::error_code(errc::protocol_error) : ec;
    }
  }
  return {};
}

}  // namespace

std::error_code stream_transport::send(std::span<const std::span<const std::byte>> parts,
                                       std::span<const int> fds,
                                       std::span<const handle<std::byte>> handles,
                                       duration timeout) noexcept {
  if (!fds.empty()) return errc::too_many_fds;  // a stream socket here carries bytes only
  if (!handles.empty()) return std::make_error_code(std::errc::operation_not_supported);
  std::uint64_t total = 0;
  for (const auto& p : parts) total += p.size();
  if (total > m_max_bytes) return errc::message_too_large;
  std::vector<iovec> iov;
  try {
    iov.reserve(parts.size() + 1);
  } catch (const std::bad_alloc&) {
    return std::make_error_code(std::errc::not_enough_memory);
  }
  iov.push_back({&total, sizeof total});
  for (const auto& p : parts) {
    if (!p.empty()) iov.push_back({const_cast<std::byte*>(p.data()), p.size()});
  }
  const auto deadline = clock::now() + (timeout.count() > 0 ? timeout : duration(0));
  std::size_t at = 0;
  while (at < iov.size()) {
    msghdr msg{};
    msg.msg_iov = iov.data() + at;
    msg.msg_iovlen = std::min<std::size_t>(iov.size() - at, 1024);  // IOV_MAX
    const ssize_t n = ::sendmsg(m_socket.get(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EPIPE || errno == ECONNRESET) return errc::peer_closed;
      if (errno != EAGAIN) return {errno, std::system_category()};
      // Once part of the message is out, the rest must follow: wait for the stall limit.
      const bool started = at > 0 || iov[0].iov_base != &total;
      const duration wait = started ? duration(stream_stall) : timeout;
      if (auto ec =
              wait_ready(m_socket.get(), POLLOUT, wait, started ? clock::now() + wait : deadline)) {
        return ec;
      }
      continue;
    }
    auto left = static_cast<std::size_t>(n);
    while (at < iov.size() && left >= iov[at].iov_len) left -= iov[at++].iov_len;
    if (left > 0) {
      iov[at].iov_base = static_cast<char*>(iov[at].iov_base) + left;
      iov[at].iov_len -= left;
    }
  }
  return {};
}

std::error_code stream_transport::receive(message& out, duration timeout) noexcept {
  std::uint64_t size = 0;
  bool started = false;
  if (auto ec = read_exact(m_socket.get(), &size, sizeof size, timeout, started)) return ec;
  if (size > m_max_bytes) return errc::message_too_large;  // the stream cannot go on
  try {
    out.bytes.resize(size);
  } catch (const std::bad_alloc&) {
    return std::make_error_code(std::errc::not_enough_memory);
  }
  if (auto ec = read_exact(m_socket.get(), out.bytes.data(), size, stream_stall, started)) {
    return ec == errc::timed_out ? std::error_code(errc::protocol_error) : ec;
  }
  out.fds.clear();
  out.handles.clear();
  return {};
}

void stream_transport::shutdown() noexcept {
  if (m_socket) ::shutdown(m_socket.get(), SHUT_RDWR);
}

}  // namespace seam::detail
