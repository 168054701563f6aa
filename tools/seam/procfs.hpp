#pragma once
// What the `seam` tool reads of /proc: processes, their shared memfd mappings and descriptors,
// and the Unix sockets. Everything here can vanish while it is read (a process exits): each
// call reports that as an error code, never as a crash, and the caller decides what to show.

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

namespace seam::tool {

/// The pids of the processes whose /proc entry belongs to `uid`, ascending.
std::vector<pid_t> processes_of(uid_t uid);

/// The program name of `pid` (its argv[0] without directories, else /proc/<pid>/comm), or ""
/// if it is gone.
std::string command_of(pid_t pid);

/// One shared mapping of a memfd in a process (a line of /proc/<pid>/maps).
struct memfd_mapping {
  std::uint64_t start = 0, end = 0;
  bool writable = false;
  std::uint64_t inode = 0;
  std::string name;  // as memfd_create was given it
};

/// The shared memfd mappings of `pid`. Sets `ec` (EACCES, ENOENT/ESRCH when gone).
std::vector<memfd_mapping> memfd_mappings(pid_t pid, std::error_code& ec);

/// One descriptor of a process: its number and the inode it names.
struct open_file {
  int fd = -1;
  std::uint64_t inode = 0;
  std::string target;  // readlink of /proc/<pid>/fd/<fd>
};

/// The descriptors of `pid` that name a memfd ("/memfd:…") or a socket ("socket:[…]").
/// Sets `ec` (EACCES when not ours to inspect, ENOENT when the process is gone).
std::vector<open_file> interesting_fds(pid_t pid, std::error_code& ec);

/// Opens `pid`'s descriptor `fd` read-only through /proc/<pid>/fd/<fd>; -1 with `ec` set.
int open_descriptor(pid_t pid, int fd, std::error_code& ec);

/// A Unix socket bound to an abstract name (a line of /proc/net/unix).
struct unix_socket {
  std::uint64_t inode = 0;
  bool listening = false;
  std::string name;  // without the leading '@'
};

/// The abstract-named Unix sockets of the network namespace whose names start with `prefix`.
std::vector<unix_socket> abstract_sockets(const std::string& prefix, std::error_code& ec);

}  // namespace seam::tool
