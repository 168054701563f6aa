#include "seam/session/wire.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "seam/session/error.hpp"

namespace seam::detail {
namespace {

using clock = std::chrono::steady_clock;

std::error_code last_error() noexcept { return {errno, std::system_category()}; }

}  // namespace

std::error_code wait_ready(int fd, short events, timeout wait,
                           std::chrono::steady_clock::time_point deadline) noexcept {
  if (wait.count() == 0) return errc::would_block;
  for (;;) {
    int ms = -1;
    if (wait.count() > 0) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
      if (left.count() <= 0) return errc::timed_out;
      ms = static_cast<int>(left.count()) + 1;
    }
    pollfd p{fd, events, 0};
    const int r = ::poll(&p, 1, ms);
    if (r > 0) return {};
    if (r < 0 && errno != EINTR) return last_error();
  }
}

namespace {

std::error_code map_send_error(int e) noexcept {
  if (e == EPIPE || e == ECONNRESET || e == ENOTCONN) return errc::peer_closed;
  if (e == EMSGSIZE) return errc::message_too_large;
  return {e, std::system_category()};
}

}  // namespace

std::error_code send_frame(int fd, frame_kind kind, std::span<const handle<std::byte>> handles,
                           std::span<const std::byte> bytes, std::span<const int> fds,
                           timeout wait) noexcept {
  if (fds.size() > max_fds) return errc::too_many_fds;
  if (handles.size() > max_packet / sizeof(handle<std::byte>) ||
      sizeof(frame_header) + handles.size_bytes() + bytes.size() > max_packet) {
    return errc::message_too_large;
  }
  frame_header header{static_cast<std::uint32_t>(kind), static_cast<std::uint32_t>(handles.size()),
                      static_cast<std::uint32_t>(bytes.size()),
                      static_cast<std::uint32_t>(fds.size())};
  iovec iov[3] = {{&header, sizeof header},
                  {const_cast<handle<std::byte>*>(handles.data()), handles.size_bytes()},
                  {const_cast<std::byte*>(bytes.data()), bytes.size()}};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * max_fds)];
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = 3;
  if (!fds.empty()) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(fds.size_bytes());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(fds.size_bytes());
    std::memcpy(CMSG_DATA(c), fds.data(), fds.size_bytes());
  }
  const auto deadline = clock::now() + (wait.count() > 0 ? wait : timeout{0});
  for (;;) {
    if (::sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) return {};
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return map_send_error(errno);
    if (auto ec = wait_ready(fd, POLLOUT, wait, deadline)) return ec;
  }
}

std::error_code receive_frame(int fd, frame& out, std::span<std::byte> buffer,
                              timeout wait) noexcept {
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * max_fds)];
  iovec iov{buffer.data(), buffer.size()};
  msghdr msg{};
  ssize_t n = 0;
  bool reset_seen = false;
  const auto deadline = clock::now() + (wait.count() > 0 ? wait : timeout{0});
  for (;;) {
    msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    // Waiting forever, block in recvmsg itself: one system call per message instead of a
    // failed try, a poll and a second try (the sockets are in blocking mode).
    const int dont_wait = wait.count() < 0 ? 0 : MSG_DONTWAIT;
    n = ::recvmsg(fd, &msg, dont_wait | MSG_CMSG_CLOEXEC | MSG_TRUNC);
    if (n >= 0) break;
    if (errno == EINTR) continue;
    if (errno == ECONNRESET) {
      // The peer closed with our packets unread. Its last packets may still be queued for us
      // (a refusal says why it hung up): the error is reported once, so read on.
      if (!reset_seen) {
        reset_seen = true;
        continue;
      }
      return errc::peer_closed;
    }
    if (errno != EAGAIN) return last_error();
    if (auto ec = wait_ready(fd, POLLIN, wait, deadline)) return ec;
  }
  // Take ownership of every descriptor that arrived before looking at anything else, so that
  // each error path below closes them.
  out.fds.clear();
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int received;
      std::memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      out.fds.emplace_back(received);
    }
  }
  auto refuse = [&](std::error_code ec) {
    out.fds.clear();
    return ec;
  };
  if (n == 0) return refuse(errc::peer_closed);  // every packet has a header: 0 is EOF
  if (static_cast<std::size_t>(n) > buffer.size()) return refuse(errc::message_too_large);
  if (msg.msg_flags & MSG_CTRUNC) {
    // More descriptors than we take, or none could be installed (EMFILE in this process).
    return refuse(out.fds.size() >= max_fds ? errc::too_many_fds
                                            : std::make_error_code(std::errc::too_many_files_open));
  }
  if (auto ec = decode_frame({buffer.data(), static_cast<std::size_t>(n)}, out.fds.size(), out)) {
    return refuse(ec);
  }
  return {};
}

std::error_code decode_frame(std::span<const std::byte> packet, std::size_t fds,
                             frame& out) noexcept {
  frame_header header;
  if (packet.size() < sizeof header) return errc::protocol_error;
  std::memcpy(&header, packet.data(), sizeof header);
  const std::size_t handle_bytes = std::size_t{header.handles} * sizeof(handle<std::byte>);
  if (packet.size() != sizeof header + handle_bytes + header.bytes || header.fds != fds) {
    return errc::protocol_error;
  }
  try {
    out.kind = static_cast<frame_kind>(header.kind);
    out.handles.resize(header.handles);
    if (handle_bytes != 0) {
      std::memcpy(out.handles.data(), packet.data() + sizeof header, handle_bytes);
    }
    out.bytes.assign(packet.begin() + static_cast<std::ptrdiff_t>(sizeof header + handle_bytes),
                     packet.end());
  } catch (const std::bad_alloc&) {
    return std::make_error_code(std::errc::not_enough_memory);
  }
  return {};
}

void size_buffers(int fd) noexcept {
  int size = static_cast<int>(max_packet) * 2;
  // FORCE works as root and past wmem_max; the plain form is the fallback (capped silently).
  if (::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  }
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
}

std::error_code make_socket_pair(unique_fd& a, unique_fd& b) noexcept {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) return last_error();
  a.reset(fds[0]);
  b.reset(fds[1]);
  size_buffers(fds[0]);
  size_buffers(fds[1]);
  return {};
}

}  // namespace seam::detail
