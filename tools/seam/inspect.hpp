#pragma once
// What the `seam` tool learns about processes and their arenas, gathered once per command:
// which memfds each process maps or holds, and, for each, what the arena's own header says
// (opened read-only through /proc/<pid>/fd/<n> with seam::arena_view, which checks it).

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "seam/arena/arena_view.hpp"

namespace seam::tool {

/// How one process uses one arena.
struct arena_use {
  pid_t pid = 0;
  bool mapped = false;
  bool writable = false;  // mapped read-write: the owner (or a shared writer)
  int fd = -1;            // a descriptor of it in that process, or -1
  /// "owner", "reader", or "holds fd" (not mapped).
  const char* role() const { return !mapped ? "holds fd" : writable ? "owner" : "reader"; }
};

/// One memfd that some inspected process maps or holds, and what it is.
struct arena_info {
  std::uint64_t inode = 0;
  std::string name;            // memfd name
  bool is_arena = false;       // arena_view opened it: a sealed Seam arena
  std::string why_not;         // when !is_arena: why it could not be checked
  std::uint64_t id = 0;        // the arena's id
  std::uint64_t capacity = 0;  // bytes
  std::uint64_t resident = 0;  // bytes of memory the memfd holds now
  std::optional<published_arena_stats> stats;
  std::string stats_error;  // when the stats page could not be read
  std::vector<named_object_info> names;
  std::string names_error;  // when the directory of named objects did not hold up
  std::vector<arena_use> users;
};

/// One inspected process.
struct process_info {
  pid_t pid = 0;
  std::string command;
  std::string error;                  // empty when inspected; else why not (`describe_error`)
  std::vector<std::uint64_t> arenas;  // inodes, into `inspection::arenas`
};

/// Everything a command shows.
struct inspection {
  std::vector<process_info> processes;
  std::map<std::uint64_t, arena_info> arenas;  // by inode
};

/// Inspects `pids`. Processes that cannot be read are kept, with `error` set. Memfds that are
/// not Seam arenas are dropped when a descriptor proved it; those no process holds a
/// descriptor of are kept with `is_arena` false and `why_not` set.
inspection inspect(const std::vector<pid_t>& pids);

/// "permission denied (another user's process?)" for EACCES and EPERM, "no such process"
/// for ENOENT and ESRCH, else the system's message.
std::string describe_error(const std::error_code& ec);

}  // namespace seam::tool
