#pragma once
// The test side of the crash matrix and the soak: what a process holds (fds, memfd mappings,
// the system's shared memory), the victim program, and the round trip that proves a survivor
// still works.

#include <dirent.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>

#include "capnp/file_content.hpp"
#include "robustness/crash_protocol.hpp"
#include "seam/seam.hpp"
#include "session/peer.hpp"

namespace seam::test {

/// Entries of /proc/self/fd (the directory's own fd included: the count is only compared).
inline std::size_t open_fd_count() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) throw std::runtime_error("cannot read /proc/self/fd");
  std::size_t n = 0;
  while (const dirent* e = ::readdir(dir)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) ++n;
  }
  ::closedir(dir);
  return n;
}

/// Mappings of memfds in this process: each arena and each view of a peer's arena is one. A
/// view that outlived its session would keep a dead peer's memory alive.
inline std::size_t memfd_mapping_count() {
  std::ifstream maps("/proc/self/maps");
  std::size_t n = 0;
  for (std::string line; std::getline(maps, line);) {
    if (line.find("/memfd:") != std::string::npos) ++n;
  }
  return n;
}

/// The system's `Shmem:` (tmpfs and memfd pages in use), in bytes.
inline std::size_t system_shmem_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  for (std::string line; std::getline(meminfo, line);) {
    if (line.rfind("Shmem:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  throw std::runtime_error("no Shmem: in /proc/meminfo");
}

/// The system's shared memory, and the part of it that other processes visibly account for.
struct shmem_snapshot {
  std::size_t system = 0;         ///< `Shmem:` of /proc/meminfo
  std::size_t others_mapped = 0;  ///< sum of `RssShmem:` of every other process
  std::size_t dev_shm = 0;        ///< bytes used in /dev/shm (tmpfs files nobody maps)
  std::string holders;            ///< other processes mapping more than 16 MiB of it
};

inline shmem_snapshot take_shmem_snapshot() {
  shmem_snapshot snapshot;
  snapshot.system = system_shmem_bytes();
  struct statvfs fs {};
  if (::statvfs("/dev/shm", &fs) == 0) snapshot.dev_shm = (fs.f_blocks - fs.f_bfree) * fs.f_frsize;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return snapshot;
  const std::string self = std::to_string(::getpid());
  while (const dirent* e = ::readdir(dir)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9' || e->d_name == self) continue;
    std::ifstream status(std::string("/proc/") + e->d_name + "/status");
    std::string name, line;
    std::size_t kib = 0;
    while (std::getline(status, line)) {
      if (line.rfind("Name:", 0) == 0) name = line.substr(5);
      if (line.rfind("RssShmem:", 0) == 0) kib = std::stoull(line.substr(9));
    }
    snapshot.others_mapped += kib * 1024;
    if (kib > 16 * 1024) {
      snapshot.holders +=
          std::string("  pid ") + e->d_name + name + ": " + std::to_string(kib >> 10) + " MiB\n";
    }
  }
  ::closedir(dir);
  return snapshot;
}

/// What this process holds that a crash of a peer must not leave behind.
struct held_resources {
  std::size_t fds = open_fd_count();
  std::size_t memfd_mappings = memfd_mapping_count();
};

/// Expects the process to hold what it held at `baseline`.
inline void expect_back_to(const held_resources& baseline, const char* when) {
  EXPECT_EQ(open_fd_count(), baseline.fds) << "open fds " << when;
  EXPECT_EQ(memfd_mapping_count(), baseline.memfd_mappings) << "memfd mappings " << when;
}

/// crash_peer running `mode` against `app`; its stdout lines come through `line()`.
struct crash_peer {
  process proc;
  pipe_pair out, in;
  pid_t pid = -1;  // kept after the process is reaped

  crash_peer(const std::string& mode, const std::string& app) {
    proc = spawn(SEAM_CRASH_PEER, {mode, app}, {{out.write_end.get(), 1}, {in.read_end.get(), 0}});
    pid = proc.pid();
    out.write_end.reset();
    in.read_end.reset();
  }
  std::string line(std::chrono::milliseconds timeout = std::chrono::seconds(120)) {
    return read_line(out.read_end.get(), timeout);
  }
  /// Waits for the process to be gone (after a kill) and closes our ends of its pipes;
  /// returns whether SIGKILL is what ended it.
  bool reap() {
    const int status = proc.wait(std::chrono::seconds(30));
    proc = process{};  // closes its pidfd
    out.read_end.reset();
    in.write_end.reset();
    return status == 1000 + SIGKILL;
  }
  /// SIGKILL, then `reap()`.
  bool kill_and_reap() {
    proc.kill(SIGKILL);
    return reap();
  }
};

/// Waits up to `timeout` for `fd` to read end-of-file (discarding data before it).
inline bool reads_eof(int fd, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) != 1) return false;
    char buffer[256];
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n == 0) return true;
    if (n < 0 && errno != EINTR && errno != EAGAIN) return false;
  }
}

/// Everything `fd` reads until end-of-file (waiting up to `timeout` in all).
inline std::string read_to_eof(int fd, std::chrono::milliseconds timeout) {
  std::string text;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) != 1) return text;
    char buffer[256];
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) return text;
    text.append(buffer, static_cast<std::size_t>(n));
  }
}

/// The survivor noticed the death: its session closed within the bound, because the peer went.
inline void expect_closed_by_death(const seam::session& s) {
  ASSERT_TRUE(s.wait_closed(std::chrono::seconds(5))) << "the session did not notice the death";
  EXPECT_EQ(s.close_reason(), seam::errc::peer_closed);
}

/// A full round trip with a NEW, well-behaved peer (crash_peer "rt-client" or "rt-server") on
/// session `s`: we lend an object, the peer borrows it and answers three times its value by
/// zero-copy Cap'n Proto; each side's lend comes back; the peer exits 0.
inline void expect_round_trip(seam::session& s, crash_peer& peer, std::uint64_t value) {
  ASSERT_TRUE(s.is_open());
  const std::size_t baseline = s.arena().stats().allocated;
  auto ch = s.open_channel(crash::transport());
  const auto h = s.lend(s.arena().make<std::uint64_t>(value)).as<std::byte>();
  ch.send(std::as_bytes(std::span(&value, 1)), {}, {&h, 1});
  {
    seam::capnp::channel replies(s, s.accept_channel(std::chrono::seconds(30)));
    auto answer = replies.receive_message(std::chrono::seconds(30));
    EXPECT_TRUE(answer.zero_copy());
    EXPECT_EQ(answer.root<Note>().getNumber(), value * crash::round_trip_factor);
    EXPECT_EQ(answer.root<Note>().getText(), "round trip");
  }  // our reader goes: the peer's lend is released
  // The peer dropped its borrow before answering: our lend comes back while the session is open.
  EXPECT_TRUE(eventually([&] { return s.lent_count() == 0; })) << "lend not released";
  EXPECT_TRUE(s.is_open());
  ch.send("done");
  EXPECT_EQ(peer.proc.wait(std::chrono::seconds(30)), 0) << "the new peer failed";
  // A ring channel's ring goes once the channel is closed and the peer let go of it (which
  // its session's end, seen by our session's thread, says).
  ch.close();
  EXPECT_TRUE(eventually([&] { return s.arena().stats().allocated == baseline; }))
      << s.arena().stats().allocated << " bytes allocated, " << baseline << " before";
}

}  // namespace seam::test
